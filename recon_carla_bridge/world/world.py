"""`World`: a `carla.World` subclass whose state lives in a `Simulation`, with no server behind it."""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterable

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.blueprints import Blueprint, BlueprintLibrary, build_blueprint_library
from recon_carla_bridge.world.lane_reach import lanes_within
from recon_carla_bridge.world.maps import ReconMap
from recon_carla_bridge.world.simulation import Simulation
from recon_carla_bridge.world.snapshot import ActorList, ActorSnapshot, DebugHelper, WorldSnapshot
from recon_carla_bridge.world.state import ActorKind

_WORLD_IDS = itertools.count(1)
_STATIC_KINDS = (ActorKind.TRAFFIC_LIGHT, ActorKind.TRAFFIC_SIGN)


class World(carla.World):
    """The simulated world: map, actors, settings, weather, ticking and snapshots."""

    def __init__(self, wmap: ReconMap, seed: int = 0):
        self._id = next(_WORLD_IDS)
        self._map = wmap
        self._simulation = Simulation(self, wmap, seed=seed)
        self._library = build_blueprint_library()
        self._debug = DebugHelper()
        self._snapshot = self._take_snapshot()

    # ---- identity and static content --------------------------------------------------------
    @property
    def id(self) -> int:
        """Episode id of this world."""
        return self._id

    @property
    def debug(self) -> DebugHelper:
        """Drawing helper (records shapes; there is no viewport)."""
        return self._debug

    @property
    def simulation(self) -> Simulation:
        """The engine behind this facade (for tools built on recon_carla_bridge)."""
        return self._simulation

    def get_map(self) -> ReconMap:
        """The road network (a carla.Map)."""
        return self._map

    def get_blueprint_library(self) -> BlueprintLibrary:
        """Every spawnable blueprint."""
        return self._library

    def get_spectator(self) -> carla.Actor:
        """The spectator actor (a free camera pose)."""
        return self._simulation.facade(self._simulation.spectator_id)

    def get_settings(self) -> carla.WorldSettings:
        """A copy of the current settings."""
        return _copy_settings(self._simulation.settings)

    def apply_settings(self, world_settings: carla.WorldSettings) -> int:
        """Apply settings (synchronous mode, fixed_delta_seconds …); returns the current frame."""
        delta = world_settings.fixed_delta_seconds
        if delta is not None and (not math.isfinite(delta) or delta <= 0.0 or delta > 1.0):
            raise InputError(f"WorldSettings.fixed_delta_seconds = {delta}: must be in (0, 1] s or None")
        self._simulation.settings = _copy_settings(world_settings)
        return self._simulation.clock.frame

    def get_weather(self) -> carla.WeatherParameters:
        """Current weather parameters (they affect no rendering yet)."""
        return self._simulation.weather

    def set_weather(self, weather: carla.WeatherParameters) -> None:
        """Store weather parameters."""
        self._simulation.weather = weather

    # ---- actors ----------------------------------------------------------------------------
    def spawn_actor(self, blueprint: Blueprint, transform: carla.Transform, attach_to: carla.Actor | None = None,
                    attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid, socket_name: str = "") -> carla.Actor:
        """Spawn an actor; RuntimeError when the spot is taken, as CARLA."""
        del attachment_type, socket_name
        parent_id = None if attach_to is None else attach_to.id
        actor_id = self._simulation.spawn(blueprint, transform, parent_id)
        return self._simulation.facade(actor_id)

    def try_spawn_actor(self, blueprint: Blueprint, transform: carla.Transform, attach_to: carla.Actor | None = None,
                        attachment_type: carla.AttachmentType = carla.AttachmentType.Rigid, socket_name: str = "") -> carla.Actor | None:
        """Spawn an actor, or return None when the spot is taken."""
        try:
            return self.spawn_actor(blueprint, transform, attach_to, attachment_type, socket_name)
        except RuntimeError:
            return None

    def get_actor(self, actor_id: int) -> carla.Actor | None:
        """The live actor with this id, or None."""
        if not self._simulation.is_alive(actor_id):
            return None
        return self._simulation.facade(actor_id)

    def get_actors(self, actor_ids: Iterable[int] | None = None) -> ActorList:
        """All live actors, or those of the given ids (unknown ids are skipped, as CARLA)."""
        sim = self._simulation
        if actor_ids is None:
            ids = [s.actor_id for s in sim.alive_states()]
        else:
            ids = [int(i) for i in actor_ids if sim.is_alive(int(i))]
        return ActorList([sim.facade(i) for i in ids])

    # ---- time ------------------------------------------------------------------------------
    def tick(self, seconds: float = 10.0) -> int:
        """Advance one step (sensor callbacks run inside); returns the new frame id."""
        del seconds
        self._simulation.step()
        self._snapshot = self._take_snapshot()
        self._simulation.run_tick_callbacks(self._snapshot)
        return self._snapshot.frame

    def wait_for_tick(self, seconds: float = 10.0) -> WorldSnapshot:
        """Advance one step and return its snapshot (there is no server ticking on its own)."""
        self.tick(seconds)
        return self._snapshot

    def on_tick(self, callback: Callable[[WorldSnapshot], Any]) -> int:
        """Call `callback(snapshot)` after every tick; returns an id for remove_on_tick."""
        return self._simulation.add_tick_callback(callback)

    def remove_on_tick(self, callback_id: int) -> None:
        """Stop calling an on_tick callback."""
        self._simulation.remove_tick_callback(callback_id)

    def get_snapshot(self) -> WorldSnapshot:
        """The snapshot of the last tick."""
        return self._snapshot

    def _take_snapshot(self) -> WorldSnapshot:
        sim = self._simulation
        clock = sim.clock
        timestamp = carla.Timestamp(clock.frame, clock.elapsed_seconds, clock.delta_seconds, clock.elapsed_seconds)
        previous = getattr(self, "_snapshot", None)
        actors = {}
        for s in sim.alive_states():
            if s.kind in _STATIC_KINDS and previous is not None and previous.has_actor(s.actor_id):
                actors[s.actor_id] = previous.find(s.actor_id)  # signals never move: reuse
            else:
                actors[s.actor_id] = ActorSnapshot(s.actor_id, s.location, s.rotation, s.velocity,
                                                   s.angular_velocity, s.acceleration)
        return WorldSnapshot(self._id, timestamp, actors)

    # ---- navigation and environment queries --------------------------------------------------
    def get_random_location_from_navigation(self) -> carla.Location:
        """A random point on a sidewalk (or, without sidewalks, on a road edge) for walkers."""
        waypoints = self._map.generate_waypoints(5.0)
        sidewalks = [w for w in waypoints if w.lane_type == carla.LaneType.Sidewalk]
        candidates = sidewalks or waypoints
        if not candidates:
            return None  # type: ignore[return-value]
        waypoint = candidates[int(self._simulation.rng.integers(len(candidates)))]
        loc = waypoint.transform.location
        return carla.Location(loc.x, loc.y, loc.z + 1.0)

    def get_traffic_light(self, landmark: carla.Landmark) -> carla.TrafficLight | None:
        """The traffic light of an OpenDRIVE landmark (signal), or None."""
        return self.get_traffic_light_from_opendrive_id(str(landmark.id))

    def get_traffic_lights_from_waypoint(self, waypoint: carla.Waypoint, distance: float) -> list[carla.TrafficLight]:
        """Traffic lights whose stop line lies on the waypoint's lane within `distance` metres ahead."""
        lanes_ahead = lanes_within(waypoint, float(distance))  # every lane reachable, branches included
        found = []
        for record in self._simulation.light_records():
            if record.kind == "traffic_light" and any((lane.road_id, lane.lane_id) in lanes_ahead for lane in record.lane_waypoints):
                found.append(self._simulation.facade(record.actor_id))
        return found

    def get_traffic_lights_in_junction(self, junction_id: int) -> list[carla.TrafficLight]:
        """Traffic lights guarding a junction."""
        return [self._simulation.facade(r.actor_id) for r in self._simulation.light_records()
                if r.kind == "traffic_light" and r.junction_id == junction_id]

    def get_traffic_light_from_opendrive_id(self, traffic_light_id: str) -> carla.TrafficLight | None:
        """The traffic light of an OpenDRIVE signal id, or None."""
        for record in self._simulation.light_records():
            if record.kind == "traffic_light" and record.opendrive_id == str(traffic_light_id):
                return self._simulation.facade(record.actor_id)
        return None

    def freeze_all_traffic_lights(self, frozen: bool) -> None:
        """Stop (or resume) every light's cycle."""
        for record in self._simulation.light_records():
            record.frozen = bool(frozen)

    def reset_all_traffic_lights(self) -> None:
        """Restart every group's cycle."""
        for record in self._simulation.light_records():
            if record.kind == "traffic_light":
                self._simulation.reset_light_group(record.actor_id)

    def get_traffic_sign(self, landmark: Any) -> None:
        """No traffic-sign actors."""
        return None

    def get_environment_objects(self, object_type: Any = None) -> list:
        """No environment meshes (buildings are in the reconstruction, not as objects)."""
        return []

    def enable_environment_objects(self, env_objects_ids: Any, enable: bool) -> None:
        """No environment objects to toggle."""

    def get_level_bbs(self, actor_type: Any = None) -> list:
        """Bounding boxes of live vehicles and walkers in world coordinates."""
        boxes = []
        for state in self._simulation.alive_states():
            if state.kind in (ActorKind.VEHICLE, ActorKind.WALKER, ActorKind.PROP):
                center = state.location + state.box_center
                box = carla.BoundingBox(carla.Location(*map(float, center)), carla.Vector3D(*map(float, state.half_extents)))
                box.rotation = carla.Rotation(yaw=float(state.rotation[1]))
                boxes.append(box)
        return boxes

    def get_vehicles_light_states(self) -> dict[int, carla.VehicleLightState]:
        """Light state of every vehicle."""
        return {s.actor_id: s.light_state for s in self._simulation.alive_states() if s.kind == ActorKind.VEHICLE}

    def ground_projection(self, location: carla.Location, search_distance: float = 10000.0) -> Any:
        """The road surface under a location."""
        waypoint = self._map.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Any)
        if waypoint is None or abs(waypoint.transform.location.z - location.z) > search_distance:
            return None
        ground = carla.Location(location.x, location.y, waypoint.transform.location.z)
        from recon_carla_bridge.world.raycast import LabelledPoint

        return LabelledPoint(ground, carla.CityObjectLabel.Roads)

    def cast_ray(self, initial_location: carla.Location, final_location: carla.Location) -> list:
        """Actor boxes hit by the segment, nearest first, as LabelledPoints."""
        from recon_carla_bridge.world.raycast import cast_ray_against_actors

        return cast_ray_against_actors(self._simulation, initial_location, final_location)

    def project_point(self, location: carla.Location, direction: carla.Vector3D, search_distance: float) -> Any:
        """First actor box hit along a direction, as a LabelledPoint, or None."""
        end = location + direction.make_unit_vector() * search_distance
        hits = self.cast_ray(location, end)
        return hits[0] if hits else None

    def load_map_layer(self, map_layers: Any) -> None:
        """Map layers are a rendering concept of CARLA's towns; nothing to load here."""

    def unload_map_layer(self, map_layers: Any) -> None:
        """Map layers are a rendering concept of CARLA's towns; nothing to unload here."""

    def set_pedestrians_cross_factor(self, percentage: float) -> None:
        """Stored for walker AI (not simulated)."""
        self._pedestrians_cross_factor = float(percentage)

    def set_pedestrians_seed(self, seed: int) -> None:
        """Seed of random walker choices."""
        self._simulation.rng = np.random.default_rng(int(seed))

    def get_names_of_all_objects(self) -> list[str]:
        """Type ids of live actors."""
        return [s.type_id for s in self._simulation.alive_states()]

    def __str__(self) -> str:
        return f"World(id={self._id}, map={self._map.name})"

    __repr__ = __str__


def _copy_settings(source: carla.WorldSettings) -> carla.WorldSettings:
    """An independent copy of WorldSettings (CARLA's object is mutable)."""
    settings = carla.WorldSettings()
    for name in ("synchronous_mode", "no_rendering_mode", "fixed_delta_seconds", "substepping",
                 "max_substep_delta_time", "max_substeps", "max_culling_distance", "deterministic_ragdolls",
                 "tile_stream_distance", "actor_active_distance", "spectator_as_ego"):
        if hasattr(source, name):
            setattr(settings, name, getattr(source, name))
    return settings

