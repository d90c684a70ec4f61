"""RoadOption: the manoeuvre attached to each waypoint of a plan (CARLA re-exports it from local_planner)."""
from __future__ import annotations

from enum import IntEnum


class RoadOption(IntEnum):
    """Topological manoeuvre between two consecutive lane segments, with CARLA's names and values."""

    VOID = -1
    LEFT = 1
    RIGHT = 2
    STRAIGHT = 3
    LANEFOLLOW = 4
    CHANGELANELEFT = 5
    CHANGELANERIGHT = 6
