"""The traffic manager: drives autopilot vehicles along lanes, as CARLA's TrafficManager does.

Each registered vehicle keeps a short path of lane-centre points ahead (refilled from the map,
choosing a branch at junctions at random, or as `set_route`/`set_path` say). Every tick, for all
vehicles at once: pure-pursuit steering towards a look-ahead point, and an IDM speed controller
with the lane's speed limit (less the configured percentage), slowing for curves and keeping a gap
to whatever is on its path.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import carla
import numpy as np

from recon_carla_bridge.world.blueprint_catalog import VehicleSpec
from recon_carla_bridge.world.state import ActorKind

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.simulation import Simulation

PATH_SPACING_M = 2.0  # distance between path points
PATH_POINTS = 25  # points kept ahead (50 m)
MIN_LOOKAHEAD_M = 4.0
LOOKAHEAD_TIME_S = 0.6
CURVE_LATERAL_ACCEL = 2.5  # m/s², comfortable cornering
IDM_TIME_HEADWAY_S = 1.2
IDM_COMFORT_DECEL = 3.0  # m/s²
DEFAULT_SPEED_DIFFERENCE_PCT = 30.0  # CARLA's TM drives 30 % below the limit by default
DEFAULT_LEADING_DISTANCE_M = 2.5
PATH_HALF_WIDTH_M = 1.6  # an obstacle this close to the path is in the way
DRIVE_OVER_HALF_HEIGHT_M = 0.15  # props no higher than twice this (road debris) are driven over, not stopped for
JUNCTION_LOOKAHEAD_M = 15.0  # junction entries closer than this are negotiated
CONFLICT_DISTANCE_M = 2.5  # two paths through a junction closer than this conflict


@dataclass
class _Autopilot:
    """Per-vehicle traffic-manager state."""

    waypoints: deque = field(default_factory=deque)  # carla.Waypoint ahead
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (K, 2) their x, y
    speed_difference_pct: float | None = None
    leading_distance: float | None = None
    ignore_vehicles_pct: float = 0.0
    ignore_walkers_pct: float = 0.0
    ignore_lights_pct: float = 0.0
    desired_speed_kmh: float | None = None
    route: deque = field(default_factory=deque)  # 'Left' | 'Right' | 'Straight' choices at junctions
    path: deque = field(default_factory=deque)  # carla.Location targets from set_path
    limits: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K,) km/h speed limit at each point
    junctions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # (K,) junction id or -1
    lane_offset: float = 0.0
    last_option: str = "LaneFollow"


class TrafficManager:
    """CARLA's TrafficManager API over our world."""

    def __init__(self, sim: "Simulation", port: int):
        self._sim = sim
        self._port = port
        self._vehicles: dict[int, _Autopilot] = {}
        self._global_speed_difference = DEFAULT_SPEED_DIFFERENCE_PCT
        self._global_leading_distance = DEFAULT_LEADING_DISTANCE_M
        self._rng = np.random.default_rng(0)
        self._synchronous = False
        self._hybrid = False

    # ---- registration and settings (CARLA's names) -------------------------------------------
    def get_port(self) -> int:
        """The port this traffic manager was asked for."""
        return self._port

    def register(self, actor_id: int, enabled: bool) -> None:
        """Start or stop driving a vehicle."""
        state = self._sim._states.get(actor_id)
        if state is not None:
            state.autopilot = enabled and state.kind == ActorKind.VEHICLE
        if enabled and state is not None and state.kind == ActorKind.VEHICLE:
            self._vehicles.setdefault(actor_id, _Autopilot())
        else:
            self._vehicles.pop(actor_id, None)

    def _entry(self, actor: Any) -> _Autopilot:
        actor_id = actor if isinstance(actor, int) else actor.id
        return self._vehicles.setdefault(actor_id, _Autopilot())

    def set_synchronous_mode(self, mode: bool = True) -> None:
        """The TM always runs inside the world's tick; stored for compatibility."""
        self._synchronous = bool(mode)

    def set_random_device_seed(self, value: int) -> None:
        """Seed the TM's random choices (junction branches, ignore percentages)."""
        self._rng = np.random.default_rng(int(value))

    def set_hybrid_physics_mode(self, enabled: bool = False) -> None:
        """All vehicles are kinematic already; stored for compatibility."""
        self._hybrid = bool(enabled)

    def set_hybrid_physics_radius(self, r: float = 70.0) -> None:
        """All vehicles are kinematic already."""

    def set_osm_mode(self, mode_switch: bool = True) -> None:
        """No OSM-specific behaviour."""

    def set_respawn_dormant_vehicles(self, mode_switch: bool = False) -> None:
        """No dormant vehicles here."""

    def set_boundaries_respawn_dormant_vehicles(self, lower_bound: float = 25.0, upper_bound: float = 100.0) -> None:
        """No dormant vehicles here."""

    def global_percentage_speed_difference(self, percentage: float) -> None:
        """Drive `percentage` % below the speed limit (negative: above)."""
        self._global_speed_difference = float(percentage)

    def vehicle_percentage_speed_difference(self, actor: Any, percentage: float) -> None:
        """Per-vehicle speed difference in %."""
        self._entry(actor).speed_difference_pct = float(percentage)

    def set_desired_speed(self, actor: Any, speed: float) -> None:
        """Per-vehicle target speed in km/h (overrides the limit)."""
        self._entry(actor).desired_speed_kmh = float(speed)

    def set_global_distance_to_leading_vehicle(self, distance: float) -> None:
        """Minimum gap to the vehicle ahead, metres."""
        self._global_leading_distance = float(distance)

    def distance_to_leading_vehicle(self, actor: Any, distance: float) -> None:
        """Per-vehicle minimum gap, metres."""
        self._entry(actor).leading_distance = float(distance)

    def ignore_vehicles_percentage(self, actor: Any, perc: float) -> None:
        """Chance (%) per tick to ignore vehicles ahead."""
        self._entry(actor).ignore_vehicles_pct = float(perc)

    def ignore_walkers_percentage(self, actor: Any, perc: float) -> None:
        """Chance (%) per tick to ignore walkers ahead."""
        self._entry(actor).ignore_walkers_pct = float(perc)

    def ignore_lights_percentage(self, actor: Any, perc: float) -> None:
        """Chance (%) per tick to drive through red lights."""
        self._entry(actor).ignore_lights_pct = float(perc)

    def ignore_signs_percentage(self, actor: Any, perc: float) -> None:
        """No stop signs are simulated; accepted."""

    def auto_lane_change(self, actor: Any, enable: bool) -> None:
        """Lane changes happen only when forced (see README); accepted."""

    def random_left_lanechange_percentage(self, actor: Any, percentage: float) -> None:
        """Accepted; random lane changes are not simulated."""

    def random_right_lanechange_percentage(self, actor: Any, percentage: float) -> None:
        """Accepted; random lane changes are not simulated."""

    def keep_right_rule_percentage(self, actor: Any, perc: float) -> None:
        """Accepted; keep-right is not simulated."""

    def collision_detection(self, reference_actor: Any, other_actor: Any, detect_collision: bool) -> None:
        """Accepted; vehicles always yield to what is on their path."""

    def update_vehicle_lights(self, actor: Any, do_update: bool) -> None:
        """Accepted; lights are not rendered."""

    def vehicle_lane_offset(self, actor: Any, offset: float) -> None:
        """Drive `offset` metres to the right of the lane centre."""
        self._entry(actor).lane_offset = float(offset)

    def global_lane_offset(self, offset: float) -> None:
        """Lane offset for every registered vehicle."""
        for entry in self._vehicles.values():
            entry.lane_offset = float(offset)

    def force_lane_change(self, actor: Any, direction: bool) -> None:
        """Change to the left (True) or right (False) lane when there is a driving lane there."""
        actor_id = actor if isinstance(actor, int) else actor.id
        entry = self._entry(actor_id)
        state = self._sim.state_of(actor_id)
        here = self._waypoint_at(state.location)
        if here is None:
            return
        target = here.get_left_lane() if direction else here.get_right_lane()
        if target is None or target.lane_type != carla.LaneType.Driving:
            return
        ahead = target.next(max(8.0, abs(state.speed) * 1.5))
        if ahead:
            entry.waypoints = deque([ahead[0]])
            entry.points = np.array([[ahead[0].transform.location.x, ahead[0].transform.location.y]])
            entry.limits = np.array([self._sim.road_speed_limit(ahead[0].road_id)])
            entry.junctions = np.array([ahead[0].junction_id if ahead[0].is_junction else -1], np.int64)
            entry.last_option = "ChangeLaneLeft" if direction else "ChangeLaneRight"

    def set_path(self, actor: Any, path: list[carla.Location]) -> None:
        """Drive through these locations, in order, then carry on along the lane."""
        entry = self._entry(actor)
        entry.path = deque(path)
        entry.waypoints.clear()
        entry.points = np.zeros((0, 2))
        entry.limits = np.zeros(0)
        entry.junctions = np.zeros(0, np.int64)

    def set_route(self, actor: Any, path: list[str]) -> None:
        """Take these turns ('Left', 'Right', 'Straight') at the next junctions."""
        entry = self._entry(actor)
        entry.route = deque(path)

    def get_next_action(self, actor: Any) -> list:
        """[road option, waypoint] of the next path point."""
        entry = self._entry(actor)
        return [entry.last_option, entry.waypoints[0] if entry.waypoints else None]

    def get_all_actions(self, actor: Any) -> list:
        """[road option, waypoint] for every path point ahead."""
        entry = self._entry(actor)
        return [[entry.last_option, wp] for wp in entry.waypoints]

    def shut_down(self) -> None:
        """Release every vehicle."""
        for actor_id in list(self._vehicles):
            self.register(actor_id, False)

    # ---- driving -----------------------------------------------------------------------------
    def _waypoint_at(self, location: np.ndarray) -> carla.Waypoint | None:
        return self._sim.map.get_waypoint(carla.Location(float(location[0]), float(location[1]), float(location[2])))

    def _refill(self, entry: _Autopilot, location: np.ndarray) -> None:
        """Extend the path to PATH_POINTS waypoints; keeps `points` and `limits` in step."""
        if not entry.waypoints:
            start = self._waypoint_at(location)
            if start is None:
                return
            entry.waypoints.append(start)
            entry.points = np.zeros((0, 2))
            entry.limits = np.zeros(0)
            entry.junctions = np.zeros(0, np.int64)
        added = []
        while len(entry.waypoints) < PATH_POINTS:
            last = entry.waypoints[-1]
            options = last.next(PATH_SPACING_M)
            if not options:
                break
            chosen = self._choose(entry, last, options)
            location = chosen.transform.location
            if not all(math.isfinite(v) for v in (location.x, location.y, location.z)):
                break  # a malformed map geometry: never steer towards NaN
            entry.waypoints.append(chosen)
            added.append(chosen)
        missing = len(entry.waypoints) - len(entry.points)
        if missing > 0:
            fresh = list(entry.waypoints)[-missing:]
            entry.points = np.vstack([entry.points, [[w.transform.location.x, w.transform.location.y] for w in fresh]])
            entry.limits = np.concatenate([entry.limits, [self._sim.road_speed_limit(w.road_id) for w in fresh]])
            entry.junctions = np.concatenate([entry.junctions, [w.junction_id if w.is_junction else -1 for w in fresh]]).astype(np.int64)

    def _choose(self, entry: _Autopilot, current: carla.Waypoint, options: list[carla.Waypoint]) -> carla.Waypoint:
        if len(options) == 1:
            return options[0]
        if entry.path:
            target = entry.path[0]
            return min(options, key=lambda w: w.transform.location.distance(target))
        if entry.route:
            wanted = entry.route.popleft()
            turns = {}
            for option in options:
                turns.setdefault(_relative_turn(current, option), option)
            if wanted in turns:
                return turns[wanted]
        return options[int(self._rng.integers(len(options)))]

    def compute_controls(self, dt: float) -> None:
        """Set a VehicleControl for every registered vehicle (called at the start of each tick)."""
        sim = self._sim
        driven: list[tuple[_Autopilot, Any, VehicleSpec]] = []
        for actor_id, entry in self._vehicles.items():
            state = sim._states.get(actor_id)
            spec = sim._specs.get(actor_id)
            if state is None or not isinstance(spec, VehicleSpec) or not state.simulate_physics:
                continue
            self._consume_path_targets(entry, state.location)
            self._drop_passed(entry, state)
            self._refill(entry, state.location)
            if len(entry.points) == 0:
                state.vehicle_control = carla.VehicleControl(throttle=0.0, brake=1.0)
                continue
            driven.append((entry, state, spec))
        if not driven:
            return
        controls = self._controls(driven)
        for (entry, state, _), control in zip(driven, controls):
            state.vehicle_control = control

    def _consume_path_targets(self, entry: _Autopilot, location: np.ndarray) -> None:
        while entry.path and math.hypot(entry.path[0].x - location[0], entry.path[0].y - location[1]) < 3.0:
            entry.path.popleft()

    def _drop_passed(self, entry: _Autopilot, state: Any) -> None:
        points = entry.points
        if len(points) == 0:
            return
        yaw = math.radians(state.rotation[1])
        cos_y, sin_y = math.cos(yaw), math.sin(yaw)
        x, y = state.location[0], state.location[1]
        passed = 0
        while passed < len(points) - 1 and (points[passed, 0] - x) * cos_y + (points[passed, 1] - y) * sin_y < 0.5:
            passed += 1
        for _ in range(passed):
            entry.waypoints.popleft()
        if passed:
            entry.points = points[passed:]
            entry.limits = entry.limits[passed:]
            entry.junctions = entry.junctions[passed:]
        # Far off the path (teleported, pushed): start again from the lane under the vehicle.
        first = entry.points[0]
        if math.hypot(first[0] - x, first[1] - y) > 8.0:
            entry.waypoints.clear()
            entry.points = np.zeros((0, 2))
            entry.limits = np.zeros(0)
            entry.junctions = np.zeros(0, np.int64)

    def _controls(self, driven: list[tuple[_Autopilot, Any, VehicleSpec]]) -> list[carla.VehicleControl]:
        """Vectorised pure pursuit + IDM for N vehicles with padded (N, K) paths."""
        count = len(driven)
        points = np.empty((count, PATH_POINTS, 2))
        limits = np.empty((count, PATH_POINTS))
        junctions = np.full((count, PATH_POINTS), -1, np.int64)
        valid = np.zeros((count, PATH_POINTS), bool)
        position = np.empty((count, 2))
        yaw = np.empty(count)
        speed = np.empty(count)
        wheelbase = np.empty(count)
        length = np.empty(count)
        width = np.empty(count)
        max_steer = np.empty(count)
        max_accel = np.empty(count)
        max_decel = np.empty(count)
        desired_override = np.full(count, np.nan)
        difference = np.empty(count)
        min_gap = np.empty(count)
        ignore_vehicles = np.zeros(count, bool)
        ignore_walkers = np.zeros(count, bool)
        ignore_lights = np.zeros(count, bool)
        ids = np.empty(count, np.int64)
        for i, (entry, state, spec) in enumerate(driven):
            k = len(entry.points)
            path = entry.points
            if entry.lane_offset and k >= 2:
                tangent = np.gradient(path, axis=0)
                normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
                path = path + normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9) * entry.lane_offset
            points[i, :k], points[i, k:] = path, path[-1]
            limits[i, :k], limits[i, k:] = entry.limits, entry.limits[-1]
            junctions[i, :k] = entry.junctions
            valid[i, :k] = True
            position[i] = state.location[:2]
            yaw[i] = math.radians(state.rotation[1])
            speed[i] = max(state.speed, 0.0)
            wheelbase[i], length[i], width[i] = spec.wheelbase, spec.length, spec.width
            max_steer[i], max_accel[i], max_decel[i] = math.radians(spec.max_steer_deg), spec.max_accel, spec.max_decel
            if entry.desired_speed_kmh is not None:
                desired_override[i] = entry.desired_speed_kmh / 3.6
            difference[i] = entry.speed_difference_pct if entry.speed_difference_pct is not None else self._global_speed_difference
            min_gap[i] = entry.leading_distance if entry.leading_distance is not None else self._global_leading_distance
            ignore_vehicles[i] = entry.ignore_vehicles_pct > 0 and self._rng.random() * 100.0 < entry.ignore_vehicles_pct
            ignore_walkers[i] = entry.ignore_walkers_pct > 0 and self._rng.random() * 100.0 < entry.ignore_walkers_pct
            ignore_lights[i] = entry.ignore_lights_pct > 0 and self._rng.random() * 100.0 < entry.ignore_lights_pct
            ids[i] = state.actor_id
        heading = np.stack([np.cos(yaw), np.sin(yaw)], axis=1)  # (N, 2)

        # Steering: pure pursuit from the rear axle.
        rear = position - heading * (wheelbase / 2.0)[:, None]
        lookahead = np.maximum(MIN_LOOKAHEAD_M, LOOKAHEAD_TIME_S * speed + wheelbase / 2.0)
        offsets = points - rear[:, None, :]  # (N, K, 2)
        distance = np.linalg.norm(offsets, axis=2)
        beyond = distance >= lookahead[:, None]
        target_index = np.where(beyond.any(axis=1), np.argmax(beyond, axis=1), PATH_POINTS - 1)
        rows = np.arange(count)
        target = offsets[rows, target_index]  # (N, 2)
        local_x = heading[:, 0] * target[:, 0] + heading[:, 1] * target[:, 1]
        local_y = -heading[:, 1] * target[:, 0] + heading[:, 0] * target[:, 1]
        alpha = np.arctan2(local_y, local_x)
        wheel_angle = np.arctan2(2.0 * wheelbase * np.sin(alpha), np.maximum(np.hypot(local_x, local_y), 1e-3))
        steer = np.clip(wheel_angle / max_steer, -1.0, 1.0)

        # Desired speed: the road's limit less the percentage, slowed for the curvature ahead.
        desired = np.where(np.isnan(desired_override), limits[:, 0] / 3.6 * (1.0 - difference / 100.0), desired_override)
        segment = np.diff(points, axis=1)  # (N, K-1, 2)
        headings = np.unwrap(np.arctan2(segment[..., 1], segment[..., 0]), axis=1)
        turn = np.abs(np.diff(headings, axis=1))[:, :10]  # (N, 9)
        curvature = np.where(valid[:, 2:12], turn / PATH_SPACING_M, 0.0).max(axis=1)
        desired = np.minimum(desired, np.sqrt(CURVE_LATERAL_ACCEL / np.maximum(curvature, 1e-4)))

        gap, lead_speed = self._gaps(ids, position, heading, points, length, width, ignore_vehicles, ignore_walkers)
        light_gap = self._red_light_gaps(position, points, length, ignore_lights)
        junction_gap = self._junction_gaps(ids, position, points, junctions, length, width)
        for stop_gap in (light_gap, junction_gap):
            closer = stop_gap < gap
            gap = np.where(closer, stop_gap, gap)
            lead_speed = np.where(closer, 0.0, lead_speed)
        accel = np.where(desired > 0.1, max_accel * 0.8 * (1.0 - (speed / np.maximum(desired, 0.1)) ** 4), -max_decel)
        has_lead = np.isfinite(gap)
        desired_gap = min_gap + speed * IDM_TIME_HEADWAY_S + speed * (speed - lead_speed) / (
            2.0 * np.sqrt(max_accel * IDM_COMFORT_DECEL))
        interaction = max_accel * 0.8 * (np.maximum(desired_gap, min_gap) / np.maximum(np.where(has_lead, gap, 1.0), 0.1)) ** 2
        accel = accel - np.where(has_lead, interaction, 0.0)

        controls = []
        for i in range(count):
            if accel[i] >= 0.0:
                controls.append(carla.VehicleControl(throttle=float(min(1.0, accel[i] / max_accel[i] + 0.05)),
                                                     steer=float(steer[i]), brake=0.0))
            else:
                brake = float(min(1.0, -accel[i] / max_decel[i]))
                if speed[i] < 0.1 and has_lead[i] and gap[i] < min_gap[i] + 0.5:
                    brake = 1.0
                controls.append(carla.VehicleControl(throttle=0.0, steer=float(steer[i]), brake=brake))
        return controls

    def _red_light_gaps(self, position: np.ndarray, points: np.ndarray, length: np.ndarray,
                        ignore_lights: np.ndarray) -> np.ndarray:
        """Free distance (m) along each path to the stop line of the first red/yellow light on it (inf if none)."""
        count = len(position)
        gap = np.full(count, np.inf)
        stopping = [r for r in self._sim.light_records() if r.kind == "traffic_light"
                    and r.state in (carla.TrafficLightState.Red, carla.TrafficLightState.Yellow)]
        if not stopping:
            return gap
        from recon_carla_bridge.world.traffic_lights import STOP_LINE_DEPTH_M

        centers = np.array([r.stop_point[:2] for r in stopping])  # (L, 2)
        half = np.array([[STOP_LINE_DEPTH_M / 2.0, r.trigger_half_extents[1]] for r in stopping])  # (L, 2)
        yaw = np.radians([r.trigger_yaw for r in stopping])  # (L,)
        path = np.concatenate([position[:, None, :], points], axis=1)  # (N, K+1, 2)
        arc = np.concatenate([np.zeros((count, 1)), np.cumsum(np.linalg.norm(np.diff(path, axis=1), axis=2), axis=1)], axis=1)
        # Only (vehicle, light) pairs within reach of the vehicle's path are examined.
        reach = arc[:, -1] + 5.0
        near = np.linalg.norm(position[:, None, :] - centers[None, :, :], axis=2) < reach[:, None]  # (N, L)
        near[ignore_lights] = False
        rows, lights = np.nonzero(near)
        if len(rows) == 0:
            return gap
        delta = path[rows] - centers[lights][:, None, :]  # (P, K+1, 2)
        cos, sin = np.cos(yaw[lights])[:, None], np.sin(yaw[lights])[:, None]
        local_x = delta[..., 0] * cos + delta[..., 1] * sin
        local_y = -delta[..., 0] * sin + delta[..., 1] * cos
        inside = (np.abs(local_x) <= half[lights, 0:1]) & (np.abs(local_y) <= half[lights, 1:2])  # (P, K+1)
        # Only lights guarding the vehicle's own lane: its path must run along the light's lanes.
        path_heading = np.arctan2(np.gradient(path[rows][..., 1], axis=1), np.gradient(path[rows][..., 0], axis=1))
        inside &= np.cos(path_heading - yaw[lights][:, None]) > 0.7
        first = np.argmax(inside, axis=1)
        hit = inside.any(axis=1) & (first > 0)  # already on the stop line when it changed: drive on
        for pair in np.nonzero(hit)[0]:
            row = rows[pair]
            gap[row] = min(gap[row], arc[row, first[pair]] - length[row] / 2.0)
        return gap

    def _junction_gaps(self, ids: np.ndarray, position: np.ndarray, points: np.ndarray, junctions: np.ndarray,
                       length: np.ndarray, width: np.ndarray) -> np.ndarray:
        """Free distance to the entry of the next junction for vehicles that must wait there (inf otherwise).

        A vehicle about to enter a junction waits while another vehicle or walker that is in the
        junction, or that is nearer to entering it, will pass where it wants to go: their paths
        through the junction come within CONFLICT_DISTANCE_M (an autopilot vehicle's path is its
        planned one; anyone else's is straight ahead). Vehicles in the same lane are left to the
        car-following model, and parallel lanes never conflict, so highway junctions keep flowing.
        """
        count = len(ids)
        gap = np.full(count, np.inf)
        path = np.concatenate([position[:, None, :], points], axis=1)  # (N, K+1, 2)
        arc = np.concatenate([np.zeros((count, 1)), np.cumsum(np.linalg.norm(np.diff(path, axis=1), axis=2), axis=1)], axis=1)
        has_junction = junctions >= 0
        first = np.argmax(has_junction, axis=1)
        approaching = has_junction.any(axis=1)
        target = np.where(approaching, junctions[np.arange(count), first], -1)
        entry_arc = arc[np.arange(count), first + 1]  # path point k is at arc index k + 1
        candidates = approaching & (entry_arc < JUNCTION_LOOKAHEAD_M) & (first > 0)
        if not candidates.any():
            return gap
        row_of_id = {int(actor_id): row for row, actor_id in enumerate(ids)}
        occupants = self._junction_occupants({int(j) for j in target[candidates]})
        for i in np.nonzero(candidates)[0]:
            junction_id = int(target[i])
            mine = path[i][(junctions[i] == junction_id).nonzero()[0] + 1]  # my points inside the junction
            blockers: list[np.ndarray] = []
            for actor_id, xy, heading in occupants.get(junction_id, []):
                if actor_id == int(ids[i]):
                    continue
                row = row_of_id.get(actor_id)
                blockers.append(path[row] if row is not None else xy + np.outer(np.arange(0.0, 15.0, 1.0), heading))
            rivals = candidates & (target == junction_id)
            rivals[i] = False
            earlier = rivals & ((entry_arc < entry_arc[i] - 0.5) | ((np.abs(entry_arc - entry_arc[i]) <= 0.5) & (ids < ids[i])))
            blockers += [path[j][1:] for j in np.nonzero(earlier)[0]]
            for other in blockers:
                leader = np.min(np.linalg.norm(path[i] - other[0], axis=1)) < PATH_HALF_WIDTH_M + width[i] / 2.0
                if leader:
                    continue  # in my lane ahead of me: the car-following model keeps the gap
                closest = np.min(np.linalg.norm(mine[:, None, :] - other[None, :, :], axis=2))
                if closest < CONFLICT_DISTANCE_M:
                    gap[i] = entry_arc[i] - length[i] / 2.0 - 0.5
                    break
        return gap

    def _junction_occupants(self, junction_ids: set[int]) -> dict[int, list[tuple[int, np.ndarray, np.ndarray]]]:
        """junction id -> (actor id, position (2,), heading (2,)) of vehicles and walkers on its lanes."""
        boxes = self._sim.junction_boxes()
        found: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        for state in self._sim._states.values():
            if state.kind not in (ActorKind.VEHICLE, ActorKind.WALKER):
                continue
            xy = state.location[:2]
            near = [j for j in junction_ids if j in boxes and _in_box(xy, boxes[j], margin=2.0)]
            if not near:
                continue
            waypoint = self._sim.map.get_waypoint(carla.Location(float(xy[0]), float(xy[1]), float(state.location[2])),
                                                  project_to_road=True, lane_type=carla.LaneType.Any)
            if waypoint is None or not waypoint.is_junction or waypoint.junction_id not in near:
                continue
            yaw = math.radians(state.rotation[1])
            found.setdefault(waypoint.junction_id, []).append((state.actor_id, xy.copy(), np.array([math.cos(yaw), math.sin(yaw)])))
        return found

    def _gaps(self, ids: np.ndarray, position: np.ndarray, heading: np.ndarray, points: np.ndarray, length: np.ndarray,
              width: np.ndarray, ignore_vehicles: np.ndarray, ignore_walkers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Free distance (m) along each vehicle's path to the nearest body on it (inf if none), and its speed."""
        # Props a car drives over (road debris, 0.1 m high) are no obstacle: CARLA's traffic manager ignores props.
        bodies = [s for s in self._sim._states.values() if s.kind in (ActorKind.VEHICLE, ActorKind.WALKER)
                  or (s.kind == ActorKind.PROP and s.half_extents[2] > DRIVE_OVER_HALF_HEIGHT_M)]
        count = len(ids)
        gap = np.full(count, np.inf)
        lead_speed = np.zeros(count)
        if len(bodies) < 2:
            return gap, lead_speed
        body_xy = np.array([[b.location[0], b.location[1]] for b in bodies])  # (M, 2)
        body_ids = np.array([b.actor_id for b in bodies])
        body_half_length = np.array([b.half_extents[0] for b in bodies])
        body_speed = np.array([math.hypot(b.velocity[0], b.velocity[1]) for b in bodies])
        body_is_walker = np.array([b.kind == ActorKind.WALKER for b in bodies])
        path = np.concatenate([position[:, None, :], points], axis=1)  # (N, K+1, 2)
        arc = np.concatenate([np.zeros((count, 1)), np.cumsum(np.linalg.norm(np.diff(path, axis=1), axis=2), axis=1)], axis=1)
        reach = arc[:, -1] + 5.0
        rough = np.linalg.norm(body_xy[None, :, :] - position[:, None, :], axis=2)  # (N, M)
        relevant = (rough < reach[:, None]) & (body_ids[None, :] != ids[:, None])
        relevant &= ~(ignore_vehicles[:, None] & ~body_is_walker[None, :])
        relevant &= ~(ignore_walkers[:, None] & body_is_walker[None, :])
        for i in np.nonzero(relevant.any(axis=1))[0]:
            candidates = np.nonzero(relevant[i])[0]
            to_points = np.linalg.norm(body_xy[candidates, None, :] - path[i][None, :, :], axis=2)  # (m, K+1)
            nearest = np.argmin(to_points, axis=1)
            on_path = to_points[np.arange(len(candidates)), nearest] < PATH_HALF_WIDTH_M + width[i] / 2.0
            forward = (body_xy[candidates] - position[i]) @ heading[i]
            hits = on_path & (forward > 0.0)
            if not hits.any():
                continue
            chosen = candidates[hits]
            gaps = arc[i, nearest[hits]] - length[i] / 2.0 - body_half_length[chosen]
            best = int(np.argmin(gaps))
            gap[i], lead_speed[i] = gaps[best], body_speed[chosen[best]]
        return gap, lead_speed


def _in_box(xy: np.ndarray, box: tuple[np.ndarray, np.ndarray, float, float], margin: float = 0.0) -> bool:
    center, half, cos, sin = box
    dx, dy = xy[0] - center[0], xy[1] - center[1]
    return abs(dx * cos + dy * sin) <= half[0] + margin and abs(-dx * sin + dy * cos) <= half[1] + margin


def _relative_turn(current: carla.Waypoint, option: carla.Waypoint) -> str:
    """'Left', 'Right' or 'Straight' for the branch `option` leaving `current` (looked at 20 m on)."""
    ahead = option.next(20.0)
    end = ahead[-1] if ahead else option
    change = (end.transform.rotation.yaw - current.transform.rotation.yaw + 180.0) % 360.0 - 180.0
    if change < -35.0:
        return "Left"
    if change > 35.0:
        return "Right"
    return "Straight"
