"""Safe replacements for two `carla.Waypoint` methods that misbehave without a server.

In carla 0.9.16, `previous_until_lane_start` crashes the interpreter (segfault) on a lane with no
predecessor, and `next_until_lane_end` raises `RuntimeError: distance > 0.0` near a lane's end.
`install()` replaces both with Python versions of the same contract: waypoints every `distance`
metres along the lane, staying on the same road and lane, up to its start / end.
"""
from __future__ import annotations

import math

import carla

_NATIVE = {name: getattr(carla.Waypoint, name) for name in ("previous_until_lane_start", "next_until_lane_end")}


def _check_distance(distance: float) -> float:
    value = float(distance)
    if not math.isfinite(value) or value <= 0.0:
        raise RuntimeError(f"distance > 0.0 (got {distance})")
    return value


def _walk(waypoint: carla.Waypoint, distance: float, forward: bool) -> list[carla.Waypoint]:
    result: list[carla.Waypoint] = []
    current = waypoint
    for _ in range(100000):  # a lane is finite; this bounds a malformed map
        options = current.next(distance) if forward else current.previous(distance)
        same_lane = [w for w in options if w.road_id == waypoint.road_id and w.lane_id == waypoint.lane_id]
        if not same_lane:
            break
        step = same_lane[0]
        moved = abs(step.s - current.s)
        if moved < 1e-6:
            break
        result.append(step)
        current = step
    return result


def previous_until_lane_start(self: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
    """Waypoints every `distance` m backwards along this lane until its start (never crashes)."""
    return _walk(self, _check_distance(distance), forward=False)


def next_until_lane_end(self: carla.Waypoint, distance: float) -> list[carla.Waypoint]:
    """Waypoints every `distance` m forwards along this lane until its end (an empty list at the very end)."""
    return _walk(self, _check_distance(distance), forward=True)


def install() -> None:
    """Put the safe versions on carla.Waypoint (idempotent); `uninstall()` restores the native ones."""
    carla.Waypoint.previous_until_lane_start = previous_until_lane_start
    carla.Waypoint.next_until_lane_end = next_until_lane_end


def uninstall() -> None:
    """Restore carla's native methods."""
    for name, method in _NATIVE.items():
        setattr(carla.Waypoint, name, method)
