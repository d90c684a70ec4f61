"""A leaderboard camera agent kept small for tests: a 64x32 front camera and a speedometer; it creeps forward."""
import carla
from leaderboard.autoagents import autonomous_agent


def get_entry_point():
    return "SmallCameraAgent"


class SmallCameraAgent(autonomous_agent.AutonomousAgent):
    def setup(self, path_to_conf_file):
        self.track = autonomous_agent.Track.SENSORS

    def sensors(self):
        return [
            {"type": "sensor.camera.rgb", "x": 1.3, "y": 0.0, "z": 1.65, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
             "width": 64, "height": 32, "fov": 90, "id": "front"},
            {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"},
        ]

    def run_step(self, input_data, timestamp):
        assert input_data["front"][1].shape == (32, 64, 4)
        speed = input_data["speed"][1]["speed"]
        return carla.VehicleControl(throttle=0.5 if speed < 2.0 else 0.0, brake=0.0, steer=0.0)
