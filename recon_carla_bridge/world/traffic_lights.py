"""Traffic lights and stop signs from the OpenDRIVE signals, with CARLA's light cycle.

Each distinct signal of type 1000001 becomes one `traffic.traffic_light` actor placed at the
signal, with a trigger volume where CARLA puts its trigger boxes: on the incoming lanes, just before
the stop line. CARLA's server (UTrafficLightComponent) takes each controlled lane at the signal's s;
when that lane is a junction's connecting road, it moves to the lane's one predecessor outside the
junction (the end of the incoming lane), then backs the box up along that lane, clamped to it. So
the volume's centre is on the road a vehicle arrives by, which is what CARLA's BasicAgent compares
with its own road. Lights that guard the same junction form a group that cycles as CARLA's does: one
light green (then yellow) at a time, all others red. Signals of type 206 become `traffic.stop` actors
with a trigger volume placed the same way.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import carla
import numpy as np

from recon_carla_bridge.world.native_guards import previous_until_lane_start

TRAFFIC_LIGHT_TYPE = "1000001"
STOP_SIGN_TYPE = "206"
GREEN_TIME_S = 10.0  # CARLA's default durations
YELLOW_TIME_S = 3.0
RED_TIME_S = 2.0  # all-red gap between two lights of a group
TRIGGER_DEPTH_M = 7.0  # length of the trigger volume along the lane, ending at the stop line
STOP_LINE_DEPTH_M = 2.0  # depth of the stop-line box the traffic manager stops in front of (>= its 2 m path spacing)


@dataclass
class LightRecord:
    """A traffic light or stop sign and what it controls (CARLA frame)."""

    opendrive_id: str
    kind: str  # 'traffic_light' | 'stop'
    transform: carla.Transform  # pole position and heading
    lane_waypoints: list[carla.Waypoint]  # one per controlled lane, at the signal's s (CARLA's affected lanes)
    trigger_center: np.ndarray  # (3,) world, centre of the trigger volume
    trigger_half_extents: np.ndarray  # (3,) m, in the trigger's own frame
    trigger_yaw: float  # deg, heading of the controlled lanes
    stop_point: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) world, centre of the stop line
    junction_id: int = -1  # junction the lanes lead into (-1 if none)
    actor_id: int = 0
    state: carla.TrafficLightState = carla.TrafficLightState.Red
    frozen: bool = False
    elapsed: float = 0.0  # s in the current state
    green_time: float = GREEN_TIME_S
    yellow_time: float = YELLOW_TIME_S
    red_time: float = RED_TIME_S
    group: list[int] = field(default_factory=list)  # actor ids of the lights cycling together



LIGHT_CACHE_ATTRIBUTE = "_light_record_templates"  # where a map keeps its built records (worlds get copies)


def build_light_records(wmap: carla.Map) -> list[LightRecord]:
    """One record per distinct traffic-light / stop signal of the map: fresh records each call (a world mutates
    them), copied from the ones built the first time for this map object (the map's signals never change)."""
    templates = getattr(wmap, LIGHT_CACHE_ATTRIBUTE, None)
    if templates is None:
        templates = _build_light_records(wmap)
        try:
            setattr(wmap, LIGHT_CACHE_ATTRIBUTE, templates)
        except AttributeError:  # a native carla.Map takes no attributes: built every time
            pass
    return [_fresh_copy(record) for record in templates]


def _fresh_copy(record: LightRecord) -> LightRecord:
    """A copy that shares nothing mutable with `record` (waypoints and the transform are never mutated)."""
    return dataclasses.replace(record, lane_waypoints=list(record.lane_waypoints),
                               trigger_center=record.trigger_center.copy(),
                               trigger_half_extents=record.trigger_half_extents.copy(),
                               stop_point=record.stop_point.copy(), group=list(record.group))


def _build_light_records(wmap: carla.Map) -> list[LightRecord]:
    records: dict[str, LightRecord] = {}
    for landmark in wmap.get_all_landmarks():
        if landmark.type not in (TRAFFIC_LIGHT_TYPE, STOP_SIGN_TYPE):
            continue
        waypoints = _controlled_lanes(wmap, landmark)
        kind = "traffic_light" if landmark.type == TRAFFIC_LIGHT_TYPE else "stop"
        record = records.get(landmark.id)
        if record is None:
            if not waypoints:
                continue
            record = LightRecord(landmark.id, kind, landmark.transform, [], np.zeros(3), np.zeros(3), 0.0)
            records[landmark.id] = record
        known = {(w.road_id, w.lane_id) for w in record.lane_waypoints}
        record.lane_waypoints += [w for w in waypoints if (w.road_id, w.lane_id) not in known]
    for record in records.values():
        _fit_trigger(record)
        record.junction_id = _junction_ahead(record.lane_waypoints)
    return list(records.values())


def _controlled_lanes(wmap: carla.Map, landmark: carla.Landmark) -> list[carla.Waypoint]:
    """Driving-lane waypoints at the landmark's s on the lanes its validity records name."""
    waypoints = []
    for from_lane, to_lane in landmark.get_lane_validities():
        for lane_id in range(min(from_lane, to_lane), max(from_lane, to_lane) + 1):
            if lane_id == 0:
                continue
            try:
                waypoint = wmap.get_waypoint_xodr(landmark.road_id, lane_id, landmark.s)
            except RuntimeError:
                waypoint = None
            if waypoint is not None and waypoint.lane_type == carla.LaneType.Driving:
                waypoints.append(waypoint)
    return waypoints


def approach_waypoint(waypoint: carla.Waypoint) -> carla.Waypoint:
    """Where a controlled lane is entered: a lane of a junction's connecting road is replaced by the end of
    its one predecessor outside the junction, as CARLA's server does; any other lane is kept."""
    if not waypoint.is_junction:
        return waypoint
    lane_start = (previous_until_lane_start(waypoint, 0.5) or [waypoint])[-1]
    lane_start = (previous_until_lane_start(lane_start, 0.02) or [lane_start])[-1]  # within 2 cm of the start
    predecessors = lane_start.previous(0.05)
    if len(predecessors) == 1 and not predecessors[0].is_junction:
        return predecessors[0]
    return waypoint


def _room_behind(waypoint: carla.Waypoint, wanted: float, step: float = 0.5) -> float:
    """How far (<= wanted m, to `step`) the lane runs back from `waypoint` on the same road and lane."""
    current, room = waypoint, 0.0
    while room + step <= wanted:
        same_lane = [w for w in current.previous(step) if (w.road_id, w.lane_id) == (waypoint.road_id, waypoint.lane_id)]
        if not same_lane or abs(same_lane[0].s - current.s) < 1e-6:
            break
        current, room = same_lane[0], room + step
    return room


def _fit_trigger(record: LightRecord) -> None:
    approaches: dict[tuple[int, int], carla.Waypoint] = {}
    for waypoint in record.lane_waypoints:
        approach = approach_waypoint(waypoint)
        approaches.setdefault((approach.road_id, approach.lane_id), approach)
    first = next(iter(approaches.values()))
    # One volume over the incoming lanes of the first lane's road and direction (CARLA reports one box too).
    lanes = [w for w in approaches.values() if w.road_id == first.road_id and (w.lane_id > 0) == (first.lane_id > 0)]
    yaw = first.transform.rotation.yaw
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    points = np.array([[w.transform.location.x, w.transform.location.y, w.transform.location.z] for w in lanes])
    stop = points.mean(axis=0)
    lateral = np.abs(-(points[:, 0] - stop[0]) * s + (points[:, 1] - stop[1]) * c)
    width = max(w.lane_width for w in lanes)
    depth = max(min(_room_behind(w, TRIGGER_DEPTH_M) for w in lanes), 1.0)
    record.stop_point = stop
    # The volume lies on the incoming lanes, ending at the stop line, and no longer than those lanes.
    record.trigger_center = stop - np.array([c, s, 0.0]) * depth / 2.0
    record.trigger_half_extents = np.array([depth / 2.0, float(lateral.max()) + width / 2.0, 1.0])
    record.trigger_yaw = yaw


def waypoints_under_trigger(wmap: carla.Map, record: LightRecord) -> list[carla.Waypoint]:
    """One waypoint per lane under the trigger volume, sampled every metre across its centre line within
    0.9 of its half width (what CARLA's `TrafficLight.get_stop_waypoints` computes from the volume)."""
    yaw = math.radians(record.trigger_yaw)
    across = np.array([-math.sin(yaw), math.cos(yaw), 0.0])
    reach = 0.9 * float(record.trigger_half_extents[1])
    found: dict[tuple[int, int], carla.Waypoint] = {}
    for offset in np.arange(-reach, reach + 1e-6, 1.0) if reach >= 1.0 else [0.0]:
        point = record.trigger_center + across * offset
        waypoint = wmap.get_waypoint(carla.Location(*map(float, point)))
        if waypoint is not None:
            found.setdefault((waypoint.road_id, waypoint.lane_id), waypoint)
    return list(found.values())


def _junction_ahead(waypoints: list[carla.Waypoint]) -> int:
    for waypoint in waypoints:
        if waypoint.is_junction:
            return waypoint.junction_id
        for step in (2.0, 5.0, 10.0, 20.0):
            for ahead in waypoint.next(step):
                if ahead.is_junction:
                    return ahead.junction_id
    return -1


@dataclass
class LightGroup:
    """Lights that take turns at one junction: whose turn it is, in which phase, for how long."""

    members: list[LightRecord]
    turn: int = 0  # index of the light whose turn it is
    phase: str = "green"  # 'green' | 'yellow' | 'all_red'
    elapsed: float = 0.0  # s in the phase

    def apply(self) -> None:
        """Write the phase into every member's state."""
        for index, record in enumerate(self.members):
            if index == self.turn and self.phase == "green":
                record.state = carla.TrafficLightState.Green
            elif index == self.turn and self.phase == "yellow":
                record.state = carla.TrafficLightState.Yellow
            else:
                record.state = carla.TrafficLightState.Red
            record.elapsed = self.elapsed if index == self.turn else 0.0

    def advance(self, dt: float) -> None:
        """Advance the cycle by dt seconds (nothing happens while any member is frozen)."""
        if any(r.frozen for r in self.members):
            return
        self.elapsed += dt
        current = self.members[self.turn]
        limits = {"green": current.green_time, "yellow": current.yellow_time, "all_red": current.red_time}
        changed = False
        while self.elapsed >= limits[self.phase]:
            self.elapsed -= limits[self.phase]
            if self.phase == "green":
                self.phase = "yellow"
            elif self.phase == "yellow":
                self.phase = "all_red"
            else:
                self.phase, self.turn = "green", (self.turn + 1) % len(self.members)
                current = self.members[self.turn]
                limits = {"green": current.green_time, "yellow": current.yellow_time, "all_red": current.red_time}
            changed = True
        if changed:
            self.apply()
        else:
            current.elapsed = self.elapsed


def assign_groups(records: list[LightRecord]) -> list[LightGroup]:
    """Group lights by the junction they guard; each group starts with its first light green."""
    by_junction: dict[int, list[LightRecord]] = {}
    for record in records:
        if record.kind != "traffic_light":
            continue
        key = record.junction_id if record.junction_id >= 0 else -record.actor_id - 1
        by_junction.setdefault(key, []).append(record)
    groups = []
    for members in by_junction.values():
        ids = [r.actor_id for r in members]
        for record in members:
            record.group = ids
        group = LightGroup(members)
        group.apply()
        groups.append(group)
    return groups
