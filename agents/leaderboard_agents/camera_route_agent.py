"""A leaderboard agent with a front camera (SENSORS track): drives the route like `route_follower_agent`
(BasicAgent along the global plan, reading the ego from CarlaDataProvider) while its rgb camera sees the
world — in a reconstructed scene, the Gaussian rendering. A camera agent for trying the evaluator on scenes;
its control does not use the images.
"""
from __future__ import annotations

from leaderboard.autoagents import autonomous_agent
from route_follower_agent import RouteFollowerAgent

FRONT_CAMERA = {"type": "sensor.camera.rgb", "x": 1.3, "y": 0.0, "z": 1.65, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
                "width": 320, "height": 128, "fov": 90, "id": "front"}


def get_entry_point() -> str:
    """The agent class the evaluator instantiates."""
    return "CameraRouteAgent"


class CameraRouteAgent(RouteFollowerAgent):
    """RouteFollowerAgent with a front rgb camera and a speedometer (SENSORS track)."""

    def setup(self, path_to_conf_file: str) -> None:
        """As RouteFollowerAgent, on the SENSORS track."""
        super().setup(path_to_conf_file)
        self.track = autonomous_agent.Track.SENSORS

    def sensors(self) -> list[dict]:
        """A front camera and the speedometer."""
        return [dict(FRONT_CAMERA), {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"}]
