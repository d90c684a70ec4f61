"""The leaderboard's sensor-suite rules: allowed types, per-type limits, the 3 m mounting radius, the track."""
from __future__ import annotations

import math
from typing import Any

from recon_carla_bridge.leaderboard.api.autoagents.autonomous_agent import Track
from recon_carla_bridge.leaderboard.api.envs.sensor_interface import (
    SensorConfigurationInvalid,
)

MAX_ALLOWED_RADIUS_SENSOR = 3.0  # m from the vehicle origin
QUALIFIER_SENSORS_LIMITS = {
    "sensor.camera.rgb": 4,
    "sensor.lidar.ray_cast": 1,
    "sensor.other.radar": 2,
    "sensor.other.gnss": 1,
    "sensor.other.imu": 1,
    "sensor.opendrive_map": 1,
    "sensor.speedometer": 1,
}
SENSORS_LIMITS = {
    "sensor.camera.rgb": 8,
    "sensor.lidar.ray_cast": 2,
    "sensor.other.radar": 4,
    "sensor.other.gnss": 1,
    "sensor.other.imu": 1,
    "sensor.opendrive_map": 1,
    "sensor.speedometer": 1,
}
ALLOWED_SENSORS = tuple(SENSORS_LIMITS)
REQUIRED_KEYS = {
    "sensor.camera.rgb": ("x", "y", "z", "roll", "pitch", "yaw", "width", "height", "fov"),
    "sensor.lidar.ray_cast": ("x", "y", "z", "roll", "pitch", "yaw"),
    "sensor.other.radar": ("x", "y", "z", "roll", "pitch", "yaw", "horizontal_fov", "vertical_fov"),
    "sensor.other.gnss": ("x", "y", "z"),
    "sensor.other.imu": ("x", "y", "z", "roll", "pitch", "yaw"),
    "sensor.opendrive_map": (),
    "sensor.speedometer": (),
}


class AgentError(Exception):
    """The agent failed while driving (raised, hung or returned something that is not a control)."""


def _as_track(value: Any) -> Track:
    if isinstance(value, Track):
        return value
    try:
        return Track(str(value))
    except ValueError as error:
        raise SensorConfigurationInvalid(f"Unknown track {value!r}; use one of {[t.value for t in Track]}") from error


def validate_sensor_configuration(sensors: Any, agent_track: Any, selected_track: Any) -> None:
    """Raise SensorConfigurationInvalid unless `sensors` follow the leaderboard rules for `selected_track`."""
    agent_track = _as_track(agent_track)
    if _as_track(selected_track) != agent_track:
        raise SensorConfigurationInvalid(f"You are submitting to the wrong track [{_as_track(selected_track)}]!")
    if not isinstance(sensors, (list, tuple)):
        raise SensorConfigurationInvalid(f"sensors() must return a list of dicts, got {type(sensors).__name__}")
    counts: dict[str, int] = {}
    seen_ids: set[str] = set()
    for index, sensor in enumerate(sensors):
        if not isinstance(sensor, dict) or "type" not in sensor or "id" not in sensor:
            raise SensorConfigurationInvalid(f"sensors()[{index}] must be a dict with 'type' and 'id', got {sensor!r}")
        sensor_id, sensor_type = sensor["id"], sensor["type"]
        if sensor_id in seen_ids:
            raise SensorConfigurationInvalid(f"Duplicated sensor tag [{sensor_id}]")
        seen_ids.add(sensor_id)
        if agent_track in (Track.SENSORS, Track.SENSORS_QUALIFIER) and str(sensor_type).startswith("sensor.opendrive_map"):
            raise SensorConfigurationInvalid(f"Illegal sensor 'sensor.opendrive_map' used for Track [{agent_track}]!")
        if sensor_type not in ALLOWED_SENSORS:
            raise SensorConfigurationInvalid(f"Illegal sensor '{sensor_type}' used for Track [{agent_track}]!")
        missing = [key for key in REQUIRED_KEYS[sensor_type] if key not in sensor]
        if missing:
            raise SensorConfigurationInvalid(f"Sensor '{sensor_id}' ({sensor_type}) lacks the keys {missing}")
        if all(key in sensor for key in ("x", "y", "z")):
            radius = math.sqrt(float(sensor["x"]) ** 2 + float(sensor["y"]) ** 2 + float(sensor["z"]) ** 2)
            if radius > MAX_ALLOWED_RADIUS_SENSOR:
                raise SensorConfigurationInvalid(
                    f"Illegal sensor extrinsics used for sensor '{sensor_id}'. "
                    f"Max allowed radius is {MAX_ALLOWED_RADIUS_SENSOR}m")
        counts[sensor_type] = counts.get(sensor_type, 0) + 1
    limits = QUALIFIER_SENSORS_LIMITS if agent_track in (Track.SENSORS_QUALIFIER, Track.MAP_QUALIFIER) else SENSORS_LIMITS
    for sensor_type, limit in limits.items():
        if counts.get(sensor_type, 0) > limit:
            raise SensorConfigurationInvalid(
                f"Too many {sensor_type} used! Maximum number allowed is {limit}, "
                f"but {counts[sensor_type]} were requested.")
