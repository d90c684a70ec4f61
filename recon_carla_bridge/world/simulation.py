"""The simulation engine behind the CARLA facade: actors' state, the tick, collisions, sensors.

`Simulation.step()` is the one place where time advances:
  1. traffic managers and Ackermann controllers turn goals into VehicleControls,
  2. vehicles and walkers move (kinematics.py), vehicles rest on the road surface,
  3. attached actors follow their parents,
  4. boxes are tested for collisions (collisions.py) and pushed apart with an impulse,
  5. sensors that are due measure, and their callbacks run — inside the tick of their frame,
  6. the snapshot is taken and on_tick callbacks run.
"""
from __future__ import annotations

import math
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.sensors.camera import CameraBackend, CameraModel, DrawnActor, RenderSnapshot
from recon_carla_bridge.sensors.data import Image
from recon_carla_bridge.sensors.delivery import SensorDelivery
from recon_carla_bridge.sensors.models import SensorContext, SensorRuntime, build_sensor_model
from recon_carla_bridge.world import collisions, friction, kinematics
from recon_carla_bridge.world import traffic_lights
from recon_carla_bridge.world.actors import (DEFAULT_SPEED_LIMIT_KMH, Actor, Sensor, TrafficLight, TrafficSign, Vehicle,
                                             Walker, _ActorFacade)
from recon_carla_bridge.world.blueprint_catalog import PropSpec, VehicleSpec, WalkerSpec
from recon_carla_bridge.world.blueprints import Blueprint
from recon_carla_bridge.world.bounded import CallbackErrors, RecentlyDestroyed
from recon_carla_bridge.world.box_overlap import obb_overlap_pairs
from recon_carla_bridge.world.geometry import (box_centres, matrix_to_pose, planar_lengths, pose_matrix, rotation_matrix,
                                              to_transform)
from recon_carla_bridge.world.maps import ReconMap
from recon_carla_bridge.world.state import ActorKind, ActorState, ClockState
from recon_carla_bridge.world.value_guards import check_pose, non_finite_actors
from recon_carla_bridge.world.walker_ai import CONTROLLER_ID, WalkerAIController, WalkerAIState, check_parent, steer_walkers

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.traffic_manager import TrafficManager
    from recon_carla_bridge.world.world import World

DEFAULT_DELTA_SECONDS = 0.05  # s, the step used when no fixed_delta_seconds is set
ROAD_SNAP_RADIUS_M = 6.0  # vehicles within this distance of a lane centre rest on the road surface
ROAD_SNAP_REFRESH_M = 2.0  # re-query the road height after moving this far
ROAD_SNAP_BELOW_M = 2.0  # an actor deeper than this under the road is not lifted onto it
TRAVERSABLE_HEIGHT_M = 0.2  # props lower than this (dirt debris) are driven over, not hit
SPAWN_CLEARANCE_M = 0.05
SETTLED_HEIGHT_M = 0.05  # a vehicle set less than this above the road rests on it at once; higher, it falls
_STATIC_KINDS = (ActorKind.TRAFFIC_LIGHT, ActorKind.TRAFFIC_SIGN, ActorKind.TRIGGER)
_DRAWN_KINDS = (ActorKind.VEHICLE, ActorKind.WALKER, ActorKind.PROP, ActorKind.TRAFFIC_LIGHT, ActorKind.TRAFFIC_SIGN)
APPEARANCE_ATTRIBUTE = "scene_track"  # an actor's own track in the reconstruction (logged actors of a scene)
HIDDEN_Z = -500.0
AFTER_LOG_MIN_SPEED_KMH = 10.0  # a logged vehicle that drives on after its log does so at least this fast
HELD_MEMORY_S = 1.0  # a replayed actor blocked this recently moves stop-and-go: handed over at its mean velocity
HELD_MEAN_TAU_S = 0.5  # s, time constant of that mean (an exponential moving average of its tick velocities)
REPLAY_MARGIN_M = 0.5  # a replayed actor keeps at least this much room around non-replayed actors  # m: where replayed actors wait while the log does not show them  # boxes closer than this at spawn count as a collision


class NonFiniteStateError(RuntimeError):
    """A tick would have produced a non-finite or runaway actor state (the actor is put back at rest)."""


@dataclass
class TickContacts:
    """Contacts of one tick: all of them, and those that began this tick."""

    all: list[collisions.Contact] = field(default_factory=list)
    started: list[collisions.Contact] = field(default_factory=list)


class Simulation:
    """All mutable simulation state and the step that advances it."""

    def __init__(self, world: "World", wmap: ReconMap, seed: int = 0):
        self.world = world
        self.map = wmap
        self.clock = ClockState()
        self.settings = carla.WorldSettings()
        self.settings.synchronous_mode = False
        self.settings.fixed_delta_seconds = None
        self.weather = carla.WeatherParameters.ClearNoon
        self.rng = np.random.default_rng(seed)
        self.camera_backend: CameraBackend | None = None
        self.sensor_errors = CallbackErrors()  # exceptions raised by user callbacks, newest last (bounded)
        self.render_seconds = 0.0  # wall time the ticks spent rendering cameras (or waiting for their images)
        self._states: dict[int, ActorState] = {}
        self._dead: RecentlyDestroyed[ActorState] = RecentlyDestroyed()  # the last destroyed actors (bounded)
        self._facades: dict[int, _ActorFacade] = {}
        self._sensors: dict[int, SensorRuntime] = {}
        self.walker_ai: dict[int, WalkerAIState] = {}  # controller.ai.walker actors
        self._delivery = SensorDelivery()  # cameras of asynchronous backends (GPU) are delivered here
        self._specs: dict[int, Any] = {}
        self._ackermann: dict[int, carla.VehicleAckermannControl] = {}
        self._traffic_managers: dict[int, "TrafficManager"] = {}
        self._previous_contacts: set[tuple[int, int]] = set()
        self.last_contacts = TickContacts()
        self._tick_callbacks: dict[int, Callable[[Any], None]] = {}
        self._next_callback_id = 1
        self._next_actor_id = 1
        self._speed_limits = _speed_limits(wmap)
        self._replays: dict[int, Callable[[float], tuple[np.ndarray, np.ndarray] | None]] = {}
        self._replay_delays: dict[int, float] = {}  # s each replayed actor's log runs behind the clock
        self._replay_ends: dict[int, float] = {}  # s of log time after which a replayed vehicle drives on
        self._replay_held_at: dict[int, float] = {}  # clock s a replayed actor last waited for a non-replayed one
        self._replay_mean_velocity: dict[int, np.ndarray] = {}  # its mean velocity since it first waited
        self._lights: dict[int, traffic_lights.LightRecord] = {}
        self._light_groups: list[traffic_lights.LightGroup] = []
        self._light_boxes: tuple[np.ndarray, ...] | None = None  # trigger volumes as arrays, built once
        self._junction_boxes: dict[int, tuple[np.ndarray, np.ndarray, float, float]] | None = None
        self._light_of_vehicle: dict[int, int] = {}
        self.spectator_id = self._add_state(
            ActorState(0, ActorKind.SPECTATOR, "spectator", {}, np.array([0.0, 0.0, 50.0]),
                       np.array([-90.0, 0.0, 0.0]), np.zeros(3), np.zeros(3), mass=math.inf, simulate_physics=False)
        )
        self._spawn_signals()

    def _spawn_signals(self) -> None:
        """Traffic lights and stop signs of the map, as actors (CARLA's server spawns them too)."""
        for record in traffic_lights.build_light_records(self.map):
            loc, rot = record.transform.location, record.transform.rotation
            kind = ActorKind.TRAFFIC_LIGHT if record.kind == "traffic_light" else ActorKind.TRAFFIC_SIGN
            type_id = "traffic.traffic_light" if record.kind == "traffic_light" else "traffic.stop"
            state = ActorState(0, kind, type_id, {"role_name": "", "opendrive_id": record.opendrive_id},
                               np.array([loc.x, loc.y, loc.z]), np.array([rot.pitch, rot.yaw, rot.roll]),
                               np.array([0.3, 0.3, 2.5]), np.array([0.0, 0.0, 2.5]), mass=math.inf, simulate_physics=False)
            record.actor_id = self._add_state(state)
            self._lights[record.actor_id] = record
        self._light_groups = traffic_lights.assign_groups(list(self._lights.values()))

    def junction_boxes(self) -> dict[int, tuple[np.ndarray, np.ndarray, float, float]]:
        """junction id -> (centre (2,), half extents (2,), cos yaw, sin yaw) of its bounding box (cached)."""
        if self._junction_boxes is None:
            boxes: dict[int, tuple[np.ndarray, np.ndarray, float, float]] = {}
            for waypoint in self.map.generate_waypoints(4.0):
                if not waypoint.is_junction or waypoint.junction_id in boxes:
                    continue
                box = waypoint.get_junction().bounding_box
                yaw = math.radians(box.rotation.yaw)
                boxes[waypoint.junction_id] = (np.array([box.location.x, box.location.y]),
                                               np.array([box.extent.x, box.extent.y]), math.cos(yaw), math.sin(yaw))
            self._junction_boxes = boxes
        return self._junction_boxes

    def light_record(self, actor_id: int) -> traffic_lights.LightRecord:
        """The signal record behind a traffic light / stop sign actor."""
        return self._lights[actor_id]

    def light_records(self) -> list[traffic_lights.LightRecord]:
        """Every traffic light and stop sign."""
        return list(self._lights.values())

    def trigger_volume(self, actor_id: int) -> carla.BoundingBox:
        """A signal's trigger volume in the signal actor's frame (as CARLA reports it)."""
        record = self._lights[actor_id]
        pole = self._states[actor_id]
        yaw = math.radians(pole.rotation[1])
        delta = record.trigger_center - pole.location
        local = np.array([math.cos(yaw) * delta[0] + math.sin(yaw) * delta[1],
                          -math.sin(yaw) * delta[0] + math.cos(yaw) * delta[1], delta[2]])
        box = carla.BoundingBox(carla.Location(*map(float, local)), carla.Vector3D(*map(float, record.trigger_half_extents)))
        box.rotation = carla.Rotation(yaw=float(record.trigger_yaw - pole.rotation[1]))
        return box

    def light_at(self, actor_id: int) -> traffic_lights.LightRecord | None:
        """The traffic light whose trigger volume holds the vehicle (updated every tick)."""
        light_id = self._light_of_vehicle.get(actor_id)
        return self._lights.get(light_id) if light_id is not None else None

    def reset_light_group(self, actor_id: int) -> None:
        """Restart the cycle of a light's group."""
        for group in self._light_groups:
            if self._lights[actor_id] in group.members:
                group.turn, group.phase, group.elapsed = 0, "green", 0.0
                group.apply()

    def _update_vehicle_lights(self) -> None:
        """Which light's trigger volume each vehicle is in (all vehicles against all lights at once)."""
        self._light_of_vehicle = {}
        if self._light_boxes is None:
            lights = [r for r in self._lights.values() if r.kind == "traffic_light"]
            yaw = np.radians([r.trigger_yaw for r in lights])
            self._light_boxes = (
                np.array([r.actor_id for r in lights], dtype=np.int64),
                np.array([r.trigger_center for r in lights]).reshape(-1, 3),
                np.array([r.trigger_half_extents for r in lights]).reshape(-1, 3),
                np.cos(yaw), np.sin(yaw),
            )
        ids, centers, half, cos, sin = self._light_boxes
        if len(ids) == 0:
            return
        vehicles = [s for s in self._states.values() if s.kind == ActorKind.VEHICLE]
        if not vehicles:
            return
        points = np.array([s.location for s in vehicles])  # (V, 3)
        delta = points[:, None, :] - centers[None, :, :]  # (V, L, 3)
        local_x = delta[..., 0] * cos + delta[..., 1] * sin
        local_y = -delta[..., 0] * sin + delta[..., 1] * cos
        inside = (np.abs(local_x) <= half[:, 0]) & (np.abs(local_y) <= half[:, 1]) & (np.abs(delta[..., 2]) <= 2.0 + half[:, 2])
        for row in np.nonzero(inside.any(axis=1))[0]:
            self._light_of_vehicle[vehicles[row].actor_id] = int(ids[np.argmax(inside[row])])

    # ---- bookkeeping -----------------------------------------------------------------------
    def _add_state(self, state: ActorState) -> int:
        state.actor_id = self._next_actor_id
        self._next_actor_id += 1
        self._states[state.actor_id] = state
        return state.actor_id

    def state_of(self, actor_id: int, allow_dead: bool = False) -> ActorState:
        """The state record of an actor; RuntimeError (as CARLA) when it was destroyed."""
        state = self._states.get(actor_id)
        if state is not None:
            return state
        dead = self._dead.get(actor_id) if allow_dead else None
        if dead is not None:
            return dead
        raise RuntimeError(f"trying to operate on a destroyed actor; an actor's function was called, but the actor is already destroyed (id {actor_id})")

    def is_alive(self, actor_id: int) -> bool:
        """Whether the actor exists."""
        return actor_id in self._states

    def alive_states(self) -> list[ActorState]:
        """States of every live actor, in id order."""
        return list(self._states.values())

    def facade(self, actor_id: int) -> _ActorFacade:
        """The CARLA actor object for an id (one object per actor)."""
        facade = self._facades.get(actor_id)
        if facade is None:
            state = self.state_of(actor_id, allow_dead=True)
            cls = {ActorKind.VEHICLE: Vehicle, ActorKind.WALKER: Walker, ActorKind.SENSOR: Sensor,
                   ActorKind.TRAFFIC_LIGHT: TrafficLight, ActorKind.TRAFFIC_SIGN: TrafficSign,
                   ActorKind.CONTROLLER: WalkerAIController}.get(state.kind, Actor)
            facade = cls.__new__(cls)
            facade._bind(self.world, actor_id)
            self._facades[actor_id] = facade
        return facade

    def sensor_runtime(self, actor_id: int, allow_missing: bool = False) -> SensorRuntime | None:
        """Runtime of a sensor actor."""
        runtime = self._sensors.get(actor_id)
        if runtime is None and not allow_missing:
            raise RuntimeError(f"actor {actor_id} is not a live sensor")
        return runtime

    def camera_carriers(self) -> set[int]:
        """Ids of the actors that carry a camera sensor (attached directly or through a parent chain)."""
        carriers: set[int] = set()
        for actor_id, runtime in self._sensors.items():
            if runtime.model.is_camera:
                state = self._states[actor_id]
                while state.parent_id is not None and state.parent_id in self._states:
                    carriers.add(state.parent_id)
                    state = self._states[state.parent_id]
        return carriers

    def vehicle_spec(self, actor_id: int) -> Any:
        """The blueprint spec behind an actor."""
        return self._specs.get(actor_id)

    def semantic_tags(self, actor_id: int) -> list[int]:
        """CARLA semantic tags of an actor."""
        state = self.state_of(actor_id, allow_dead=True)
        spec = self._specs.get(actor_id)
        if state.kind == ActorKind.VEHICLE and isinstance(spec, VehicleSpec):
            return [{"truck": 15, "van": 15, "bus": 16, "motorcycle": 18, "bicycle": 19}.get(spec.base_type, 14)]
        if state.kind == ActorKind.WALKER:
            return [12]
        if state.kind == ActorKind.PROP:
            return [20]
        return []

    def speed_limit_at(self, actor_id: int) -> float:
        """km/h: the <speed> of the road under the actor, else the town default."""
        loc = self.state_of(actor_id).location
        wp = self.map.get_waypoint(carla.Location(float(loc[0]), float(loc[1]), float(loc[2])))
        if wp is not None and wp.road_id in self._speed_limits:
            return self._speed_limits[wp.road_id]
        return DEFAULT_SPEED_LIMIT_KMH

    def road_speed_limit(self, road_id: int) -> float:
        """km/h limit of a road id (the town default when the road states none)."""
        return self._speed_limits.get(road_id, DEFAULT_SPEED_LIMIT_KMH)

    def traffic_manager(self, port: int = 8000) -> "TrafficManager":
        """The traffic manager on a port (created on first use)."""
        from recon_carla_bridge.world.traffic_manager import TrafficManager

        if port not in self._traffic_managers:
            self._traffic_managers[port] = TrafficManager(self, port)
        return self._traffic_managers[port]

    def set_ackermann_target(self, actor_id: int, control: carla.VehicleAckermannControl) -> None:
        """Drive a vehicle towards an Ackermann target (speed, steering angle) from the next tick."""
        self.state_of(actor_id)
        self._ackermann[actor_id] = control

    def set_replay(self, actor_id: int, replay: Callable[[float], tuple[np.ndarray, np.ndarray] | None],
                   drive_after: float | None = None) -> None:
        """Drive an actor along a logged trajectory: `replay(t)` gives (location, rotation) or None (hidden).

        With `drive_after` (s of log time, the end of its log), a vehicle goes on by lane following once its
        log is over (the traffic manager drives it, at the speed it had, at least AFTER_LOG_MIN_SPEED_KMH)
        instead of leaving the scene; one that is not on a driving lane then parks where it stands."""
        state = self.state_of(actor_id)
        state.simulate_physics = False
        self._replays[actor_id] = replay
        if drive_after is not None:
            self._replay_ends[actor_id] = float(drive_after)

    def is_replayed(self, actor_id: int) -> bool:
        """Whether the actor still follows its log."""
        return actor_id in self._replays

    def take_over(self, actor_id: int) -> None:
        """Stop replaying an actor's log: a scenario or agent controls it from now on (physics on)."""
        self._replay_ends.pop(actor_id, None)
        held_at = self._replay_held_at.pop(actor_id, None)
        mean_velocity = self._replay_mean_velocity.pop(actor_id, None)
        if self._replays.pop(actor_id, None) is not None:
            state = self._states[actor_id]
            state.simulate_physics = True
            if held_at is not None and mean_velocity is not None and \
                    self.clock.elapsed_seconds - held_at <= HELD_MEMORY_S + 1e-9:
                state.velocity = mean_velocity.copy()  # not the last tick's wait (0) or catch-up jump
            yaw = math.radians(state.rotation[1])
            state.speed = float(state.velocity[0] * math.cos(yaw) + state.velocity[1] * math.sin(yaw))

    def _advance_replays(self, dt: float) -> None:
        """Move log-replayed actors along their logs; one that would drive into an actor that is not
        replayed (the ego, a taken-over vehicle) waits, and its log resumes later from where it paused."""
        free = [s for s in self._bodies() if s.actor_id not in self._replays and s.kind != ActorKind.PROP]
        moves: list[tuple[ActorState, float, tuple[np.ndarray, np.ndarray]]] = []
        for actor_id, replay in list(self._replays.items()):
            state = self._states.get(actor_id)
            if state is None:
                self._replays.pop(actor_id, None)
                continue
            delay = self._replay_delays.get(actor_id, 0.0)
            log_time = self.clock.elapsed_seconds - delay
            if log_time > self._replay_ends.get(actor_id, math.inf) and state.location[2] > HIDDEN_Z / 2:
                self._drive_on(state)
                continue
            pose = replay(log_time)
            if pose is None:
                state.location = np.array([state.location[0], state.location[1], HIDDEN_Z])
                state.velocity = np.zeros(3)
                continue
            moves.append((state, delay, pose))
        blocked = self._replays_blocked(moves, free) if free and moves else np.zeros(len(moves), dtype=bool)
        for (state, delay, pose), wait in zip(moves, blocked):
            if wait:
                self._replay_delays[state.actor_id] = delay + dt
                self._replay_held_at[state.actor_id] = self.clock.elapsed_seconds
                state.velocity = np.zeros(3)
            else:
                previous = state.location
                state.location, state.rotation = pose[0].astype(float), pose[1].astype(float)
                state.velocity = (state.location - previous) / dt if previous[2] > HIDDEN_Z / 2 else np.zeros(3)
                state.velocity[2] = 0.0
            if state.actor_id in self._replay_held_at:  # waits and jumps by turns: keep the mean it moves at
                mean = self._replay_mean_velocity.get(state.actor_id, state.velocity)
                self._replay_mean_velocity[state.actor_id] = mean + (state.velocity - mean) * min(1.0, dt / HELD_MEAN_TAU_S)

    def _drive_on(self, state: ActorState) -> None:
        """A replayed vehicle whose log is over: the traffic manager drives it on along its lane; one that is
        not on a driving lane (a side road the map lacks, a parking lot) parks where it stands."""
        self.take_over(state.actor_id)
        speed_kmh = float(np.linalg.norm(state.velocity[:2])) * 3.6
        location = carla.Location(*(float(v) for v in state.location))
        lane = self.map.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Driving)
        on_lane = lane is not None and lane.transform.location.distance(location) <= lane.lane_width / 2.0
        if state.kind != ActorKind.VEHICLE or not on_lane:
            state.speed, state.velocity = 0.0, np.zeros(3)
            return
        manager = self.traffic_manager()
        manager.register(state.actor_id, True)
        manager.set_desired_speed(state.actor_id, max(speed_kmh, AFTER_LOG_MIN_SPEED_KMH))

    def _replays_blocked(self, moves: list[tuple[ActorState, float, tuple[np.ndarray, np.ndarray]]],
                         free: list[ActorState]) -> np.ndarray:
        """(len(moves),) True where a replayed actor's next pose (box grown by REPLAY_MARGIN_M) would
        overlap an actor that is not replayed; one compiled test for every nearby pair."""
        targets = np.array([pose[0] for _, _, pose in moves], dtype=float).reshape(-1, 3)  # (M, 3)
        others = np.array([s.location for s in free], dtype=float).reshape(-1, 3)  # (K, 3)
        near = (planar_lengths(targets[:, None, :2] - others[None, :, :2]) < 15.0) & \
            (np.abs(targets[:, None, 2] - others[None, :, 2]) < 3.0)
        move_index, free_index = np.nonzero(near)
        blocked = np.zeros(len(moves), dtype=bool)
        if len(move_index) == 0:
            return blocked
        free_boxes = self._boxes(free)
        centers, yaws = box_centres(targets, np.array([float(pose[1][1]) for _, _, pose in moves]),
                                    np.array([state.box_center for state, _, _ in moves], dtype=float))
        halves = np.array([state.half_extents for state, _, _ in moves], dtype=float) + REPLAY_MARGIN_M
        count = len(free)
        pairs = np.stack([count + move_index, free_index], axis=1)
        overlapping, _, _ = obb_overlap_pairs(np.concatenate([free_boxes.centers[:, :2], centers[:, :2]]),
                                              np.concatenate([free_boxes.half_extents[:, :2], halves[:, :2]]),
                                              np.concatenate([free_boxes.yaws, yaws]), pairs)
        blocked[move_index[overlapping]] = True
        return blocked

    # ---- spawning --------------------------------------------------------------------------
    def spawn(self, blueprint: Blueprint, transform: carla.Transform, parent_id: int | None = None,
              check_overlap: bool = True) -> int:
        """Create an actor; RuntimeError (CARLA's message) when it would overlap another."""
        if not isinstance(blueprint, Blueprint):
            raise InputError(f"spawn_actor: expected a blueprint from world.get_blueprint_library(), got {type(blueprint).__name__}")
        if not isinstance(transform, carla.Transform):
            raise InputError(f"spawn_actor({blueprint.id}): expected a carla.Transform, got {type(transform).__name__}")
        location = np.array([transform.location.x, transform.location.y, transform.location.z], dtype=float)
        rotation = np.array([transform.rotation.pitch, transform.rotation.yaw, transform.rotation.roll], dtype=float)
        check_pose(location, rotation, f"spawn_actor({blueprint.id})")
        attributes = {attribute.id: attribute.as_str() for attribute in blueprint}
        spec = blueprint.spec
        if parent_id is not None:
            self.state_of(parent_id)  # raises if the parent is gone
        if blueprint.id.startswith("sensor."):
            model = build_sensor_model(blueprint.id, attributes)
            state = ActorState(0, ActorKind.SENSOR, blueprint.id, attributes, location, rotation,
                               np.zeros(3), np.zeros(3), mass=math.inf, simulate_physics=False,
                               parent_id=parent_id, relative_location=location.copy(), relative_rotation=rotation.copy())
            actor_id = self._add_state(state)
            self._sensors[actor_id] = SensorRuntime(model, next_time=self.clock.elapsed_seconds)
            self._update_attached(state)
            return actor_id
        if blueprint.id == CONTROLLER_ID:
            check_parent(self, parent_id)
            state = ActorState(0, ActorKind.CONTROLLER, blueprint.id, attributes, location, rotation, np.zeros(3),
                               np.zeros(3), mass=math.inf, simulate_physics=False, parent_id=parent_id,
                               relative_location=location.copy(), relative_rotation=rotation.copy())
            actor_id = self._add_state(state)
            self.walker_ai[actor_id] = WalkerAIState()
            self._update_attached(state)
            return actor_id
        if blueprint.id.startswith("static.trigger."):
            extents = friction.trigger_half_extents(blueprint.id, attributes)  # attributes in cm, as CARLA
            state = ActorState(0, ActorKind.TRIGGER, blueprint.id, attributes, location, rotation, extents,
                               np.zeros(3), mass=math.inf, simulate_physics=False)
            return self._add_state(state)
        kind, half_extents, box_center, mass = _body_of(blueprint.id, spec)
        if parent_id is not None:
            world_location, world_rotation = self._attached_pose(parent_id, location, rotation)
        else:
            world_location, world_rotation = location, rotation
        state = ActorState(0, kind, blueprint.id, attributes, world_location.copy(), world_rotation.copy(),
                           half_extents, box_center, mass=mass, parent_id=parent_id,
                           relative_location=location.copy(), relative_rotation=rotation.copy())
        if kind in (ActorKind.VEHICLE, ActorKind.PROP):
            state.rotation[0] = state.rotation[2] = 0.0
            self._snap_to_road(state, force=True)
        elif kind == ActorKind.WALKER:
            self._snap_walker(state, force=True)
        if parent_id is None and check_overlap and self._overlaps_any(state):
            raise RuntimeError(f"Spawn failed because of collision at spawn position ({blueprint.id} at {transform.location})")
        actor_id = self._add_state(state)
        self._specs[actor_id] = spec
        return actor_id

    def teleport(self, actor_id: int, location: np.ndarray, rotation: np.ndarray) -> None:
        """Move an actor (set_transform). Vehicles keep their speed along the new heading, as in CARLA."""
        state = self.state_of(actor_id)
        if state.parent_id is not None:
            state.relative_location, state.relative_rotation = location.copy(), rotation.copy()
            self._update_attached(state)
            return
        state.location = location.astype(float)  # astype copies: the caller's arrays stay theirs
        state.rotation = rotation.astype(float)
        state.road_snap_location = None
        if state.simulate_physics:  # with physics off CARLA keeps the pose exactly as set
            if state.kind == ActorKind.VEHICLE:
                state.rotation[0] = state.rotation[2] = 0.0
                self.settle(actor_id)
            elif state.kind == ActorKind.PROP:
                state.rotation[0] = state.rotation[2] = 0.0
                self._snap_to_road(state, force=True)
            elif state.kind == ActorKind.WALKER:
                self._snap_walker(state, force=True)
        if state.kind == ActorKind.VEHICLE:
            yaw = math.radians(state.rotation[1])
            state.velocity = np.array([state.speed * math.cos(yaw), state.speed * math.sin(yaw), 0.0])
        for child in self._states.values():
            if child.parent_id == actor_id:
                self._update_attached(child)

    def settle(self, actor_id: int) -> None:
        """A physics vehicle keeps the height it was given (set_transform, physics turned on): above the road
        it falls onto it over the next ticks, as CARLA's gravity has it; a little below it is lifted onto it."""
        state = self.state_of(actor_id)
        state.airborne, state.fall_speed = False, 0.0
        if state.kind != ActorKind.VEHICLE or not state.simulate_physics or state.parent_id is not None:
            return
        surface = self._ground_height(*(float(v) for v in state.location))
        if surface is None:
            return
        if state.location[2] > surface + SETTLED_HEIGHT_M:
            state.airborne = True
        else:
            self._snap_to_road(state, force=True, surface=surface)  # the height just looked up

    def _rest_on_road(self, state: ActorState, dt: float) -> None:
        """A vehicle follows the road surface; an airborne one falls under gravity until it lands on it."""
        if not state.airborne:
            self._snap_to_road(state)
            return
        surface = self._ground_height(*(float(v) for v in state.location))
        state.fall_speed += kinematics.GRAVITY * dt
        state.location[2] -= state.fall_speed * dt
        if surface is None or state.location[2] <= surface:
            state.airborne, state.fall_speed = False, 0.0
            state.road_snap_location = None
            self._snap_to_road(state, force=True)
        state.velocity[2] = -state.fall_speed

    def destroy(self, actor_id: int) -> bool:
        """Remove an actor; returns False when it was already gone (map signals cannot be destroyed)."""
        if actor_id in self._lights:
            return False
        state = self._states.pop(actor_id, None)
        if state is None:
            return False
        state.alive = False
        for forgotten in self._dead.add(actor_id, state):
            self._specs.pop(forgotten, None)
        self._facades.pop(actor_id, None)  # a facade the caller holds keeps working (and raises CARLA's error)
        self._replay_delays.pop(actor_id, None)
        self._replay_held_at.pop(actor_id, None)
        self._replay_mean_velocity.pop(actor_id, None)
        self._replays.pop(actor_id, None)
        self.sensor_errors.forget(actor_id)
        if actor_id in self._sensors and self._delivery.busy:
            self.flush_sensor_data()  # a sensor's last images arrive before it goes
        self._sensors.pop(actor_id, None)
        self.walker_ai.pop(actor_id, None)
        self._ackermann.pop(actor_id, None)
        for manager in self._traffic_managers.values():
            manager.register(actor_id, False)
        return True

    # ---- geometry helpers ------------------------------------------------------------------
    def _attached_pose(self, parent_id: int, rel_location: np.ndarray, rel_rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parent = self.state_of(parent_id)
        world = pose_matrix(parent.location, parent.rotation) @ pose_matrix(rel_location, rel_rotation)
        return matrix_to_pose(world)

    def _update_attached(self, state: ActorState) -> None:
        if state.parent_id is None or state.parent_id not in self._states:
            return
        parent = self._states[state.parent_id]
        state.location, state.rotation = self._attached_pose(state.parent_id, state.relative_location, state.relative_rotation)
        state.velocity = parent.velocity.copy()
        state.angular_velocity = parent.angular_velocity.copy()
        state.acceleration = parent.acceleration.copy()

    def _ground_height(self, x: float, y: float, z: float) -> float | None:
        """Road surface height under (x, y) for something whose bottom is at z, or None.

        None off the road network, and for things deeper than ROAD_SNAP_BELOW_M under the surface:
        only what is above the road settles onto it (CARLA's gravity); an actor hidden below the map
        (a common ScenarioRunner trick, z - 500) stays there.
        """
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            return None  # a broken state: the step refuses it after the move (_refuse_non_finite)
        waypoint = self.map.get_waypoint(carla.Location(x, y, z), project_to_road=True, lane_type=carla.LaneType.Any)
        if waypoint is None:
            return None
        road = waypoint.transform.location
        near_road = math.hypot(road.x - x, road.y - y) <= ROAD_SNAP_RADIUS_M + 0.5 * waypoint.lane_width
        return road.z if near_road and z >= road.z - ROAD_SNAP_BELOW_M else None

    def _snap_to_road(self, state: ActorState, force: bool = False, bottom_offset: float = 0.0,
                      surface: float | None = None) -> None:
        """Put an actor's bottom (origin - bottom_offset) on the road surface when it is on or near a road.

        The height is looked up again only after the actor moved ROAD_SNAP_REFRESH_M (or when forced); `surface`
        is that height when the caller has just looked it up for the actor's present location and offset.
        """
        if not force and state.road_snap_location is not None:
            if np.linalg.norm(state.location[:2] - state.road_snap_location[:2]) < ROAD_SNAP_REFRESH_M:
                state.location[2] = state.road_snap_location[2]
                return
        x, y, z = (float(v) for v in state.location)
        height = surface if surface is not None else self._ground_height(x, y, z - bottom_offset)
        if height is not None:
            state.location[2] = height + bottom_offset
            state.road_snap_location = state.location.copy()

    def _snap_walker(self, state: ActorState, force: bool = False) -> None:
        """Walkers stand on the ground: their origin is half their height above it."""
        self._snap_to_road(state, force=force, bottom_offset=float(state.half_extents[2]))

    def _boxes(self, states: list[ActorState]) -> collisions.BoxSet:
        centers, yaws = box_centres(np.array([s.location for s in states], dtype=float).reshape(-1, 3),
                                    np.array([s.rotation[1] for s in states], dtype=float),
                                    np.array([s.box_center for s in states], dtype=float).reshape(-1, 3))
        families = np.array([self._family(s) for s in states], dtype=np.int64)
        return collisions.BoxSet(
            np.array([s.actor_id for s in states], dtype=np.int64), centers,
            np.array([s.half_extents for s in states]).reshape(-1, 3), yaws, families,
        )

    def _family(self, state: ActorState) -> int:
        while state.parent_id is not None and state.parent_id in self._states:
            state = self._states[state.parent_id]
        return state.actor_id

    def _bodies(self) -> list[ActorState]:
        """Actors that collide: vehicles, walkers, and props taller than a kerb (debris is driven over)."""
        return [s for s in self._states.values()
                if s.kind in (ActorKind.VEHICLE, ActorKind.WALKER)
                or (s.kind == ActorKind.PROP and 2.0 * s.half_extents[2] > TRAVERSABLE_HEIGHT_M)]

    def _overlaps_any(self, candidate: ActorState) -> bool:
        bodies = self._bodies()
        if not bodies:
            return False
        padded = ActorState(-1, candidate.kind, "", {}, candidate.location, candidate.rotation,
                            candidate.half_extents + SPAWN_CLEARANCE_M, candidate.box_center)
        boxes = self._boxes(bodies + [padded])
        boxes.families[-1] = -1
        return any(b == len(bodies) or a == len(bodies) for a, b, _, _ in collisions.detect(boxes))

    # ---- the step --------------------------------------------------------------------------
    def delta_seconds(self) -> float:
        """Step length: the fixed delta when set, else 1/20 s."""
        fixed = self.settings.fixed_delta_seconds
        return float(fixed) if fixed else DEFAULT_DELTA_SECONDS

    def step(self) -> int:
        """Advance the world by one tick; returns the new frame number."""
        dt = self.delta_seconds()
        self.clock.frame += 1
        self.clock.elapsed_seconds += dt
        self.clock.delta_seconds = dt
        self._advance_replays(dt)
        for group in self._light_groups:
            group.advance(dt)
        for manager in self._traffic_managers.values():
            manager.compute_controls(dt)
        self._apply_ackermann(dt)
        moving = [s for s in self._states.values() if s.kind not in _STATIC_KINDS]
        previous_pose = {s.actor_id: (s.location.copy(), s.rotation.copy()) for s in moving}
        previous_velocity = {s.actor_id: s.velocity.copy() for s in moving}
        previous_yaw = {s.actor_id: s.rotation[1] for s in moving}
        self._move_vehicles(dt)
        steer_walkers(self, self.walker_ai)
        self._move_walkers(dt)
        self._resolve_collisions()
        for state in moving:
            if state.parent_id is None and state.actor_id in self._states:
                state.acceleration = (state.velocity - previous_velocity[state.actor_id]) / dt
                yaw_change = (state.rotation[1] - previous_yaw[state.actor_id] + 180.0) % 360.0 - 180.0
                state.angular_velocity = np.array([0.0, 0.0, yaw_change / dt])
        for state in moving:
            if state.parent_id is not None:
                self._update_attached(state)
        self._refuse_non_finite(moving, previous_pose)
        self._update_vehicle_lights()
        self._run_sensors()
        return self.clock.frame

    def _refuse_non_finite(self, moving: list[ActorState], previous_pose: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        """Put any actor whose new state is not finite back where it was, at rest, and raise naming it and why."""
        bad = non_finite_actors(s for s in moving if s.actor_id in self._states)
        if not bad:
            return
        for state, _ in bad:
            state.location, state.rotation = previous_pose[state.actor_id]
            for name in ("velocity", "angular_velocity", "acceleration"):
                setattr(state, name, np.zeros(3))
            state.speed, state.steer_angle, state.constant_velocity, state.target_velocity = 0.0, 0.0, None, None
            state.road_snap_location = None
        described = "; ".join(f"actor {state.actor_id} ({state.type_id}): {reason}" for state, reason in bad)
        raise NonFiniteStateError(f"world step refused a non-finite state, the actors were put back at rest: {described}")

    def _apply_ackermann(self, dt: float) -> None:
        for actor_id, target in list(self._ackermann.items()):
            state = self._states.get(actor_id)
            spec = self._specs.get(actor_id)
            if state is None or not isinstance(spec, VehicleSpec):
                continue
            accel_needed = (target.speed - state.speed) / max(dt, 1e-3)
            limit = target.acceleration if target.acceleration > 0 else spec.max_accel
            accel = float(np.clip(accel_needed, -spec.max_decel, min(limit, spec.max_accel)))
            steer = float(np.clip(target.steer / math.radians(spec.max_steer_deg), -1.0, 1.0))
            # CARLA's Ackermann steer is positive to the left; VehicleControl's is positive to the right.
            state.vehicle_control = carla.VehicleControl(
                throttle=max(accel, 0.0) / spec.max_accel + (kinematics.ROLLING_RESISTANCE / spec.max_accel if accel >= 0 else 0.0),
                steer=-steer, brake=max(-accel, 0.0) / spec.max_decel, reverse=target.speed < 0,
            )

    def _move_vehicles(self, dt: float) -> None:
        driven: list[ActorState] = []
        for state in self._states.values():
            if state.kind != ActorKind.VEHICLE or state.parent_id is not None or not state.simulate_physics:
                continue
            yaw = math.radians(state.rotation[1])
            if state.target_velocity is not None or state.constant_velocity is not None:
                if state.constant_velocity is not None:
                    velocity = rotation_matrix(0.0, state.rotation[1], 0.0) @ state.constant_velocity
                else:
                    velocity = state.target_velocity
                state.target_velocity = None
                state.velocity = np.array([velocity[0], velocity[1], 0.0])
                state.speed = float(velocity[0] * math.cos(yaw) + velocity[1] * math.sin(yaw))
                state.location = state.location + state.velocity * dt
                if state.target_angular_velocity is not None:
                    state.rotation[1] += state.target_angular_velocity[2] * dt
                    state.target_angular_velocity = None
                self._rest_on_road(state, dt)
                continue
            driven.append(state)
        if not driven:
            return
        specs = [self._specs[s.actor_id] for s in driven]
        controls = [s.vehicle_control for s in driven]
        batch = kinematics.VehicleBatch(
            x=np.array([s.location[0] for s in driven]),
            y=np.array([s.location[1] for s in driven]),
            yaw=np.radians([s.rotation[1] for s in driven]),
            speed=np.array([s.speed for s in driven]),
            steer_angle=np.array([s.steer_angle for s in driven]),
            throttle=np.array([c.throttle for c in controls]),
            brake=np.array([c.brake for c in controls]),
            steer=np.array([c.steer for c in controls]),
            reverse=np.array([c.reverse for c in controls]),
            hand_brake=np.array([c.hand_brake for c in controls]),
            wheelbase=np.array([sp.wheelbase for sp in specs]),
            max_steer=np.radians([sp.max_steer_deg for sp in specs]),
            max_accel=np.array([sp.max_accel for sp in specs]),
            max_decel=np.array([sp.max_decel for sp in specs]),
            max_speed=np.array([sp.max_speed for sp in specs]),
        )
        batch.friction = friction.wheel_friction(driven, list(self._states.values()))
        result = kinematics.step_vehicles(batch, dt)
        for i, state in enumerate(driven):
            state.location[0], state.location[1] = result.x[i], result.y[i]
            state.rotation[1] = math.degrees(result.yaw[i])
            state.speed = float(result.speed[i])
            state.steer_angle = float(result.steer_angle[i])
            state.velocity = np.array([state.speed * math.cos(result.yaw[i]), state.speed * math.sin(result.yaw[i]), 0.0])
            self._rest_on_road(state, dt)

    def _move_walkers(self, dt: float) -> None:
        walkers = [s for s in self._states.values()
                   if s.kind == ActorKind.WALKER and s.parent_id is None and s.simulate_physics]
        if not walkers:
            return
        for state in walkers:
            if state.target_velocity is not None:
                velocity, state.target_velocity = state.target_velocity, None
                state.walker_control = carla.WalkerControl(
                    carla.Vector3D(float(velocity[0]), float(velocity[1]), 0.0), float(np.linalg.norm(velocity[:2])))
        direction = np.array([[s.walker_control.direction.x, s.walker_control.direction.y] for s in walkers])
        speed = np.array([s.walker_control.speed for s in walkers])
        x, y, yaw, velocity = kinematics.step_walkers(
            np.array([s.location[0] for s in walkers]), np.array([s.location[1] for s in walkers]),
            np.radians([s.rotation[1] for s in walkers]), direction, speed, dt)
        for i, state in enumerate(walkers):
            state.location[0], state.location[1] = x[i], y[i]
            state.rotation[1] = math.degrees(yaw[i])
            state.velocity = np.array([velocity[i, 0], velocity[i, 1], 0.0])
            state.speed = float(np.linalg.norm(velocity[i]))
            self._snap_walker(state)

    def _resolve_collisions(self) -> None:
        bodies = self._bodies()
        contacts = TickContacts()
        current: set[tuple[int, int]] = set()
        if len(bodies) >= 2:
            boxes = self._boxes(bodies)
            for ia, ib, normal, depth in collisions.detect(boxes):
                a, b = bodies[ia], bodies[ib]
                inv_a = self._inverse_mass(a)
                inv_b = self._inverse_mass(b)
                va, vb, impulse = collisions.resolve(a.velocity, b.velocity, inv_a, inv_b, normal)
                total = inv_a + inv_b
                if total > 0.0:
                    a.location[:2] -= normal[:2] * depth * inv_a / total
                    b.location[:2] += normal[:2] * depth * inv_b / total
                for s, v in ((a, va), (b, vb)):
                    if s.kind == ActorKind.VEHICLE and self._inverse_mass(s) > 0.0:
                        s.velocity = v
                        yaw = math.radians(s.rotation[1])
                        s.speed = float(v[0] * math.cos(yaw) + v[1] * math.sin(yaw))
                key = (min(a.actor_id, b.actor_id), max(a.actor_id, b.actor_id))
                contact = collisions.Contact(a.actor_id, b.actor_id, normal, depth, impulse)
                contacts.all.append(contact)
                current.add(key)
                if key not in self._previous_contacts:
                    contacts.started.append(contact)
        self._previous_contacts = current
        self.last_contacts = contacts

    @staticmethod
    def _inverse_mass(state: ActorState) -> float:
        if state.kind == ActorKind.PROP or not state.simulate_physics or not math.isfinite(state.mass):
            return 0.0
        return 1.0 / state.mass

    # ---- sensors ---------------------------------------------------------------------------
    def _run_sensors(self) -> None:
        frame, elapsed = self.clock.frame, self.clock.elapsed_seconds
        cameras: list[tuple[int, SensorRuntime]] = []
        for actor_id, runtime in list(self._sensors.items()):
            if not runtime.due(elapsed):
                continue
            runtime.advance(elapsed)
            if runtime.model.is_camera:
                if runtime.callback is not None:
                    cameras.append((actor_id, runtime))
                continue
            state = self._states[actor_id]
            parent = self._states.get(state.parent_id) if state.parent_id is not None else None
            if state.parent_id is not None and parent is None:
                continue  # attached to an actor that was destroyed: it measures nothing any more
            ctx = SensorContext(self, state, parent, frame, elapsed, self.last_contacts)
            data = runtime.model.measure(ctx)
            if data is None or runtime.callback is None:
                continue
            for item in data if isinstance(data, list) else [data]:
                self._deliver(actor_id, runtime, item)
        if cameras:
            started = time.perf_counter()
            self._render_cameras(cameras, frame, elapsed)
            self.render_seconds += time.perf_counter() - started

    def _render_cameras(self, cameras: list[tuple[int, SensorRuntime]], frame: int, elapsed: float) -> None:
        if self.camera_backend is None:  # a map without a reconstruction: draw roads, markings and boxes
            from recon_carla_bridge.schematic.backend import SchematicBackend

            self.camera_backend = SchematicBackend()
        requests = []
        cameras = [(actor_id, runtime) for actor_id, runtime in cameras
                   if self._states[actor_id].parent_id is None or self._states[actor_id].parent_id in self._states]
        if not cameras:
            return
        for actor_id, runtime in cameras:
            state = self._states[actor_id]
            model = runtime.model
            assert isinstance(model, CameraModel)
            requests.append(model.request(pose_matrix(state.location, state.rotation), actor_id))
        transforms = [to_transform(self._states[actor_id].location, self._states[actor_id].rotation) for actor_id, _ in cameras]
        backend = self.camera_backend
        snapshot = self.render_snapshot()
        if getattr(backend, "asynchronous", False):
            self._delivery.wait()  # the previous tick's images first: in order, at most one tick in flight
            collect = backend.launch(snapshot, requests)

            def deliver_when_rendered() -> None:
                self._deliver_images(cameras, collect(), requests, transforms, frame, elapsed)

            self._delivery.submit(deliver_when_rendered)
            return
        self._deliver_images(cameras, backend.render(snapshot, requests), requests, transforms, frame, elapsed)

    def render_snapshot(self) -> RenderSnapshot:
        """The frozen poses of everything a camera may draw at this tick (what camera backends read)."""
        actors = []
        for state in self._states.values():
            if state.kind not in _DRAWN_KINDS:
                continue
            light = self._lights.get(state.actor_id) if state.kind == ActorKind.TRAFFIC_LIGHT else None
            actors.append(DrawnActor(state.actor_id, state.kind.value, state.type_id, state.location.copy(),
                                     state.rotation.copy(), state.half_extents.copy(), state.box_center.copy(),
                                     state.attributes.get(APPEARANCE_ATTRIBUTE),
                                     light.state.name if light is not None else ""))
        return RenderSnapshot(self.clock.frame, self.clock.elapsed_seconds, self.map, tuple(actors),
                              frozenset(self.camera_carriers()))

    def _deliver_images(self, cameras: list[tuple[int, SensorRuntime]], images: list[np.ndarray],
                        requests: list[Any], transforms: list[carla.Transform], frame: int, elapsed: float) -> None:
        for (actor_id, runtime), bgra, request, transform in zip(cameras, images, requests, transforms):
            self._deliver(actor_id, runtime, Image(frame, elapsed, transform, bgra, request.fov_deg))

    def flush_sensor_data(self) -> None:
        """Wait until every camera image of past ticks has reached its callback (a render failure raises)."""
        self._delivery.wait()

    def _deliver(self, actor_id: int, runtime: SensorRuntime, data: Any) -> None:
        callback = runtime.callback
        if callback is None:
            return
        try:
            callback(data)
        except Exception as error:  # a user's callback must not stop the world
            message = f"sensor {actor_id} ({runtime.model.type_id}) callback raised {type(error).__name__}: {error}"
            runtime.errors.append(message)
            del runtime.errors[:-10]  # the newest few per sensor
            self.sensor_errors.report(actor_id, (runtime.model.type_id, type(error).__name__, str(error)[:200]),
                                      message, traceback.format_exc(limit=3))

    # ---- tick callbacks --------------------------------------------------------------------
    def add_tick_callback(self, callback: Callable[[Any], None]) -> int:
        """Register an on_tick callback; returns its id."""
        callback_id = self._next_callback_id
        self._next_callback_id += 1
        self._tick_callbacks[callback_id] = callback
        return callback_id

    def remove_tick_callback(self, callback_id: int) -> None:
        """Unregister an on_tick callback."""
        self._tick_callbacks.pop(callback_id, None)

    def run_tick_callbacks(self, snapshot: Any) -> None:
        """Call every on_tick callback with the snapshot; one that raises is reported, the rest still run."""
        for callback_id, callback in list(self._tick_callbacks.items()):
            try:
                callback(snapshot)
            except Exception as error:  # a user's callback must not stop the world
                message = f"on_tick callback {callback_id} raised {type(error).__name__}: {error}"
                self.sensor_errors.report(("on_tick", callback_id), ("on_tick", callback_id, type(error).__name__),
                                          message, traceback.format_exc(limit=3))


def _body_of(bp_id: str, spec: Any) -> tuple[ActorKind, np.ndarray, np.ndarray, float]:
    """Kind, half extents, box centre (actor frame) and mass of a non-sensor blueprint."""
    if isinstance(spec, VehicleSpec):
        half = np.array([spec.length, spec.width, spec.height]) / 2.0
        return ActorKind.VEHICLE, half, np.array([0.0, 0.0, half[2]]), spec.mass
    if isinstance(spec, WalkerSpec):
        half = np.array([spec.length, spec.width, spec.height]) / 2.0
        return ActorKind.WALKER, half, np.zeros(3), spec.mass
    if isinstance(spec, PropSpec):
        half = np.array([spec.length, spec.width, spec.height]) / 2.0
        return ActorKind.PROP, half, np.array([0.0, 0.0, half[2]]), math.inf
    raise InputError(f"blueprint '{bp_id}' cannot be spawned: no physical description")


def _speed_limits(wmap: carla.Map) -> dict[int, float]:
    """road id -> km/h. Speed-limit signs (OpenDRIVE signal type 274) rule where a map has them, as
    on CARLA's towns; maps without any signs use their <road><type><speed> records."""
    signs: dict[int, float] = {}
    for landmark in wmap.get_all_landmarks_of_type("274"):
        if landmark.value > 0 and math.isfinite(landmark.value):
            signs.setdefault(landmark.road_id, float(landmark.value))
    if signs:
        return signs
    return _road_type_speed_limits(wmap.to_opendrive())


def _road_type_speed_limits(xodr_text: str) -> dict[int, float]:
    """road id -> km/h from the OpenDRIVE <road><type><speed max unit> records (first record per road)."""
    limits: dict[int, float] = {}
    factor = {"km/h": 1.0, "mph": 1.609344, "m/s": 3.6}
    try:
        root = ET.fromstring(xodr_text)
    except ET.ParseError:
        return limits
    for road in root.iter("road"):
        speed = road.find("type/speed")
        if speed is None:
            continue
        try:
            value = float(speed.get("max", "nan")) * factor.get(speed.get("unit", "m/s"), 3.6)
            road_id = int(road.get("id", ""))
        except ValueError:
            continue
        if math.isfinite(value) and value > 0:
            limits[road_id] = value
    return limits
