"""The camera student's observation: only what a leaderboard agent's declared sensors give.

Sensors: the front rgb camera (low resolution, `env.FrontCamera`'s mount), the speedometer, the IMU (compass; the
acceleration and yaw rate over the last decision) and the GNSS, read against the route the leaderboard hands the
agent. The state part is `STUDENT_LAYOUT`: the ego slots (speed, acceleration, yaw rate, last anchor) and the route
slots (offset and heading error to the route, the route's target speed, route points 5-30 m ahead in the ego frame,
the navigation command) of `observations.state_layout` - no slot of another actor. Everything about the other cars
reaches the student through the image only.

In the env the student's state is cut out of the privileged vector by slot name (the ego and route slots do not
depend on the actors); a leaderboard agent computes the same slots from its sensors with `sensor_state`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.observations import EgoState, state_layout, state_vector

STUDENT_LAYOUT: tuple[str, ...] = state_layout(0)  # ego + route slots, no actor slots
SENSORS = ("sensor.camera.rgb", "sensor.speedometer", "sensor.other.imu", "sensor.other.gnss")
OBSERVATION_KIND = "camera_student"


def student_slots(layout: tuple[str, ...] | list[str]) -> np.ndarray:
    """Indices of `STUDENT_LAYOUT`'s slots in a privileged layout; InputError when one is missing."""
    position = {name: i for i, name in enumerate(layout)}
    missing = [name for name in STUDENT_LAYOUT if name not in position]
    if missing:
        raise InputError(f"the state layout lacks the student's slots {', '.join(missing)}")
    return np.array([position[name] for name in STUDENT_LAYOUT], dtype=np.int64)


def student_observation(observation: dict[str, np.ndarray], slots: np.ndarray) -> dict[str, np.ndarray]:
    """{'state': the sensor-legal slots, 'camera': the front image} of an env observation (camera mode)."""
    if "camera" not in observation:
        raise InputError("the camera student needs env.observation: camera (the env gave no 'camera' image)")
    state = np.asarray(observation["state"])
    return {"state": np.ascontiguousarray(state[..., slots]), "camera": np.asarray(observation["camera"])}


def sensor_state(speed: float, acceleration: float, yaw_rate: float, xy: np.ndarray, yaw: float,
                 last_action: tuple[float, float], route: ReferenceLine, target_speed: float) -> np.ndarray:
    """The student's state vector from sensor readings: speedometer speed (m/s), acceleration (m/s²) and yaw rate
    (rad/s) over the last decision, GNSS position (world m) and compass heading (rad, CARLA yaw), the last anchor,
    and the route the leaderboard handed the agent (float32, `STUDENT_LAYOUT`)."""
    ego = EgoState(np.asarray(xy, dtype=float), float(yaw), float(speed), float(acceleration), float(yaw_rate),
                   last_action)
    return state_vector(ego, route, target_speed, 0, [], 0, 1.0)


def student_interface(env: Any) -> dict[str, Any]:
    """What a student checkpoint must match: its state layout, the camera image and the env's anchor grid."""
    grid = env.grid
    camera = env.observation_space.spaces.get("camera")
    if camera is None:
        raise InputError("the camera student needs env.observation: camera")
    height, width = camera.shape[:2]
    return {"state_layout": list(STUDENT_LAYOUT), "images": {"camera": [3, int(height), int(width)]},
            "action": {"kind": env.settings.action, "lateral_bins": grid.lateral_bins,
                       "longitudinal_bins": grid.longitudinal_bins, "lateral_max": grid.lateral_max,
                       "longitudinal_max": grid.longitudinal_max, "horizon": grid.horizon},
            "observation": OBSERVATION_KIND, "sensors": list(SENSORS)}
