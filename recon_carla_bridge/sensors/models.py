"""Sensor models: each turns the world state of one tick into a CARLA measurement.

A model is built once per spawned sensor from its blueprint attributes (`build_sensor_model`) and
asked `measure(ctx)` at every tick the sensor is due; it returns the data to deliver or None.
Camera models are rendered in one batch per tick by the simulation (see camera.py).
"""
from __future__ import annotations

import abc

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.sensors.data import CollisionEvent, GenericMeasurement, GnssMeasurement, IMUMeasurement, LaneInvasionEvent


class SensorWorld(Protocol):
    """What a sensor model may ask of the world it measures (the simulation implements it)."""

    map: carla.Map

    def facade(self, actor_id: int) -> carla.Actor:
        """The CARLA actor object of an id."""
        ...

GRAVITY = 9.81  # m/s²


@dataclass
class SensorContext:
    """What a sensor model may read at one tick."""

    sim: SensorWorld
    sensor: Any  # the sensor's own state record (location (3,) m, rotation (3,) deg pitch/yaw/roll, …), pose updated
    parent: Any  # the parent's state record (also velocity, acceleration, angular_velocity, half_extents), or None
    frame: int
    timestamp: float
    contacts: Any  # this tick's contacts: `.started`, those that began (actor_a, actor_b, normal (3,), impulse)

    @property
    def transform(self) -> carla.Transform:
        """Sensor world transform."""
        (x, y, z), (pitch, yaw, roll) = (float(v) for v in self.sensor.location), (float(v) for v in self.sensor.rotation)
        return carla.Transform(carla.Location(x, y, z), carla.Rotation(pitch=pitch, yaw=yaw, roll=roll))


class SensorModel(abc.ABC):
    """Base of sensor models: holds the attributes, validates them, measures on demand."""

    is_camera = False

    def __init__(self, type_id: str, attributes: dict[str, str]):
        self.type_id = type_id
        self.attributes = attributes
        self.sensor_tick = self._float("sensor_tick", minimum=0.0)

    def _float(self, name: str, minimum: float | None = None, maximum: float | None = None) -> float:
        raw = self.attributes.get(name)
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(f"{self.type_id}: attribute '{name}' = {raw!r} is not a number") from None
        if not math.isfinite(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise InputError(f"{self.type_id}: attribute '{name}' = {raw} is outside [{minimum}, {maximum}]")
        return value

    @abc.abstractmethod
    def measure(self, ctx: SensorContext) -> Any | None:
        """Return this tick's measurement, or None when there is nothing to deliver."""


class CollisionSensorModel(SensorModel):
    """`sensor.other.collision`: one event per new contact of the parent with another actor."""

    def measure(self, ctx: SensorContext) -> list[CollisionEvent] | None:
        """Events for contacts that began this tick (a list: one callback per event)."""
        if ctx.parent is None:
            return None
        events = []
        parent_id = ctx.parent.actor_id
        for contact in ctx.contacts.started:
            if parent_id not in (contact.actor_a, contact.actor_b):
                continue
            other = contact.actor_b if contact.actor_a == parent_id else contact.actor_a
            sign = 1.0 if contact.actor_b == parent_id else -1.0  # impulse received by the parent
            impulse = contact.normal * contact.impulse * sign
            events.append(
                CollisionEvent(
                    ctx.frame, ctx.timestamp, ctx.transform,
                    ctx.sim.facade(parent_id), ctx.sim.facade(other),
                    carla.Vector3D(float(impulse[0]), float(impulse[1]), float(impulse[2])),
                )
            )
        return events or None


class LaneInvasionSensorModel(SensorModel):
    """`sensor.other.lane_invasion`: markings crossed by the parent's box corners since the last tick."""

    def __init__(self, type_id: str, attributes: dict[str, str]):
        super().__init__(type_id, attributes)
        self._previous: list[carla.Waypoint | None] | None = None

    def measure(self, ctx: SensorContext) -> LaneInvasionEvent | None:
        """An event listing the lane markings crossed this tick."""
        if ctx.parent is None:
            return None
        parent = ctx.parent
        cos, sin = math.cos(math.radians(parent.rotation[1])), math.sin(math.radians(parent.rotation[1]))
        rot = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])  # yaw only: corners on the road
        ex, ey = parent.half_extents[0], parent.half_extents[1]
        corners = [parent.location + rot @ np.array([sx * ex, sy * ey, 0.0]) for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]
        wmap = ctx.sim.map
        current = [
            wmap.get_waypoint(carla.Location(float(c[0]), float(c[1]), float(c[2])), project_to_road=False,
                              lane_type=carla.LaneType.Any)
            for c in corners
        ]
        previous, self._previous = self._previous, current
        if previous is None:
            return None
        crossed: list[carla.LaneMarking] = []
        seen: set[tuple[int, int, int, str]] = set()
        for before, after in zip(previous, current):
            marking = _crossed_marking(before, after)
            if marking is None:
                continue
            key = (before.road_id, before.section_id, before.lane_id, "L" if marking is before.left_lane_marking else "R")
            if key not in seen:
                seen.add(key)
                crossed.append(marking)
        if not crossed:
            return None
        return LaneInvasionEvent(ctx.frame, ctx.timestamp, ctx.transform, ctx.sim.facade(parent.actor_id), crossed)


def _crossed_marking(before: carla.Waypoint | None, after: carla.Waypoint | None) -> carla.LaneMarking | None:
    if before is None or after is None:
        return None
    if before.road_id != after.road_id or before.lane_id == after.lane_id:
        return None
    left, right = before.get_left_lane(), before.get_right_lane()
    if left is not None and left.road_id == after.road_id and left.lane_id == after.lane_id:
        return before.left_lane_marking
    if right is not None and right.road_id == after.road_id and right.lane_id == after.lane_id:
        return before.right_lane_marking
    # Jumped more than one lane in a tick: report the marking on the side it moved to.
    moved_left = (abs(after.lane_id) < abs(before.lane_id)) if before.lane_id * after.lane_id > 0 else True
    return before.left_lane_marking if moved_left else before.right_lane_marking


class _NoisyModel(SensorModel):
    def __init__(self, type_id: str, attributes: dict[str, str]):
        super().__init__(type_id, attributes)
        self._rng = np.random.default_rng(int(self._float("noise_seed", minimum=0.0)))

    def _noise(self, stddev_name: str, bias_name: str | None = None) -> float:
        stddev = self._float(stddev_name, minimum=0.0)
        bias = self._float(bias_name) if bias_name else 0.0
        return bias + (float(self._rng.normal(0.0, stddev)) if stddev > 0.0 else 0.0)


class GnssSensorModel(_NoisyModel):
    """`sensor.other.gnss`: latitude/longitude/altitude from the map's geoReference, with CARLA's noise attributes."""

    def measure(self, ctx: SensorContext) -> GnssMeasurement:
        """Geolocation of the sensor."""
        loc = ctx.sensor.location
        # carla 0.9.16's client-side Map.transform_to_geolocation does not undo CARLA's y flip (north is
        # -y in CARLA); the server's GNSS sensor, the IMU compass and leaderboard GPS routes all use
        # north = -y, so flip y here to match them.
        geo = ctx.sim.map.transform_to_geolocation(carla.Location(float(loc[0]), float(-loc[1]), float(loc[2])))
        return GnssMeasurement(
            ctx.frame, ctx.timestamp, ctx.transform,
            geo.latitude + self._noise("noise_lat_stddev", "noise_lat_bias"),
            geo.longitude + self._noise("noise_lon_stddev", "noise_lon_bias"),
            geo.altitude + self._noise("noise_alt_stddev", "noise_alt_bias"),
        )


class ImuSensorModel(_NoisyModel):
    """`sensor.other.imu`: specific force (gravity included) and angular rate in the sensor frame, compass."""

    def measure(self, ctx: SensorContext) -> IMUMeasurement:
        """Acceleration (m/s²), angular velocity (rad/s), compass (rad, north = 0)."""
        body = ctx.parent if ctx.parent is not None else ctx.sensor
        world_from_sensor = np.array(ctx.transform.get_matrix(), dtype=float)[:3, :3]
        specific_force_world = body.acceleration + np.array([0.0, 0.0, GRAVITY])
        accel = world_from_sensor.T @ specific_force_world
        gyro = world_from_sensor.T @ np.radians(body.angular_velocity)
        accel += np.array([self._noise(f"noise_accel_stddev_{axis}") for axis in "xyz"])
        gyro += np.array([self._noise(f"noise_gyro_stddev_{axis}", f"noise_gyro_bias_{axis}") for axis in "xyz"])
        compass = (math.radians(ctx.sensor.rotation[1]) + math.pi / 2.0) % (2.0 * math.pi)
        return IMUMeasurement(
            ctx.frame, ctx.timestamp, ctx.transform,
            carla.Vector3D(*map(float, accel)), carla.Vector3D(*map(float, gyro)), compass,
        )


class SpeedometerModel(SensorModel):
    """The leaderboard's `sensor.speedometer`: {'speed': forward speed of the parent in m/s}."""

    def measure(self, ctx: SensorContext) -> GenericMeasurement:
        """Signed forward speed."""
        body = ctx.parent if ctx.parent is not None else ctx.sensor
        yaw = math.radians(body.rotation[1])
        pitch = math.radians(body.rotation[0])
        forward = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), math.sin(pitch)])
        return GenericMeasurement(ctx.frame, ctx.timestamp, ctx.transform, {"speed": float(np.dot(body.velocity, forward))})


class OpenDriveMapModel(SensorModel):
    """The leaderboard's `sensor.opendrive_map`: {'opendrive': the map's OpenDRIVE text}."""

    def measure(self, ctx: SensorContext) -> GenericMeasurement:
        """The OpenDRIVE text of the loaded map."""
        return GenericMeasurement(ctx.frame, ctx.timestamp, ctx.transform, {"opendrive": ctx.sim.map.to_opendrive()})


@dataclass
class SensorRuntime:
    """A spawned sensor's model, its delivery callback and its schedule."""

    model: SensorModel
    callback: Callable[[Any], None] | None = None
    next_time: float = 0.0  # s, earliest simulation time of the next measurement
    errors: list[str] = field(default_factory=list)  # callback failures, kept for the user

    def due(self, elapsed: float) -> bool:
        """Whether the sensor measures at this time (sensor_tick 0 = every tick)."""
        return elapsed + 1e-9 >= self.next_time

    def advance(self, elapsed: float) -> None:
        """Schedule the next measurement."""
        self.next_time = elapsed + self.model.sensor_tick if self.model.sensor_tick > 0 else elapsed


_MODELS: dict[str, type[SensorModel]] = {
    "sensor.other.collision": CollisionSensorModel,
    "sensor.other.lane_invasion": LaneInvasionSensorModel,
    "sensor.other.gnss": GnssSensorModel,
    "sensor.other.imu": ImuSensorModel,
    "sensor.speedometer": SpeedometerModel,
    "sensor.opendrive_map": OpenDriveMapModel,
}


def register_sensor_model(type_id: str, model: type[SensorModel]) -> None:
    """Add a sensor model for a blueprint id (cameras register themselves in camera.py)."""
    _MODELS[type_id] = model


def build_sensor_model(type_id: str, attributes: dict[str, str]) -> SensorModel:
    """The model for a sensor blueprint; InputError naming the blueprint when none exists."""
    if type_id.startswith("sensor.camera."):
        from recon_carla_bridge.sensors import camera  # noqa: F401  (registers camera models)
    try:
        model_class = _MODELS[type_id]
    except KeyError:
        raise InputError(f"sensor '{type_id}' has no implementation in this world (have: {', '.join(sorted(_MODELS))})") from None
    return model_class(type_id, attributes)
