"""Lane-change plans: keep the lane, move over one or more lanes, then keep the new lane."""
from __future__ import annotations

import carla

from agents.navigation.road_option import RoadOption

PlanItem = tuple[carla.Waypoint, RoadOption]

_MIN_DISTANCE = 0.1
_ALLOWED = {"left": ("Left", "Both"), "right": ("Right", "Both")}


def _extend_along_lane(plan: list[PlanItem], distance: float, step_distance: float) -> bool:
    """Append LANEFOLLOW waypoints every `step_distance` until `distance` metres are covered; False at a dead end."""
    covered = 0.0
    while covered < distance:
        candidates = plan[-1][0].next(step_distance)
        if not candidates:
            return False
        nxt = candidates[0]
        covered += nxt.transform.location.distance(plan[-1][0].transform.location)
        plan.append((nxt, RoadOption.LANEFOLLOW))
    return True


def generate_lane_change_path(
    waypoint: carla.Waypoint,
    direction: str = "left",
    distance_same_lane: float = 10,
    distance_other_lane: float = 25,
    lane_change_distance: float = 25,
    check: bool = True,
    lane_changes: int = 1,
    step_distance: float = 2,
) -> list[PlanItem]:
    """A plan that changes `lane_changes` lanes toward `direction`, as CARLA's BasicAgent builds it.

    Args:
        waypoint: where the plan starts.
        direction: 'left' or 'right'.
        distance_same_lane: metres driven in the current lane first.
        distance_other_lane: metres driven in the final lane afterwards.
        lane_change_distance: metres travelled forward during all the lane changes together.
        check: require the lane markings to allow each change.
        lane_changes: number of lanes to cross.
        step_distance: waypoint spacing in metres.

    Returns:
        The plan, or [] when the manoeuvre is impossible (dead end, no driving lane, forbidden change,
        or an unknown direction).
    """
    if direction not in _ALLOWED or lane_changes < 1:
        return []
    option = RoadOption.CHANGELANELEFT if direction == "left" else RoadOption.CHANGELANERIGHT
    plan: list[PlanItem] = [(waypoint, RoadOption.LANEFOLLOW)]
    if not _extend_along_lane(plan, max(distance_same_lane, _MIN_DISTANCE), step_distance):
        return []
    forward_per_change = max(lane_change_distance, _MIN_DISTANCE) / lane_changes
    for _ in range(lane_changes):
        candidates = plan[-1][0].next(forward_per_change)
        if not candidates:
            return []
        ahead = candidates[0]
        if check and str(ahead.lane_change) not in _ALLOWED[direction]:
            return []
        side = ahead.get_left_lane() if direction == "left" else ahead.get_right_lane()
        if side is None or side.lane_type != carla.LaneType.Driving:
            return []
        plan.append((side, option))
    if not _extend_along_lane(plan, max(distance_other_lane, _MIN_DISTANCE), step_distance):
        return []
    return plan
