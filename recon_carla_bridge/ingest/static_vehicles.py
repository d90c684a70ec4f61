"""Which static objects are parked vehicles: a test on everything a static track's detections saw.

A static object is seen from many places as the ego passes, so the union of its detections' points
shows more of it than one scan: a parked car shows a car's length and width, a fence or wall a long thin
line, a hedge or a row of bushes a long or tall block. Three tests, each with the reason it gives:

* height: the median height seen must be a car's. Taller static objects (vans, but also hedges, walls and
  fences, all about 2 m) are not kept: the LiDAR alone cannot tell a parked van from a hedge, and the
  ingest report counts them as undecided.
* footprint: the union of the points must have a car's length and width (a thin line is a wall or a
  fence; a short blob a bollard, a stone or a bush; a long one a hedge or a row of objects).
* behind a barrier: when every line of sight from the sensor to the object crosses cells that stay
  filled over many scans (a fence, a wall, a hedge), the object is off the road behind it (a yard).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from recon_carla_bridge.ingest.detection import fit_oriented_box
from recon_carla_bridge.ingest.persistence import OccupancyHistory
from recon_carla_bridge.ingest.tracking import WorldDetection


@dataclass(frozen=True)
class StaticVehicleConfig:
    """Settings of the parked-vehicle test.

    Attributes:
        min_height: lowest median seen height of a parked car [m].
        max_height: highest (taller static objects are undecided: van, hedge, wall or fence) [m].
        min_length: shortest union footprint (a passing ego sees a parked car's whole side) [m].
        max_length: longest union footprint (a car, an estate, a small van) [m].
        min_width: narrowest union footprint (thinner: a wall or a fence) [m].
        max_width: widest union footprint [m].
        barrier_min_scans: a cell filled in at least this many scans is static structure.
        sight_step: sight lines are sampled this often [m].
        sensor_clearance: samples this close to the sensor are skipped (the ego's surroundings) [m].
        object_clearance: samples this close to the object's own points are skipped [m].
        blocked_share: the object is behind a barrier when at least this share of its sight lines cross
            static structure.
    """

    min_height: float = 1.15
    max_height: float = 1.8
    min_length: float = 3.0
    max_length: float = 6.5
    min_width: float = 1.0
    max_width: float = 2.8
    barrier_min_scans: int = 5
    sight_step: float = 0.15
    sensor_clearance: float = 2.0
    object_clearance: float = 1.0
    blocked_share: float = 0.8


def union_footprint(dets: list[WorldDetection]) -> np.ndarray:
    """(K, 2) world xy of all points the detections saw."""
    return np.concatenate([d.footprint for d in dets if len(d.footprint)])


def blocked_share(dets: list[WorldDetection], history: OccupancyHistory, config: StaticVehicleConfig) -> float:
    """Share of the detections whose line of sight from the sensor crosses static structure."""
    points = union_footprint(dets)
    tree = cKDTree(points)
    center = points.mean(axis=0)
    blocked = 0
    for det in dets:
        length = float(np.linalg.norm(center - det.sensor_xy))
        steps = np.arange(config.sensor_clearance, length, config.sight_step)
        if len(steps) == 0:
            continue
        samples = det.sensor_xy + np.outer(steps / length, center - det.sensor_xy)
        clear_of_object = tree.query(samples)[0] > config.object_clearance
        samples = samples[clear_of_object]
        if len(samples) and bool((history.filled_count(samples) >= config.barrier_min_scans).any()):
            blocked += 1
    return blocked / len(dets)


def parked_vehicle_verdict(dets: list[WorldDetection], history: OccupancyHistory, config: StaticVehicleConfig = StaticVehicleConfig()) -> str:
    """'vehicle' when a static track's detections look like a parked car, else why not: 'too tall'
    (undecided), 'too low', 'footprint' or 'behind a barrier'."""
    observed = [d for d in dets if not d.extended and len(d.footprint)]
    if not observed:
        return "footprint"
    height = float(np.median([d.size[2] for d in observed]))
    if height > config.max_height:
        return "too tall"
    if height < config.min_height:
        return "too low"
    _, _, extents = fit_oriented_box(union_footprint(observed))
    if not (config.min_length <= extents[0] <= config.max_length and config.min_width <= extents[1] <= config.max_width):
        return "footprint"
    if blocked_share(observed, history, config) >= config.blocked_share:
        return "behind a barrier"
    return "vehicle"
