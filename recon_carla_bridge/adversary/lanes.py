"""CARLA map glue for the planner: lane centre lines as reference lines, adjacent lanes, drivable checks,
and where another vehicle is relative to the ego in bird's-eye view."""
from __future__ import annotations

import math

import carla
import numpy as np

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.world.native_guards import waypoint_stepper

LANE_STEP_M = 1.0  # spacing of the waypoints sampled along a lane
BOUNDARY_TOLERANCE_M = 0.05  # m beyond half a lane width still counted on the lane (float slack at lane edges)


def _straightest(options: list, heading: float):
    return min(options, key=lambda w: abs((w.transform.rotation.yaw - heading + 180.0) % 360.0 - 180.0))


def lane_reference(waypoint: carla.Waypoint, behind: float = 40.0, ahead: float = 250.0) -> ReferenceLine:
    """The centre line of `waypoint`'s lane from `behind` m before it to `ahead` m after it (straight on at junctions)."""
    previous, following = waypoint_stepper(False, LANE_STEP_M), waypoint_stepper(True, LANE_STEP_M)
    back = [waypoint]  # one option (no branch) is taken as it is: the common case, every metre of a lane
    while len(back) * LANE_STEP_M < behind:
        options = previous(back[-1])
        if not options:
            break
        back.append(options[0] if len(options) == 1 else _straightest(options, back[-1].transform.rotation.yaw))
    forward = [waypoint]
    while len(forward) * LANE_STEP_M < ahead:
        options = following(forward[-1])
        if not options:
            break
        forward.append(options[0] if len(options) == 1 else _straightest(options, forward[-1].transform.rotation.yaw))
    chain = back[::-1] + forward[1:]
    locations = [w.transform.location for w in chain]
    return ReferenceLine(np.array([c for location in locations for c in (location.x, location.y)]).reshape(-1, 2))


def adjacent_driving_lane(waypoint: carla.Waypoint, side: str) -> carla.Waypoint | None:
    """The lane to the driver's `side` ('left'/'right') going the same way, when it is a driving lane."""
    other = waypoint.get_left_lane() if side == "left" else waypoint.get_right_lane()
    if other is None or other.lane_type != carla.LaneType.Driving or other.lane_id * waypoint.lane_id <= 0:
        return None
    return other


def oncoming_lane(waypoint: carla.Waypoint) -> carla.Waypoint | None:
    """The driving lane to the driver's left that runs the other way, when there is one."""
    other = waypoint.get_left_lane()
    if other is None or other.lane_type != carla.LaneType.Driving or other.lane_id * waypoint.lane_id >= 0:
        return None
    return other


def side_lane(waypoint: carla.Waypoint, side: str) -> carla.Waypoint | None:
    """The lane a manoeuvre starts from: 'left'/'right' (same direction) or 'oncoming'."""
    return oncoming_lane(waypoint) if side == "oncoming" else adjacent_driving_lane(waypoint, side)


def on_drivable_lanes(wmap: carla.Map, xy: np.ndarray, z: float = 0.0, every: int = 4) -> bool:
    """Whether every `every`-th point (and the last) lies on a driving lane of the map."""
    indices = list(range(0, len(xy), every)) + [len(xy) - 1]
    for i in indices:
        location = carla.Location(float(xy[i, 0]), float(xy[i, 1]), z)
        if wmap.get_waypoint(location, project_to_road=False, lane_type=carla.LaneType.Driving) is not None:
            continue
        # libcarla's unprojected lookup misses strips up to ~0.5 m wide on the boundary between two lanes (Town04
        # road 6): a point across half a lane width (+ BOUNDARY_TOLERANCE_M) of the nearest driving lane
        # or of a driving lane beside it is on that lane
        nearest = wmap.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Driving)
        if nearest is None or not any(_within_lane(lane, location) for lane in
                                      (nearest, nearest.get_left_lane(), nearest.get_right_lane())):
            return False
    return True


def _within_lane(waypoint: carla.Waypoint | None, location: carla.Location) -> bool:
    """Whether `location` lies across a driving lane no further than half its width from the centre at `waypoint`."""
    if waypoint is None or waypoint.lane_type != carla.LaneType.Driving:
        return False
    right = waypoint.transform.get_right_vector()
    delta = location - waypoint.transform.location
    return abs(delta.x * right.x + delta.y * right.y) <= waypoint.lane_width / 2 + BOUNDARY_TOLERANCE_M


def relation_to_ego(ego: carla.Transform, lane_width: float, other: carla.Location) -> str:
    """Bird's-eye relation of a location to the ego: 'ahead', 'behind' (same lane), 'left', 'right' (next lanes) or ''."""
    yaw = math.radians(ego.rotation.yaw)
    dx, dy = other.x - ego.location.x, other.y - ego.location.y
    forward = dx * math.cos(yaw) + dy * math.sin(yaw)
    right = -dx * math.sin(yaw) + dy * math.cos(yaw)  # CARLA: +y is to the right of +x
    if abs(right) < lane_width / 2:
        return "ahead" if forward > 0 else "behind"
    if abs(right) < 1.5 * lane_width:
        return "right" if right > 0 else "left"
    return ""
