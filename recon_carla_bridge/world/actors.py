"""CARLA actor classes over our state: `carla.Actor`/`Vehicle`/`Walker`/`Sensor` subclasses.

Each facade holds the world and its actor id and reads/writes the `ActorState` record. The base
`carla` methods cannot run without a server, so every method real code calls is defined here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.geometry import from_transform, pose_matrix, to_transform, vector3d
from recon_carla_bridge.world.state import ActorState
from recon_carla_bridge.world.traffic_lights import waypoints_under_trigger
from recon_carla_bridge.world.value_guards import (MAX_ANGULAR_DEG_S, MAX_SPEED_MPS, check_pose, check_speed,
                                                   finite_vector, vector_of)

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.simulation import Simulation
    from recon_carla_bridge.world.world import World

DEFAULT_SPEED_LIMIT_KMH = 30.0  # CARLA towns' urban limit when the road states none
MAX_IMPULSE_NS = 1e9  # N·s: any larger impulse (or force × dt) is a bug, whatever the actor's mass
MAX_FORCE_N = 1e10


def _finite_transform(transform: carla.Transform, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(transform, carla.Transform):
        raise InputError(f"{what}: expected a carla.Transform, got {type(transform).__name__}")
    location, rotation = from_transform(transform)
    check_pose(location, rotation, what)
    return location, rotation


def _vector(value: Any, what: str, limit: float, unit: str) -> np.ndarray:
    return finite_vector(vector_of(value, what), what, limit, unit)


class _ActorFacade:
    """Behaviour shared by every actor facade; mixed in before the `carla` base class."""

    _world: "World"
    _actor_id: int

    def _bind(self, world: "World", actor_id: int) -> None:
        self._world = world
        self._actor_id = actor_id

    # -- identity -------------------------------------------------------------------------
    @property
    def _sim(self) -> "Simulation":
        return self._world._simulation

    @property
    def _state(self) -> ActorState:
        return self._sim.state_of(self._actor_id)

    @property
    def id(self) -> int:
        """Actor id, unique in the world."""
        return self._actor_id

    @property
    def type_id(self) -> str:
        """Blueprint id the actor was spawned from."""
        return self._sim.state_of(self._actor_id, allow_dead=True).type_id

    @property
    def attributes(self) -> dict[str, str]:
        """Blueprint attributes at spawn time."""
        return dict(self._sim.state_of(self._actor_id, allow_dead=True).attributes)

    @property
    def is_alive(self) -> bool:
        """False once destroyed."""
        return self._sim.is_alive(self._actor_id)

    @property
    def is_active(self) -> bool:
        """Alive and simulated (there is no dormancy here)."""
        return self.is_alive

    @property
    def is_dormant(self) -> bool:
        """Never dormant: every actor is simulated each tick."""
        return False

    @property
    def actor_state(self) -> carla.ActorState:
        """carla.ActorState.Active or Invalid."""
        return carla.ActorState.Active if self.is_alive else carla.ActorState.Invalid

    @property
    def parent(self) -> "carla.Actor | None":
        """The actor this one is attached to, or None."""
        parent_id = self._sim.state_of(self._actor_id, allow_dead=True).parent_id
        return None if parent_id is None else self._world.get_actor(parent_id)

    @property
    def semantic_tags(self) -> list[int]:
        """CARLA semantic tags of the actor (Car 14, Truck 15, Pedestrian 12, …)."""
        return self._sim.semantic_tags(self._actor_id)

    @property
    def bounding_box(self) -> carla.BoundingBox:
        """Bounding box in the actor frame."""
        state = self._sim.state_of(self._actor_id, allow_dead=True)
        return carla.BoundingBox(
            carla.Location(*map(float, state.box_center)), carla.Vector3D(*map(float, state.half_extents))
        )

    def get_world(self) -> "World":
        """The world the actor lives in."""
        return self._world

    # -- pose and motion --------------------------------------------------------------------
    def get_transform(self) -> carla.Transform:
        """World transform at the last tick (or as last set)."""
        state = self._sim.state_of(self._actor_id, allow_dead=True)
        return to_transform(state.location, state.rotation)

    def get_location(self) -> carla.Location:
        """World location."""
        loc = self._sim.state_of(self._actor_id, allow_dead=True).location
        return carla.Location(float(loc[0]), float(loc[1]), float(loc[2]))

    def get_velocity(self) -> carla.Vector3D:
        """World velocity in m/s."""
        return vector3d(self._sim.state_of(self._actor_id, allow_dead=True).velocity)

    def get_angular_velocity(self) -> carla.Vector3D:
        """Angular velocity in deg/s."""
        return vector3d(self._sim.state_of(self._actor_id, allow_dead=True).angular_velocity)

    def get_acceleration(self) -> carla.Vector3D:
        """World acceleration in m/s²."""
        return vector3d(self._sim.state_of(self._actor_id, allow_dead=True).acceleration)

    def set_transform(self, transform: carla.Transform) -> None:
        """Teleport (applied immediately, as CARLA applies it at the next tick)."""
        location, rotation = _finite_transform(transform, f"actor {self._actor_id} set_transform")
        self._sim.take_over(self._actor_id)
        self._sim.teleport(self._actor_id, location, rotation)

    def set_location(self, location: carla.Location) -> None:
        """Teleport keeping the rotation."""
        state = self._state
        value = _vector(location, f"actor {self._actor_id} set_location", math.inf, "m")
        self.set_transform(to_transform(value, state.rotation))

    def set_simulate_physics(self, enabled: bool = True) -> None:
        """With physics off the actor only moves by set_transform."""
        if enabled:
            self._sim.take_over(self._actor_id)
        state = self._state
        was_simulated, state.simulate_physics = state.simulate_physics, bool(enabled)
        state.road_snap_location = None  # settle onto the road again once physics runs
        if enabled and not was_simulated:
            self._sim.settle(self._actor_id)
        elif not enabled:
            state.velocity = np.zeros(3)
            state.speed = 0.0

    def set_enable_gravity(self, enabled: bool = True) -> None:
        """Kept for API compatibility: actors always rest on the road surface."""
        self._state.enable_gravity = bool(enabled)

    def set_target_velocity(self, velocity: carla.Vector3D) -> None:
        """Set the world velocity (m/s); used by the next tick."""
        value = _vector(velocity, f"actor {self._actor_id} set_target_velocity", MAX_SPEED_MPS, "m/s")
        self._sim.take_over(self._actor_id)
        self._state.target_velocity = value

    def set_target_angular_velocity(self, angular_velocity: carla.Vector3D) -> None:
        """Set the angular velocity (deg/s); used by the next tick."""
        value = _vector(angular_velocity, f"actor {self._actor_id} set_target_angular_velocity", MAX_ANGULAR_DEG_S, "deg/s")
        self._state.target_angular_velocity = value

    def enable_constant_velocity(self, velocity: carla.Vector3D) -> None:
        """Hold this velocity (m/s, actor frame) until disabled."""
        value = _vector(velocity, f"actor {self._actor_id} enable_constant_velocity", MAX_SPEED_MPS, "m/s")
        self._sim.take_over(self._actor_id)
        self._state.constant_velocity = value

    def disable_constant_velocity(self) -> None:
        """Stop holding a constant velocity."""
        self._state.constant_velocity = None

    def add_impulse(self, impulse: carla.Vector3D) -> None:
        """Change velocity by impulse / mass (N·s)."""
        what = f"actor {self._actor_id} add_impulse"
        value = _vector(impulse, what, MAX_IMPULSE_NS, "N·s")
        state = self._state
        if math.isfinite(state.mass):
            velocity = state.velocity + value / state.mass
            check_speed(velocity, what)
            state.velocity = velocity
            state.speed = float(np.dot(state.velocity[:2], [math.cos(state.yaw_rad), math.sin(state.yaw_rad)]))

    def add_force(self, force: carla.Vector3D) -> None:
        """Apply a force (N) for one tick."""
        value = _vector(force, f"actor {self._actor_id} add_force", MAX_FORCE_N, "N")
        dt = self._sim.clock.delta_seconds
        self.add_impulse(carla.Vector3D(*(float(v) * dt for v in value)))

    def add_angular_impulse(self, angular_impulse: carla.Vector3D) -> None:
        """Checked, then ignored: rotation responds only to steering in the kinematic model."""
        _vector(angular_impulse, f"actor {self._actor_id} add_angular_impulse", MAX_IMPULSE_NS, "N·m·s")

    def add_torque(self, torque: carla.Vector3D) -> None:
        """Checked, then ignored: rotation responds only to steering in the kinematic model."""
        _vector(torque, f"actor {self._actor_id} add_torque", MAX_FORCE_N, "N·m")

    def destroy(self) -> bool:
        """Remove the actor (and stop its sensor); True if it was alive."""
        return self._sim.destroy(self._actor_id)

    def get_matrix(self) -> np.ndarray:
        """4x4 world_from_actor (numpy), a convenience beyond CARLA's API."""
        state = self._sim.state_of(self._actor_id, allow_dead=True)
        return pose_matrix(state.location, state.rotation)

    # -- identity semantics as CARLA: equal ids are equal actors -----------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ActorFacade) and other._actor_id == self._actor_id and other._world is self._world

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __str__(self) -> str:
        return f"Actor(id={self._actor_id}, type={self.type_id})"

    __repr__ = __str__


class Actor(_ActorFacade, carla.Actor):
    """A generic actor: static props and the spectator."""


class Vehicle(_ActorFacade, carla.Vehicle):
    """A vehicle driven by `VehicleControl` through the kinematic bicycle model."""

    def __str__(self) -> str:
        return f"Vehicle(id={self._actor_id}, type={self.type_id})"

    __repr__ = __str__

    def apply_control(self, control: carla.VehicleControl) -> None:
        """Set the control used from the next tick on; NaN/inf values are rejected."""
        if isinstance(control, carla.VehicleAckermannControl):
            self.apply_ackermann_control(control)
            return
        if not isinstance(control, carla.VehicleControl):
            raise InputError(f"vehicle {self._actor_id} apply_control: expected carla.VehicleControl, got {type(control).__name__}")
        for name in ("throttle", "steer", "brake"):
            value = getattr(control, name)
            if not math.isfinite(value):
                raise InputError(f"vehicle {self._actor_id} apply_control: control.{name} is {value} (must be finite)")
        self._sim.take_over(self._actor_id)
        self._state.vehicle_control = carla.VehicleControl(
            throttle=min(max(control.throttle, 0.0), 1.0),
            steer=min(max(control.steer, -1.0), 1.0),
            brake=min(max(control.brake, 0.0), 1.0),
            hand_brake=bool(control.hand_brake),
            reverse=bool(control.reverse),
            manual_gear_shift=bool(control.manual_gear_shift),
            gear=int(control.gear),
        )

    def get_control(self) -> carla.VehicleControl:
        """The control applied last."""
        c = self._state.vehicle_control
        return carla.VehicleControl(c.throttle, c.steer, c.brake, c.hand_brake, c.reverse, c.manual_gear_shift, c.gear)

    def apply_ackermann_control(self, control: carla.VehicleAckermannControl) -> None:
        """Track a target speed and steering angle with a simple controller (next tick on)."""
        values = (control.steer, control.steer_speed, control.speed, control.acceleration, control.jerk)
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"vehicle {self._actor_id} apply_ackermann_control: non-finite value {control}")
        if abs(control.speed) > MAX_SPEED_MPS:
            raise InputError(f"vehicle {self._actor_id} apply_ackermann_control: speed {control.speed:g} m/s is beyond {MAX_SPEED_MPS:g} m/s")
        self._sim.take_over(self._actor_id)
        self._sim.set_ackermann_target(self._actor_id, control)

    def set_autopilot(self, enabled: bool = True, tm_port: int = 8000) -> None:
        """Hand the vehicle to (or take it back from) the traffic manager on `tm_port`."""
        if enabled:
            self._sim.take_over(self._actor_id)
        self._sim.traffic_manager(tm_port).register(self._actor_id, bool(enabled))

    def get_speed_limit(self) -> float:
        """Speed limit in km/h at the vehicle (the road's, else CARLA towns' 30 km/h)."""
        return self._sim.speed_limit_at(self._actor_id)

    def get_traffic_light_state(self) -> carla.TrafficLightState:
        """State of the traffic light whose trigger volume the vehicle is in (Green when none)."""
        record = self._sim.light_at(self._actor_id)
        return record.state if record is not None else carla.TrafficLightState.Green

    def is_at_traffic_light(self) -> bool:
        """Whether the vehicle is inside a traffic light's trigger volume."""
        return self._sim.light_at(self._actor_id) is not None

    def get_traffic_light(self) -> "carla.TrafficLight | None":
        """The traffic light whose trigger volume the vehicle is in, or None."""
        record = self._sim.light_at(self._actor_id)
        return None if record is None else self._sim.facade(record.actor_id)

    def get_wheel_steer_angle(self, wheel_location: carla.VehicleWheelLocation) -> float:
        """Front wheel angle in degrees (front wheels), 0 for rear wheels."""
        front = wheel_location in (carla.VehicleWheelLocation.FL_Wheel, carla.VehicleWheelLocation.FR_Wheel,
                                   carla.VehicleWheelLocation.Front_Wheel)
        return math.degrees(self._state.steer_angle) if front else 0.0

    def set_light_state(self, light_state: carla.VehicleLightState) -> None:
        """Store the light state (rendered nowhere yet)."""
        self._state.light_state = light_state

    def get_light_state(self) -> carla.VehicleLightState:
        """The stored light state."""
        return self._state.light_state

    def get_failure_state(self) -> carla.VehicleFailureState:
        """Vehicles do not fail here."""
        return carla.VehicleFailureState.NONE

    def open_door(self, door_idx: carla.VehicleDoor) -> None:
        """Doors are not modelled."""
        del door_idx

    def close_door(self, door_idx: carla.VehicleDoor) -> None:
        """Doors are not modelled."""
        del door_idx

    def show_debug_telemetry(self, enabled: bool = True) -> None:
        """No on-screen telemetry without a renderer."""
        del enabled

    def get_physics_control(self) -> Any:
        """The kinematic spec behind the vehicle (wheelbase, limits, mass)."""
        return self._sim.vehicle_spec(self._actor_id)

    def apply_physics_control(self, physics_control: Any) -> None:
        """Accepted; the kinematic model keeps its per-blueprint limits."""
        del physics_control


class Walker(_ActorFacade, carla.Walker):
    """A pedestrian moved by `WalkerControl`."""

    def __str__(self) -> str:
        return f"Walker(id={self._actor_id}, type={self.type_id})"

    __repr__ = __str__

    def apply_control(self, control: carla.WalkerControl) -> None:
        """Walk along control.direction at control.speed (m/s) from the next tick on."""
        if not isinstance(control, carla.WalkerControl):
            raise InputError(f"walker {self._actor_id} apply_control: expected carla.WalkerControl, got {type(control).__name__}")
        direction = control.direction
        values = (direction.x, direction.y, direction.z, control.speed)
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"walker {self._actor_id} apply_control: non-finite direction or speed")
        if control.speed > MAX_SPEED_MPS:
            raise InputError(f"walker {self._actor_id} apply_control: speed {control.speed:g} m/s is beyond {MAX_SPEED_MPS:g} m/s")
        self._state.walker_control = carla.WalkerControl(
            carla.Vector3D(direction.x, direction.y, direction.z), max(0.0, control.speed), bool(control.jump)
        )

    def get_control(self) -> carla.WalkerControl:
        """The control applied last."""
        c = self._state.walker_control
        return carla.WalkerControl(carla.Vector3D(c.direction.x, c.direction.y, c.direction.z), c.speed, c.jump)


class Sensor(_ActorFacade, carla.Sensor):
    """A sensor attached to (or placed in) the world; data arrives inside `world.tick()`."""

    def __str__(self) -> str:
        return f"Sensor(id={self._actor_id}, type={self.type_id})"

    __repr__ = __str__

    def listen(self, callback: Callable[[Any], None]) -> None:
        """Call `callback(data)` with each measurement, inside the tick that produced it."""
        if not callable(callback):
            raise InputError(f"sensor {self._actor_id} listen: callback is not callable")
        self._sim.sensor_runtime(self._actor_id).callback = callback

    def stop(self) -> None:
        """Stop delivering data."""
        runtime = self._sim.sensor_runtime(self._actor_id, allow_missing=True)
        if runtime is not None:
            runtime.callback = None

    def is_listening(self) -> bool:
        """Whether a callback is registered."""
        runtime = self._sim.sensor_runtime(self._actor_id, allow_missing=True)
        return runtime is not None and runtime.callback is not None

    def enable_for_ros(self) -> None:
        """ROS publishing is not available without a server."""

    def disable_for_ros(self) -> None:
        """ROS publishing is not available without a server."""

    def is_enabled_for_ros(self) -> bool:
        """Never: no ROS bridge."""
        return False


class TrafficSign(_ActorFacade, carla.TrafficSign):
    """A traffic sign (stop sign) with its trigger volume."""

    @property
    def trigger_volume(self) -> carla.BoundingBox:
        """Trigger box in the sign's own frame."""
        return self._sim.trigger_volume(self._actor_id)

    def __str__(self) -> str:
        return f"TrafficSign(id={self._actor_id}, type={self.type_id})"

    __repr__ = __str__


class TrafficLight(_ActorFacade, carla.TrafficLight):
    """A traffic light cycling with its junction group (CARLA's default timings)."""

    @property
    def _record(self) -> Any:
        return self._sim.light_record(self._actor_id)

    @property
    def trigger_volume(self) -> carla.BoundingBox:
        """Trigger box in the light's own frame."""
        return self._sim.trigger_volume(self._actor_id)

    @property
    def state(self) -> carla.TrafficLightState:
        """Current state."""
        return self._record.state

    def get_state(self) -> carla.TrafficLightState:
        """Current state."""
        return self._record.state

    def set_state(self, state: carla.TrafficLightState) -> None:
        """Force a state (the cycle continues from it unless frozen)."""
        record = self._record
        record.state, record.elapsed = state, 0.0

    def get_green_time(self) -> float:
        """Seconds green."""
        return self._record.green_time

    def set_green_time(self, green_time: float) -> None:
        """Seconds green."""
        self._record.green_time = _duration(green_time, f"traffic light {self._actor_id} set_green_time")

    def get_yellow_time(self) -> float:
        """Seconds yellow."""
        return self._record.yellow_time

    def set_yellow_time(self, yellow_time: float) -> None:
        """Seconds yellow."""
        self._record.yellow_time = _duration(yellow_time, f"traffic light {self._actor_id} set_yellow_time")

    def get_red_time(self) -> float:
        """Seconds of the all-red gap."""
        return self._record.red_time

    def set_red_time(self, red_time: float) -> None:
        """Seconds of the all-red gap."""
        self._record.red_time = _duration(red_time, f"traffic light {self._actor_id} set_red_time")

    def get_elapsed_time(self) -> float:
        """Seconds since the current state began."""
        return self._record.elapsed

    def freeze(self, freeze: bool) -> None:
        """Stop (or resume) the cycle of this light's group."""
        self._record.frozen = bool(freeze)

    def is_frozen(self) -> bool:
        """Whether the cycle is stopped."""
        return self._record.frozen

    def get_pole_index(self) -> int:
        """Index of this light in its group."""
        record = self._record
        return record.group.index(self._actor_id) if self._actor_id in record.group else 0

    def get_group_traffic_lights(self) -> list["TrafficLight"]:
        """Every light cycling with this one (itself included)."""
        return [self._sim.facade(i) for i in self._record.group]

    def reset_group(self) -> None:
        """Restart the group's cycle with its first light green."""
        self._sim.reset_light_group(self._actor_id)

    def get_opendrive_id(self) -> str:
        """The OpenDRIVE signal id."""
        return self._record.opendrive_id

    def get_affected_lane_waypoints(self) -> list[carla.Waypoint]:
        """Waypoints of the lanes this light controls, at its stop line."""
        return list(self._record.lane_waypoints)

    def get_stop_waypoints(self) -> list[carla.Waypoint]:
        """One waypoint per lane under the trigger volume, on the incoming lanes before the stop line (as CARLA)."""
        return waypoints_under_trigger(self._sim.map, self._record)

    def get_light_boxes(self) -> list[carla.BoundingBox]:
        """The light head's box at the pole (world frame)."""
        loc = self._record.transform.location
        return [carla.BoundingBox(carla.Location(loc.x, loc.y, loc.z + 5.0), carla.Vector3D(0.3, 0.3, 0.6))]

    def __str__(self) -> str:
        return f"TrafficLight(id={self._actor_id}, opendrive_id={self._record.opendrive_id}, state={self._record.state})"

    __repr__ = __str__


def _duration(value: Any, what: str) -> float:
    """Seconds of a light phase: finite and not negative, else InputError."""
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0.0 or seconds > 1e6:
        raise InputError(f"{what}: {value!r} s must be finite and in [0, 1e6]")
    return seconds
