"""Which static objects are parked vehicles: a test on everything a static track's detections saw.

A static object is seen from many places as the ego passes, so the union of its detections' points
shows more of it than one scan: a parked car shows a car's length and width, a fence or wall a long thin
line, a hedge or a row of bushes a long or tall block. Three tests, each with the reason it gives:

* height: the median height seen must be a car's. Taller static objects (vans, but also hedges, walls and
  fences, all about 2 m) are not kept: the LiDAR alone cannot tell a parked van from a hedge, and the
  ingest report counts them as undecided.
* footprint: the union of the points must have a car's length and width (a thin line is a wall or a
  fence; a short blob a bollard, a stone or a bush; a long one a hedge or a row of objects).
* vacated: a track of static detections whose boxes drift (a vehicle crawling in a queue overlaps itself
  between neighbouring scans, but so does the visible part of a fence sliding along as the ego passes) is
  a vehicle only when the space it filled early is empty later, once it has moved on by a car's length.
* behind a barrier: when every line of sight from the sensor to the object crosses cells that stay
  filled over many scans (a fence, a wall, a hedge), the object is off the road behind it (a yard).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from recon_carla_bridge.ingest.detection import fit_oriented_box
from recon_carla_bridge.ingest.persistence import OccupancyHistory
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack
from recon_carla_bridge.ingest.tracking import WorldDetection
from recon_carla_bridge.roadnet.centerline import Centerline
from recon_carla_bridge.roadnet.surface import RoadSurface, on_carriageway


@dataclass(frozen=True)
class StaticVehicleConfig:
    """Settings of the parked-vehicle test.

    Attributes:
        min_height: lowest median seen height of a parked car [m].
        max_height: highest (taller static objects are undecided: van, hedge, wall or fence) [m].
        max_in_lane_height: highest for an object standing in a lane (a truck waiting in traffic) [m].
        max_in_lane_length: longest for an object standing in a lane [m].
        in_lane_lateral: without a measured road surface, an object this close sideways to the ego's
            path stands in the ego's or a neighbouring lane [m] ...
        drift_in_lane_lateral: ... and a drifting one this close (a fence beside the road is not) [m].
        min_length: shortest union footprint (a passing ego sees a parked car's whole side) [m].
        max_length: longest union footprint (a car, an estate, a small van) [m].
        min_width: narrowest union footprint (thinner: a wall or a fence) [m].
        max_width: widest union footprint [m].
        barrier_min_scans: a cell filled in at least this many scans is static structure ...
        barrier_min_extent: ... and a barrier when it is part of a structure at least this long (a fence,
            a wall, a hedge; not a queue of vehicles with gaps between them) [m].
        sight_step: sight lines are sampled this often [m].
        sight_points: about this many of a detection's points are looked at.
        sensor_clearance: samples this close to the sensor are skipped (the ego's surroundings) [m].
        object_clearance: samples this close to the object's own points are skipped [m].
        barrier_min_lateral: only objects at least this far sideways from the ego's path are tested for
            being behind a barrier (a parked car beside the road is not; a row of them may merge into one
            long structure) [m].
        blocked_share: the object is behind a barrier when at least this share of its sight lines cross
            static structure.
        full_view_angle: the union footprint must have a car's length only when the object was seen over
            at least this range of bearings or from the side (`barrier_min_lateral` or more sideways);
            else it may have been seen from behind only [deg].
        min_partial_length: ... else its longer side must reach this [m].
        vacate_min_time: a drifting track's detections this far apart in time are compared [s] ...
        vacate_min_shift: ... when its boxes moved at least this far between them [m] ...
        vacate_margin: points this close outside the track's box count as inside [m].
        vacate_min_points: at least this many points must lie outside it to be compared.
        vacate_max_cover: the other scan may fill at most this share of their cells.
    """

    min_height: float = 1.15
    max_height: float = 1.8
    max_in_lane_height: float = 4.2
    max_in_lane_length: float = 18.75
    in_lane_lateral: float = 5.5
    drift_in_lane_lateral: float = 4.5
    min_length: float = 3.0
    max_length: float = 6.5
    min_width: float = 1.0
    max_width: float = 2.8
    barrier_min_scans: int = 5
    barrier_min_extent: float = 10.0
    sight_step: float = 0.15
    sight_points: int = 12
    sensor_clearance: float = 2.0
    object_clearance: float = 1.5
    barrier_min_lateral: float = 8.0
    blocked_share: float = 0.8
    full_view_angle: float = 35.0
    min_partial_length: float = 1.5
    vacate_min_time: float = 1.0
    vacate_min_shift: float = 1.0
    vacate_margin: float = 0.3
    vacate_min_points: int = 5
    vacate_max_cover: float = 0.4


def union_footprint(dets: list[WorldDetection]) -> np.ndarray:
    """(K, 2) world xy of all points the detections saw."""
    return np.concatenate([d.footprint for d in dets if len(d.footprint)])


def _seen_through_barrier(det: WorldDetection, history: OccupancyHistory, config: StaticVehicleConfig) -> bool:
    """True when most of the detection's returns reached the sensor through long static structure: their
    sight lines cross a barrier cell (two samples running) farther than `object_clearance` from the object
    (a solid neighbour cannot be seen through; a wire-mesh fence can)."""
    tree = cKDTree(det.footprint)
    targets = det.footprint[:: max(len(det.footprint) // config.sight_points, 1)]
    blocked = 0
    for target in targets:
        length = float(np.linalg.norm(target - det.sensor_xy))
        steps = np.arange(config.sensor_clearance, length, config.sight_step)
        if len(steps) < 2:
            continue
        samples = det.sensor_xy + np.outer(steps / length, target - det.sensor_xy)
        hit = history.on_barrier(samples, config.barrier_min_scans, config.barrier_min_extent)
        hit &= tree.query(samples)[0] > config.object_clearance
        blocked += int(bool((hit[1:] & hit[:-1]).any()))
    return blocked >= 0.5 * len(targets)


def blocked_share(dets: list[WorldDetection], history: OccupancyHistory, config: StaticVehicleConfig) -> float:
    """Share of the detections seen through long static structure (a fence, a hedge)."""
    return sum(_seen_through_barrier(d, history, config) for d in dets) / len(dets)


def lateral_offset(dets: list[WorldDetection]) -> float:
    """Distance [m] of the object sideways from the ego's heading, at the detection nearest the ego."""
    nearest = min(dets, key=lambda d: float(np.linalg.norm(d.center[:2] - d.sensor_xy)))
    normal = np.array([-np.sin(nearest.ego_yaw), np.cos(nearest.ego_yaw)])
    return abs(float((nearest.center[:2] - nearest.sensor_xy) @ normal))


def bearing_range(dets: list[WorldDetection]) -> float:
    """Range of bearings [deg] from which the detections saw their object (0 for one detection)."""
    bearings = np.array([np.arctan2(*(d.center[:2] - d.sensor_xy)[::-1]) for d in dets])
    spread = np.angle(np.exp(1j * (bearings - bearings[0])))
    return float(np.degrees(spread.max() - spread.min()))


def _outside_box(xy: np.ndarray, box: ActorBox, size: np.ndarray, margin: float) -> np.ndarray:
    """The (K, 2) points not inside `box` (of `size`, grown by `margin`)."""
    along = np.array([np.cos(box.yaw), np.sin(box.yaw)])
    across = np.array([-along[1], along[0]])
    offset = xy - box.center[:2]
    inside = (np.abs(offset @ along) <= size[0] / 2 + margin) & (np.abs(offset @ across) <= size[1] / 2 + margin)
    return xy[~inside]


def vacated(track: ActorTrack, dets: list[WorldDetection], history: OccupancyHistory, config: StaticVehicleConfig = StaticVehicleConfig()) -> bool:
    """True when a drifting track left empty space behind (a slow vehicle): the points one detection saw
    outside the track's box of a later (or earlier) scan are mostly gone in that scan, and all it saw is
    not a thin line. False when they stay filled (static structure whose visible part slid along with the
    ego), it never moved far enough, or it is thin (a fence or a banner seen at a grazing angle)."""
    observed = [d for d in dets if not d.extended and len(d.footprint)]
    covers = []
    for a in observed:
        box_a = track.box_at(a.frame_index)
        for b in observed:
            box_b = track.box_at(b.frame_index)
            if box_a is None or box_b is None or b.time - a.time < config.vacate_min_time:
                continue
            if np.linalg.norm(box_b.center[:2] - box_a.center[:2]) < config.vacate_min_shift:
                continue
            for seen, box, time in ((a.footprint, box_b, b.time), (b.footprint, box_a, a.time)):
                left = _outside_box(seen, box, track.size, config.vacate_margin)
                if len(left) >= config.vacate_min_points:
                    covers.append(history.cover_at(left, time))
    if not covers or float(np.median(covers)) > config.vacate_max_cover:
        return False
    return bool(fit_oriented_box(union_footprint(observed))[2][1] >= config.min_width)


def parked_vehicle_verdict(
    dets: list[WorldDetection], history: OccupancyHistory, config: StaticVehicleConfig = StaticVehicleConfig(), in_lane: bool = False
) -> str:
    """'vehicle' when a static track's detections look like a parked car, else why not: 'too tall'
    (undecided), 'too low', 'footprint' or 'behind a barrier'. An object standing `in_lane` (on a
    carriageway, where no hedge or fence stands) may be as tall and long as a truck."""
    observed = [d for d in dets if not d.extended and len(d.footprint)]
    if not observed:
        return "footprint"
    height = float(np.median([d.size[2] for d in observed]))
    if height > (config.max_in_lane_height if in_lane else config.max_height):
        return "too tall"
    if height < config.min_height:
        return "too low"
    _, _, extents = fit_oriented_box(union_footprint(observed))
    if extents[0] > (config.max_in_lane_length if in_lane else config.max_length) or extents[1] > config.max_width:
        return "footprint"
    if bearing_range(observed) >= config.full_view_angle or lateral_offset(observed) >= config.barrier_min_lateral:
        if extents[0] < config.min_length or extents[1] < config.min_width:
            return "footprint"
    elif extents[0] < config.min_partial_length:
        return "footprint"
    if lateral_offset(observed) >= config.barrier_min_lateral and blocked_share(observed, history, config) >= config.blocked_share:
        return "behind a barrier"
    return "vehicle"


def in_lane(track: ActorTrack, dets: list[WorldDetection], road: tuple[Centerline, RoadSurface] | None, lateral: float) -> bool:
    """Whether a track stands in a lane: on a measured carriageway (most of its boxes), else within
    `lateral` m sideways of the ego's path."""
    if road is not None and road[1].found:
        centers = np.array([box.center[:2] for box in track.boxes])
        return bool(np.mean(on_carriageway(road[1], road[0], centers, margin=0.0, beyond=False)) >= 0.5)
    return lateral_offset(dets) <= lateral


def static_track_verdict(
    track: ActorTrack,
    dets: list[WorldDetection],
    history: OccupancyHistory,
    config: StaticVehicleConfig = StaticVehicleConfig(),
    road: tuple[Centerline, RoadSurface] | None = None,
) -> str:
    """'vehicle' when a track of static detections is a vehicle, else why not. A drifting one is a slow
    vehicle when it stands in a lane (a queue: the car behind fills the space the one ahead left) or
    leaves empty space behind it off the lanes; a still one must look like a parked car
    (`parked_vehicle_verdict`, taller and longer when it stands in a lane)."""
    if track.moving:
        if in_lane(track, dets, road, config.drift_in_lane_lateral):
            return "vehicle"
        if not vacated(track, dets, history, config):
            return "slides with the ego (static structure)"
        if road is not None and road[1].found:
            centers = np.array([box.center[:2] for box in track.boxes])
            if np.mean(on_carriageway(road[1], road[0], centers)) < 0.5:
                return "drifts off the carriageways (static structure)"
        return "vehicle"
    return parked_vehicle_verdict(dets, history, config, in_lane(track, dets, road, config.in_lane_lateral))
