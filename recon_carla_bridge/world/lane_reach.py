"""Which lanes a vehicle can reach from a waypoint within a distance, branches included, in time linear in the
road length covered.

`World.get_traffic_lights_from_waypoint` used to advance a frontier of waypoints 2 m at a time and keep every
branch, deduplicated only per step; on a network whose branches merge again the frontier kept copies of the same
stretch at slightly different offsets and the work grew super-linearly (4 km on Town01: 116 s). Here every 2 m cell
of a lane (road, lane, s // step) is expanded once.
"""
from __future__ import annotations

import carla

STEP_M = 2.0  # how far each expansion moves along the lanes


def lanes_within(waypoint: carla.Waypoint, distance: float, step: float = STEP_M) -> set[tuple[int, int]]:
    """(road_id, lane_id) of every lane reachable from `waypoint` within `distance` metres along the lanes."""
    lanes = {(waypoint.road_id, waypoint.lane_id)}
    seen: set[tuple[int, int, int]] = set()
    frontier, travelled = [waypoint], 0.0
    while frontier and travelled < distance:
        advance = min(step, distance - travelled)
        following: list[carla.Waypoint] = []
        for current in frontier:
            for ahead in current.next(advance):
                cell = (ahead.road_id, ahead.lane_id, int(ahead.s // step))
                if cell in seen:
                    continue
                seen.add(cell)
                lanes.add((ahead.road_id, ahead.lane_id))
                following.append(ahead)
        frontier, travelled = following, travelled + advance
    return lanes
