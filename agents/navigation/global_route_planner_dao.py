"""GlobalRoutePlannerDAO: the map access layer of CARLA 0.9.11's route planner.

ScenarioRunner 0.9.11 builds its planner as `GlobalRoutePlanner(GlobalRoutePlannerDAO(map, res))`
followed by `setup()`; CARLA 0.9.12 folded the DAO into the planner. Here the DAO is the one place
that samples the map's topology, and both planner forms use it.

Each topology segment is a lane from its entry waypoint to its exit waypoint (the start of the
following lane), with the waypoints in between every `sampling_resolution` metres. Sampling only
uses `Waypoint.next`, never `next_until_lane_end`/`previous_until_lane_start` (they raise or crash
on dead ends with carla 0.9.16).
"""
from __future__ import annotations

from typing import Any

import carla
import numpy as np

Segment = dict[str, Any]
"""A topology segment: keys 'entry', 'exit' (carla.Waypoint), 'entryxyz', 'exitxyz' (rounded
(x, y, z) tuples, as CARLA gives them) and 'path' (the carla.Waypoint list strictly between)."""

_MAX_SAMPLES_PER_SEGMENT = 100_000
_END_PRECISION = 0.01
"""Lane ends found by walking are within this many metres of the true end."""


def rounded_xyz(location: carla.Location) -> tuple[float, float, float]:
    """A location rounded to whole metres, CARLA's key for topology end points."""
    x, y, z = np.round([location.x, location.y, location.z], 0)
    return float(x), float(y), float(z)


def _lane_key(waypoint: carla.Waypoint) -> tuple[int, int, int]:
    """(road_id, section_id, lane_id) of a waypoint."""
    return waypoint.road_id, waypoint.section_id, waypoint.lane_id


def sample_lane_path(entry: carla.Waypoint, exit_: carla.Waypoint, resolution: float) -> list[carla.Waypoint]:
    """Waypoints every `resolution` metres from `entry` toward `exit_`, excluding both ends.

    Stops once within half a `resolution` of the exit, on reaching the exit's lane, at a dead end,
    or if the lane leads off the two roads of the segment, so consecutive waypoints (exit included) are 0.5 to 1.5 resolutions
    apart (CARLA stops a whole resolution short, leaving gaps of up to two). A segment shorter than
    `resolution` has an empty path (CARLA puts one waypoint there that lies beyond the exit).
    """
    end = exit_.transform.location
    roads = {entry.road_id, exit_.road_id}
    exit_lane = _lane_key(exit_) if _lane_key(exit_) != _lane_key(entry) else None
    path: list[carla.Waypoint] = []
    if entry.transform.location.distance(end) <= resolution:
        return path
    candidates = entry.next(resolution)
    while candidates and len(path) < _MAX_SAMPLES_PER_SEGMENT:
        waypoint = candidates[0]
        if (waypoint.road_id not in roads or _lane_key(waypoint) == exit_lane
                or waypoint.transform.location.distance(end) <= 0.5 * resolution):
            break
        path.append(waypoint)
        candidates = waypoint.next(resolution)
    return path


def walk_to_lane_end(waypoint: carla.Waypoint, forward: bool, step: float) -> carla.Waypoint:
    """The last waypoint of `waypoint`'s lane (section) ahead (forward) or behind, within 1 cm.

    Steps with `Waypoint.next`/`previous` while they stay on the lane, halving the step when they
    leave it or find nothing.
    """
    key = _lane_key(waypoint)
    for _ in range(_MAX_SAMPLES_PER_SEGMENT):
        if step < _END_PRECISION:
            break
        moved = waypoint.next(step) if forward else waypoint.previous(step)
        same_lane = [w for w in moved if _lane_key(w) == key]
        if same_lane:
            waypoint = same_lane[0]
        else:
            step /= 2.0
    return waypoint


def isolated_lane_segments(
    wmap: carla.Map, pairs: list[tuple[carla.Waypoint, carla.Waypoint]], resolution: float
) -> list[tuple[carla.Waypoint, carla.Waypoint]]:
    """(first, last) waypoints of each driving lane that no topology pair starts or ends on."""
    covered = {_lane_key(w) for pair in pairs for w in pair}
    samples: dict[tuple[int, int, int], carla.Waypoint] = {}
    for waypoint in wmap.generate_waypoints(resolution):
        key = _lane_key(waypoint)
        if key not in covered and waypoint.lane_type == carla.LaneType.Driving:
            samples.setdefault(key, waypoint)
    segments = []
    for waypoint in samples.values():
        first = walk_to_lane_end(waypoint, forward=False, step=resolution)
        last = walk_to_lane_end(waypoint, forward=True, step=resolution)
        if first.transform.location.distance(last.transform.location) > _END_PRECISION:
            segments.append((first, last))
    return segments


class GlobalRoutePlannerDAO:
    """Data access object of the global route planner: topology, waypoints and resolution of a map."""

    def __init__(self, wmap: carla.Map, sampling_resolution: float) -> None:
        """Wrap `wmap`; the route's waypoints will be `sampling_resolution` metres apart."""
        if sampling_resolution <= 0:
            raise ValueError(f"sampling_resolution must be positive, got {sampling_resolution!r}")
        self._wmap = wmap
        self._sampling_resolution = float(sampling_resolution)

    def get_topology(self) -> list[Segment]:
        """The map's lane segments, each with its sampled path (see `Segment`).

        carla.Map.get_topology() leaves out lanes that lead nowhere and that nothing leads into
        (a one-road map has an empty topology); those lanes are added here as segments from their
        first to their last point, so routes can use them (CARLA's planner cannot).
        """
        pairs = list(self._wmap.get_topology())
        pairs += isolated_lane_segments(self._wmap, pairs, self._sampling_resolution)
        segments = []
        for entry, exit_ in pairs:
            segments.append({
                "entry": entry,
                "exit": exit_,
                "entryxyz": rounded_xyz(entry.transform.location),
                "exitxyz": rounded_xyz(exit_.transform.location),
                "path": sample_lane_path(entry, exit_, self._sampling_resolution),
            })
        return segments

    @property
    def wmap(self) -> carla.Map:
        """The wrapped map."""
        return self._wmap

    def get_waypoint(self, location: carla.Location) -> carla.Waypoint:
        """The driving-lane waypoint nearest to `location` (projected onto the road)."""
        return self._wmap.get_waypoint(location)

    def get_resolution(self) -> float:
        """The sampling resolution in metres."""
        return self._sampling_resolution
