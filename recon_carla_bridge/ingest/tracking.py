"""Multi-frame tracking of LiDAR vehicle detections into actor tracks with smooth poses and one size.

1. Per scan, vehicle-like detections move to the world frame with the ego pose.
2. Association: Hungarian matching of detections to constant-velocity predictions, within a gate; then
   tracklets of one object that association split (a long vehicle's box centre jumps when its visible
   length changes) are linked when one's box, moved on at its velocity, covers the other's points.
3. Per track: a first smoothing gives velocities; moving vs static is decided from them; the heading
   comes from the velocity (moving) or the elongated box fits (static, else the ego's road direction).
4. One size per track (a high percentile of what was seen, never below a car's; a vehicle taller than a
   car whose top the LiDAR's highest beam cuts off gets a truck's height), and each detection's box
   re-anchored on the faces the LiDAR saw (a car seen from behind grows forward, away from the ego).
5. A Rauch-Tung-Striebel smoother gives a box in every frame between the first and last sighting.
6. Tracks inside a track with more detections are dropped; the rest are extended backwards and forwards
   while the LiDAR points support their predicted box (`ingest/extension.py`: frames where the detector
   missed the object, e.g. a trailer merged with its tractor into one cluster), and finished again.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from recon_carla_bridge.ingest.detection import Detection
from recon_carla_bridge.ingest.extension import (
    ExtendedBox,
    ExtensionConfig,
    SupportScan,
    extend_track,
)
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack, wrap_angle
from recon_carla_bridge.ingest.se3 import yaw_of
from recon_carla_bridge.ingest.smoothing import smooth_constant_velocity


@dataclass(frozen=True)
class TrackingConfig:
    """Settings of the tracker.

    Attributes:
        gate: largest distance between a prediction and a detection that may be matched [m].
        max_missed_scans: a track not matched for more scans than this ends.
        min_hits: tracks with fewer detections are dropped (clutter).
        moving_min_displacement: a track whose smoothed centre moves less than this overall is static [m].
        moving_min_speed: ... or whose smoothed speed never exceeds this [m/s].
        heading_min_speed: above this speed the heading comes from the velocity [m/s].
        min_size: (3,) smallest vehicle box: length, width, height [m] (a partly seen car is a car).
        max_width: widest vehicle box [m].
        size_percentile: percentile of the seen widths and heights taken as the track's.
        length_percentile: percentile of the seen lengths taken as the track's length (higher: most views
            show only part of a vehicle's length, e.g. a long trailer often falls apart into two clusters).
        accel_std: acceleration noise of the smoother [m/s^2].
        meas_std: position noise of a detection [m].
        min_observed_extent: a track whose larger seen side (90th percentile) is shorter than this is
            not a vehicle (poles, bushes) [m].
        static_min_hits: static tracks need at least this many detections.
        max_distance: a track must come this close to the ego once; farther returns are too sparse to tell
            a vehicle from vegetation or walls [m].
        link_max_gap: tracklets this far apart in time or less may be linked [s].
        link_margin: a tracklet's end box, moved on at its velocity, is grown by this when testing whether
            it covers the next tracklet's first points [m].
        link_min_share: ... and must cover at least this share of them.
        link_min_length_ratio: linked tracklets' typical (median) visible lengths differ by at most this
            factor (a cluster of a tractor and its trailer does not continue as the trailer alone).
        duplicate_min_shared_frames: a track is only dropped as a duplicate of another when they share at
            least this many frames.
        height_min_views: the height is measured on the detections that saw over the object's top (did not
            reach the LiDAR's top beam) when there are at least this many ...
        clipped_min_seen_height: ... else a track seen at least this tall (taller than a car: a van, truck
            or bus) is taller than the LiDAR shows [m] ...
        clipped_height: ... and gets at least this height (a truck's or bus's) [m].
        extension: settings of track extension.
    """

    gate: float = 2.5
    max_missed_scans: int = 3
    min_hits: int = 3
    moving_min_displacement: float = 1.5
    moving_min_speed: float = 1.0
    heading_min_speed: float = 1.5
    min_size: tuple[float, float, float] = (3.8, 1.65, 1.35)
    max_width: float = 2.6
    size_percentile: float = 90.0
    length_percentile: float = 95.0
    accel_std: float = 2.0
    meas_std: float = 0.35
    min_observed_extent: float = 1.4
    static_min_hits: int = 4
    max_distance: float = 30.0
    link_max_gap: float = 1.0
    link_margin: float = 0.5
    link_min_share: float = 0.6
    link_min_length_ratio: float = 0.7
    duplicate_min_shared_frames: int = 3
    height_min_views: int = 3
    clipped_min_seen_height: float = 2.0
    clipped_height: float = 3.6
    extension: ExtensionConfig = field(default_factory=ExtensionConfig)


@dataclass(frozen=True)
class WorldDetection:
    """A detection moved to the world frame.

    Attributes:
        frame_index: SceneLog frame of the scan.
        time: scan time [s].
        center: (3,) box centre in world [m].
        size: (3,) visible length, width, height [m].
        yaw: world yaw of the fitted length axis [rad] (direction ambiguous).
        ground_z: world height of the ground under it [m].
        footprint: (K, 2) world xy of the cluster's points [m].
        sensor_xy: (2,) world xy of the ego origin when it was seen [m].
        ego_yaw: world heading of the ego then [rad].
        top_clipped: the cluster reached the LiDAR's top beam (the object may be taller than `size[2]`).
        extended: a box placed by track extension rather than a detection: it gives a position but says
            nothing about the size or the class (its footprint is empty, its size the track's).
    """

    frame_index: int
    time: float
    center: np.ndarray
    size: np.ndarray
    yaw: float
    ground_z: float
    footprint: np.ndarray
    sensor_xy: np.ndarray
    ego_yaw: float
    top_clipped: bool = False
    extended: bool = False


def to_world(detections: list[Detection], world_from_ego: np.ndarray, frame_index: int, time: float) -> list[WorldDetection]:
    """Move one scan's ego-frame detections into the world with the scan's ego pose."""
    rotation, translation = world_from_ego[:3, :3], world_from_ego[:3, 3]
    ego_yaw = yaw_of(world_from_ego)
    result: list[WorldDetection] = []
    for det in detections:
        footprint = det.footprint @ rotation[:2, :2].T + translation[:2]
        ground = rotation @ np.array([det.center[0], det.center[1], det.ground_z]) + translation
        result.append(
            WorldDetection(
                frame_index=frame_index,
                time=time,
                center=rotation @ det.center + translation,
                size=det.size.copy(),
                yaw=wrap_angle(det.yaw + ego_yaw),
                ground_z=float(ground[2]),
                footprint=footprint,
                sensor_xy=translation[:2].copy(),
                ego_yaw=ego_yaw,
                top_clipped=det.top_clipped,
            )
        )
    return result


@dataclass
class _OpenTrack:
    detections: list[WorldDetection]
    velocity: np.ndarray
    missed: int = 0

    def predict(self, time: float) -> np.ndarray:
        last = self.detections[-1]
        return last.center[:2] + self.velocity * (time - last.time)


def associate(scans: list[list[WorldDetection]], config: TrackingConfig) -> list[list[WorldDetection]]:
    """Group detections of consecutive scans (in time order) into tracks by gated Hungarian matching."""
    open_tracks: list[_OpenTrack] = []
    closed: list[list[WorldDetection]] = []
    for detections in scans:
        if not detections:
            for track in open_tracks:
                track.missed += 1
        else:
            time = detections[0].time
            matched_tracks: set[int] = set()
            matched_dets: set[int] = set()
            if open_tracks:
                predictions = np.array([track.predict(time) for track in open_tracks])
                centers = np.array([det.center[:2] for det in detections])
                cost = np.linalg.norm(predictions[:, None, :] - centers[None, :, :], axis=2)
                rows, cols = linear_sum_assignment(np.where(cost <= config.gate, cost, 1e6))
                for row, col in zip(rows, cols):
                    if cost[row, col] > config.gate:
                        continue
                    track, det = open_tracks[row], detections[col]
                    last = track.detections[-1]
                    step = (det.center[:2] - last.center[:2]) / max(det.time - last.time, 1e-3)
                    track.velocity = step if len(track.detections) == 1 else 0.5 * track.velocity + 0.5 * step
                    track.detections.append(det)
                    track.missed = 0
                    matched_tracks.add(row)
                    matched_dets.add(col)
            for row, track in enumerate(open_tracks):
                if row not in matched_tracks:
                    track.missed += 1
            for col, det in enumerate(detections):
                if col not in matched_dets:
                    open_tracks.append(_OpenTrack([det], np.zeros(2)))
        still_open = []
        for track in open_tracks:
            (closed.append(track.detections) if track.missed > config.max_missed_scans else still_open.append(track))
        open_tracks = still_open
    closed.extend(track.detections for track in open_tracks)
    return [track for track in closed if len(track) >= config.min_hits]


def _mean_velocity(dets: list[WorldDetection]) -> np.ndarray:
    """(2,) average velocity of a tracklet from its first to its last detection [m/s]."""
    span = dets[-1].time - dets[0].time
    return (dets[-1].center[:2] - dets[0].center[:2]) / span if span > 0 else np.zeros(2)


def _covered_share(source: WorldDetection, velocity: np.ndarray, target: WorldDetection, margin: float) -> float:
    """Share of `target`'s footprint inside `source`'s box (grown by `margin`) moved on at `velocity` to
    `target`'s time."""
    if len(target.footprint) == 0:
        return 0.0
    center = source.center[:2] + velocity * (target.time - source.time)
    along = np.array([math.cos(source.yaw), math.sin(source.yaw)])
    across = np.array([-along[1], along[0]])
    offset = target.footprint - center
    inside = (np.abs(offset @ along) <= source.size[0] / 2 + margin) & (np.abs(offset @ across) <= source.size[1] / 2 + margin)
    return float(inside.mean())


def _typical_length(dets: list[WorldDetection]) -> float:
    """Median visible length of a tracklet's detections [m]."""
    return float(np.median([d.size[0] for d in dets]))


def link_share(earlier: list[WorldDetection], later: list[WorldDetection], config: TrackingConfig) -> float:
    """How well tracklet `later` continues tracklet `earlier`: the larger share of one's points at the gap
    covered by the other's box carried across it (0 when they overlap in time, the gap is too long or
    their typical visible lengths differ too much)."""
    gap = later[0].time - earlier[-1].time
    if not 0 < gap <= config.link_max_gap:
        return 0.0
    lengths = sorted((_typical_length(earlier), _typical_length(later)))
    if lengths[0] < config.link_min_length_ratio * lengths[1]:
        return 0.0
    forward = _covered_share(earlier[-1], _mean_velocity(earlier), later[0], config.link_margin)
    backward = _covered_share(later[0], _mean_velocity(later), earlier[-1], config.link_margin)
    return max(forward, backward)


def link_fragments(tracklets: list[list[WorldDetection]], config: TrackingConfig) -> list[list[WorldDetection]]:
    """Join tracklets that association split from one object (best links first, each tracklet with at most
    one predecessor and one successor): a long vehicle's box centre jumps by metres when its visible length
    changes, which can push it out of the association gate."""
    pairs = [
        (share, i, j)
        for i, earlier in enumerate(tracklets)
        for j, later in enumerate(tracklets)
        if i != j and (share := link_share(earlier, later, config)) >= config.link_min_share
    ]
    successor: dict[int, int] = {}
    predecessor: dict[int, int] = {}
    for _, i, j in sorted(pairs, reverse=True):
        if i not in successor and j not in predecessor:
            successor[i], predecessor[j] = j, i
    chains = []
    for start in range(len(tracklets)):
        if start in predecessor:
            continue
        chain, index = list(tracklets[start]), start
        while index in successor:
            index = successor[index]
            chain.extend(tracklets[index])
        chains.append(chain)
    return chains


def _fill_forward_backward(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Copy each invalid entry from the nearest valid one (earlier first, else later)."""
    result = values.copy()
    valid_index = np.flatnonzero(valid)
    for k in range(len(values)):
        if not valid[k]:
            nearest = valid_index[np.argmin(np.abs(valid_index - k))]
            result[k] = values[nearest]
    return result


def _static_heading(dets: list[WorldDetection]) -> float:
    """Heading of a static vehicle: the mean axis of clearly elongated fits (mod pi), oriented like the
    ego's heading; without any, the ego's heading (a parked car is usually aligned with the road)."""
    elongated = [d.yaw for d in dets if d.size[0] > 2.5 and d.size[0] > 1.6 * d.size[1]]
    ego_heading = dets[len(dets) // 2].ego_yaw
    if not elongated:
        return ego_heading
    doubled = np.array(elongated) * 2
    axis = math.atan2(np.sin(doubled).mean(), np.cos(doubled).mean()) / 2
    if math.cos(axis - ego_heading) < 0:
        axis += math.pi
    return wrap_angle(axis)


def _track_height(dets: list[WorldDetection], config: TrackingConfig) -> float:
    """Box height of a track from its detections, never below a car's: a high percentile of the heights
    seen by the detections whose top the LiDAR saw over (`top_clipped` False), when there are enough of
    them; else of all, raised to `clipped_height` for a vehicle taller than a car (near the sensor the
    highest beam passes below a truck's roof, which then is never seen)."""
    over_top = [d.size[2] for d in dets if not d.top_clipped]
    if len(over_top) >= config.height_min_views:
        return max(float(np.percentile(over_top, config.size_percentile)), config.min_size[2])
    seen = max(float(np.percentile([d.size[2] for d in dets], config.size_percentile)), config.min_size[2])
    return max(seen, config.clipped_height) if seen >= config.clipped_min_seen_height else seen


def _anchored_center(det: WorldDetection, heading: float, length: float, width: float) -> np.ndarray:
    """Box centre (2,) of a full-size box sharing the visible faces of a partial detection."""
    u = np.array([math.cos(heading), math.sin(heading)])
    v = np.array([-u[1], u[0]])
    along, across = det.footprint @ u, det.footprint @ v
    sensor_along, sensor_across = det.sensor_xy @ u, det.sensor_xy @ v

    def anchor(low: float, high: float, sensor: float, full: float) -> float:
        if high - low >= full:
            return (low + high) / 2
        if sensor <= low:
            return low + full / 2
        if sensor >= high:
            return high - full / 2
        return (low + high) / 2

    a = anchor(float(along.min()), float(along.max()), float(sensor_along), length)
    c = anchor(float(across.min()), float(across.max()), float(sensor_across), width)
    return a * u + c * v


def finalize_track(
    dets: list[WorldDetection],
    frame_times: np.ndarray,
    track_id: str,
    config: TrackingConfig,
    span: tuple[int, int] | None = None,
    force_static: bool = False,
) -> ActorTrack | None:
    """Turn one associated track into an ActorTrack with one size and a smoothed box per frame; None when
    it does not look like a vehicle (too small, or a static blob seen too rarely or only from far).

    `dets` are in frame order; boxes placed by extension among them (`extended`) count as positions only:
    the size, the heading of a static track and the vehicle tests come from the detections. `span`
    (first, last frame) may widen the frames given boxes beyond the first and last detection, to the
    frames between scans where the actor was not looked for. `force_static` makes it static whatever its
    boxes' drift (the object was found static otherwise, e.g. by `ingest/persistence.py`)."""
    observed = [d for d in dets if not d.extended]
    if not observed:
        return None
    first, last = span if span is not None else (dets[0].frame_index, dets[-1].frame_index)
    frames = np.arange(first, last + 1)
    times = frame_times[frames]
    slot = {d.frame_index: d.frame_index - first for d in dets}

    def measured(values: list[float]) -> np.ndarray:
        series = np.full(len(frames), np.nan)
        for det, value in zip(dets, values):
            series[slot[det.frame_index]] = value
        return series

    # First pass on fitted box centres: velocities, moving or not, heading.
    sx, vx = smooth_constant_velocity(times, measured([d.center[0] for d in dets]), config.accel_std, config.meas_std * 2)
    sy, vy = smooth_constant_velocity(times, measured([d.center[1] for d in dets]), config.accel_std, config.meas_std * 2)
    speed = np.hypot(vx, vy)
    displacement = math.hypot(sx[-1] - sx[0], sy[-1] - sy[0])
    moving = not force_static and bool(displacement >= config.moving_min_displacement and speed.max() >= config.moving_min_speed)
    if moving:
        fast = speed >= min(config.heading_min_speed, 0.8 * speed.max())
        headings = _fill_forward_backward(np.arctan2(vy, vx), fast)
    else:
        headings = np.full(len(frames), _static_heading(observed))

    # One size; boxes re-anchored on their visible faces.
    def extents(det: WorldDetection) -> tuple[float, float]:
        heading = headings[slot[det.frame_index]]
        u = np.array([math.cos(heading), math.sin(heading)])
        v = np.array([-u[1], u[0]])
        return float(np.ptp(det.footprint @ u)), float(np.ptp(det.footprint @ v))

    seen = np.array([extents(d) for d in observed])
    if float(np.percentile(seen.max(axis=1), config.size_percentile)) < config.min_observed_extent:
        return None
    nearest = min(float(np.linalg.norm(d.center[:2] - d.sensor_xy)) for d in observed)
    if nearest > config.max_distance or (not moving and len(observed) < config.static_min_hits):
        return None
    length = max(float(np.percentile(seen[:, 0], config.length_percentile)), config.min_size[0])
    width = min(max(float(np.percentile(seen[:, 1], config.size_percentile)), config.min_size[1]), config.max_width)
    height = _track_height(observed, config)
    anchored = np.array(
        [d.center[:2] if d.extended else _anchored_center(d, headings[slot[d.frame_index]], length, width) for d in dets]
    )
    ground = measured([d.ground_z for d in dets])

    if moving:
        cx, vx = smooth_constant_velocity(times, measured(list(anchored[:, 0])), config.accel_std, config.meas_std)
        cy, vy = smooth_constant_velocity(times, measured(list(anchored[:, 1])), config.accel_std, config.meas_std)
        cz, _ = smooth_constant_velocity(times, ground, 0.5, 0.1)
        speed = np.hypot(vx, vy)
        fast = speed >= min(config.heading_min_speed, 0.8 * speed.max())
        yaws = np.unwrap(_fill_forward_backward(np.arctan2(vy, vx), fast))
    else:
        cx = np.full(len(frames), float(np.median(anchored[:, 0])))
        cy = np.full(len(frames), float(np.median(anchored[:, 1])))
        cz = np.full(len(frames), float(np.nanmedian(ground)))
        yaws = headings
    boxes = [
        ActorBox(int(frame), np.array([cx[k], cy[k], cz[k] + height / 2]), wrap_angle(float(yaws[k])))
        for k, frame in enumerate(frames)
    ]
    return ActorTrack(track_id, "vehicle", np.array([length, width, height]), moving, boxes)


def _overlap_share(track: ActorTrack, other: ActorTrack, margin: float = 0.3) -> float:
    """Share of their common frames in which one track's centre lies inside the other's box."""
    shared = 0
    inside = 0
    for box in track.boxes:
        other_box = other.box_at(box.frame_index)
        if other_box is None:
            continue
        shared += 1
        for a, b, size in ((box, other_box, other.size), (other_box, box, track.size)):
            local = np.linalg.inv(b.world_from_box()) @ np.append(a.center, 1.0)
            if abs(local[0]) <= size[0] / 2 + margin and abs(local[1]) <= size[1] / 2 + margin:
                inside += 1
                break
    return inside / shared if shared else 0.0


def _shared_frames(track: ActorTrack, other: ActorTrack) -> int:
    """Number of frames in which both tracks have a box."""
    return len({b.frame_index for b in track.boxes} & {b.frame_index for b in other.boxes})


def remove_duplicates(tracks: list[ActorTrack], hits: dict[str, int], min_shared: int = 1) -> list[ActorTrack]:
    """Drop a track that sits inside a track with more detections for most of their common frames (when
    they share at least `min_shared` frames: tracks that follow one another meet in a frame or two)."""
    ordered = sorted(tracks, key=lambda t: -hits[t.track_id])
    kept: list[ActorTrack] = []
    for track in ordered:
        if not any(_shared_frames(track, other) >= min_shared and _overlap_share(track, other) > 0.5 for other in kept):
            kept.append(track)
    return sorted(kept, key=lambda t: (t.boxes[0].frame_index, t.track_id))


def _span(dets: list[WorldDetection], scan_frames: np.ndarray, frame_count: int) -> tuple[int, int]:
    """Frames from just after the scan before the first sighting to just before the scan after the last."""
    first, last = dets[0].frame_index, dets[-1].frame_index
    earlier = scan_frames[scan_frames < first]
    later = scan_frames[scan_frames > last]
    return (int(earlier[-1]) + 1 if len(earlier) else 0, int(later[0]) - 1 if len(later) else frame_count - 1)


def _extension_detection(box: ExtendedBox, size: np.ndarray) -> WorldDetection:
    """A box placed by track extension as a position measurement of the track (see WorldDetection)."""
    return WorldDetection(
        frame_index=box.frame_index,
        time=box.time,
        center=np.array([box.center[0], box.center[1], box.ground_z + size[2] / 2]),
        size=size.copy(),
        yaw=box.yaw,
        ground_z=box.ground_z,
        footprint=np.zeros((0, 2)),
        sensor_xy=box.sensor_xy.copy(),
        ego_yaw=box.ego_yaw,
        extended=True,
    )


def extend_tracks(
    tracks: list[ActorTrack],
    detections: dict[str, list[WorldDetection]],
    support: list[SupportScan],
    frame_times: np.ndarray,
    scan_frames: np.ndarray,
    config: TrackingConfig,
) -> list[ActorTrack]:
    """Each track extended backwards and forwards over the scans of `support` that still show it (see
    `ingest/extension.py`) and finished again with the extension boxes as extra positions; `detections`
    holds each track's detections by track id. The boxes of tracks with at least as many detections stop
    an extension (those of worse-supported ones do not: a cluster of two vehicles seen as one for a few
    scans must not keep them out; it is removed as a duplicate afterwards)."""
    result = []
    for track in tracks:
        own = detections[track.track_id]
        others = [other for other in tracks if other is not track and len(detections[other.track_id]) >= len(own)]
        boxes = extend_track(track, support, frame_times, others, config.extension)
        if not boxes:
            result.append(track)
            continue
        dets = sorted(own + [_extension_detection(box, track.size) for box in boxes], key=lambda d: d.frame_index)
        extended = finalize_track(dets, frame_times, track.track_id, config, _span(dets, scan_frames, len(frame_times)), not track.moving)
        result.append(extended if extended is not None else track)
    return result


def track_vehicles(
    scans: list[list[WorldDetection]],
    frame_times: np.ndarray,
    scan_frames: list[int],
    config: TrackingConfig = TrackingConfig(),
    support: list[SupportScan] | None = None,
    force_static: bool = False,
    keep: Callable[[ActorTrack, list[WorldDetection]], bool] | None = None,
) -> list[ActorTrack]:
    """Actor tracks from per-scan world detections (`scans[k]` from frame `scan_frames[k]`, in time order);
    `frame_times` gives every frame's time [s]. With `support` (the scans' obstacle points), tracks are
    extended over the scans where the detector missed their object but its points are there.
    `force_static`: the detections are of static objects (every track is static); `keep`: a track is kept
    only when it says so, given the track and its detections."""
    associated = link_fragments(associate(scans, config), config)
    scan_array = np.asarray(sorted(scan_frames))
    tracks: list[ActorTrack] = []
    detections: dict[str, list[WorldDetection]] = {}
    for number, dets in enumerate(associated):
        dets = sorted(dets, key=lambda d: d.frame_index)
        track_id = f"vehicle_{number:03d}"
        track = finalize_track(dets, frame_times, track_id, config, _span(dets, scan_array, len(frame_times)), force_static)
        if track is not None and (keep is None or keep(track, dets)):
            tracks.append(track)
            detections[track_id] = dets
    hits = {track_id: len(dets) for track_id, dets in detections.items()}
    kept = remove_duplicates(tracks, hits, config.duplicate_min_shared_frames)
    if support:
        kept = extend_tracks(kept, detections, support, frame_times, scan_array, config)
        kept = remove_duplicates(kept, hits, config.duplicate_min_shared_frames)
    for number, track in enumerate(kept):
        track.track_id = f"vehicle_{number:03d}"
    return kept
