"""Track extension: carry a track backwards and forwards in time while the LiDAR still shows its object.

The detector can miss an object for a while although its points are there: merged into one cluster with
a neighbour (a tractor and its trailer beside the ego), cut into pieces, or fitted with a box that fails
the vehicle-shape test. From each end of a finished track its box is predicted scan by scan at constant
velocity and kept while

* enough obstacle points (above the ground, voxel-thinned) lie inside it,
* the points show at least one end of the object (a face with free space beyond it, along the box), on
  which the box is re-placed (sideways it is placed on the side facing the sensor),
* the re-placed box stays near the prediction and near the sensor, and
* neither box has its centre inside the box of another track in that frame (that object is explained
  already; the caller chooses which tracks may stop an extension).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack
from recon_carla_bridge.ingest.se3 import yaw_of

ACROSS_TRIM_PERCENT = 2.0  # percent of a box's points allowed beyond each of its sides (stray returns)


@dataclass(frozen=True)
class ExtensionConfig:
    """Settings of track extension.

    Attributes:
        enabled: extend tracks at all.
        min_points: obstacle points (voxel-thinned) inside the predicted box needed to keep it.
        search: the object's ends are looked for up to this far beyond the predicted box's ends [m].
        lateral_margin: points this far beyond the predicted box's sides still count as the object's [m].
        face_gap: an end of the points is a face of the object when there are no points for this far
            beyond it [m].
        full_view_slack: points spanning the box length less this are the whole object [m].
        max_shift: a re-placed box farther than this from its prediction ends the extension [m].
        max_distance: boxes farther than this from the sensor are not extended into [m].
        velocity_gain: weight of each re-placement's step in the running speed (0 = constant velocity).
        velocity_window: the starting speed is measured over this much of the track's end [s].
    """

    enabled: bool = True
    min_points: int = 25
    search: float = 1.5
    lateral_margin: float = 0.4
    face_gap: float = 0.8
    full_view_slack: float = 0.5
    max_shift: float = 1.2
    max_distance: float = 30.0
    velocity_gain: float = 0.3
    velocity_window: float = 1.0


@dataclass(frozen=True)
class SupportScan:
    """One scan's obstacle points in the world frame, to check predicted boxes against.

    Attributes:
        frame_index: SceneLog frame of the scan.
        time: scan time [s].
        xy: (M, 2) world xy of the obstacle points [m].
        ground_z: (M,) world height of the ground under each point [m].
        sensor_xy: (2,) world xy of the ego origin [m].
        ego_yaw: world heading of the ego [rad].
    """

    frame_index: int
    time: float
    xy: np.ndarray
    ground_z: np.ndarray
    sensor_xy: np.ndarray
    ego_yaw: float


def support_scan(obstacles: np.ndarray, ground: np.ndarray, world_from_ego: np.ndarray, frame_index: int, time: float) -> SupportScan:
    """A SupportScan from (M, 3) ego-frame obstacle points and their (M,) ground heights."""
    rotation, translation = world_from_ego[:3, :3], world_from_ego[:3, 3]
    on_ground = np.c_[obstacles[:, :2], ground] if len(obstacles) else np.zeros((0, 3))
    world_ground = on_ground @ rotation.T + translation
    return SupportScan(
        frame_index=frame_index,
        time=time,
        xy=np.ascontiguousarray(world_ground[:, :2]),
        ground_z=np.ascontiguousarray(world_ground[:, 2]),
        sensor_xy=translation[:2].copy(),
        ego_yaw=yaw_of(world_from_ego),
    )


@dataclass(frozen=True)
class ExtendedBox:
    """A box placed by extension in one scan (the track's size and heading).

    Attributes:
        frame_index: SceneLog frame of the scan.
        time: scan time [s].
        center: (2,) world xy of the box centre [m].
        ground_z: world height of the ground under the box [m].
        yaw: world heading of the box [rad].
        sensor_xy: (2,) world xy of the ego origin then [m].
        ego_yaw: world heading of the ego then [rad].
        num_points: obstacle points inside the predicted box.
    """

    frame_index: int
    time: float
    center: np.ndarray
    ground_z: float
    yaw: float
    sensor_xy: np.ndarray
    ego_yaw: float
    num_points: int


def _axes(yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors along and across a heading."""
    along = np.array([math.cos(yaw), math.sin(yaw)])
    return along, np.array([-along[1], along[0]])


def _contains(box: ActorBox, size: np.ndarray, xy: np.ndarray) -> bool:
    """True when world point `xy` (2,) lies inside the footprint of `box` with `size`."""
    along, across = _axes(box.yaw)
    offset = xy - box.center[:2]
    return abs(float(offset @ along)) <= size[0] / 2 and abs(float(offset @ across)) <= size[1] / 2


def along_reach(half: float, config: ExtensionConfig) -> float:
    """How far from the predicted centre, along the box, points are looked at: an end may lie `search`
    beyond the predicted one, and needs `face_gap` of empty space beyond it [m]."""
    return half + config.search + config.face_gap


def place_along(coords: np.ndarray, predicted: float, half: float, config: ExtensionConfig, sensor: float) -> float | None:
    """Centre along the box length from the points' coordinates `coords` on that axis (those within
    `along_reach` of the box predicted at `predicted` with half length `half`), or None when the points
    show no end of the object (they run on past the search range at both ends, like a wall's).

    An end of the points within `search` of a predicted end is a face when no point lies within `face_gap`
    beyond it. Two faces at least the box length apart: the box is centred between them; else it sits on
    a face, the one facing the sensor (coordinate `sensor`) when both qualify, else the one nearer its
    predicted place.
    """
    if len(coords) == 0:
        return None
    low, high = float(coords.min()), float(coords.max())
    reach = along_reach(half, config)
    low_face = low - (predicted - reach) >= config.face_gap
    high_face = predicted + reach - high >= config.face_gap
    if low_face and high_face and high - low >= 2 * half - config.full_view_slack:
        return (low + high) / 2
    candidates = ([low + half] if low_face else []) + ([high - half] if high_face else [])
    if len(candidates) == 2:
        if sensor <= low:
            return candidates[0]
        if sensor >= high:
            return candidates[1]
    return min(candidates, key=lambda c: abs(c - predicted)) if candidates else None


def place_across(coords: np.ndarray, half: float, sensor: float) -> float:
    """Centre across the box from the points' coordinates on that axis: on the side facing the sensor
    (coordinate `sensor`) when the points are narrower than the box, else in their middle. The sides are
    robust extremes (ACROSS_TRIM_PERCENT of the points may stray beyond them)."""
    low, high = (float(v) for v in np.percentile(coords, [ACROSS_TRIM_PERCENT, 100 - ACROSS_TRIM_PERCENT]))
    if high - low < 2 * half:
        if sensor <= low:
            return low + half
        if sensor >= high:
            return high - half
    return (low + high) / 2


def _blocked(center: np.ndarray, frame_index: int, others: list[ActorTrack]) -> bool:
    """True when `center` lies inside another track's box in that frame."""
    for other in others:
        box = other.box_at(frame_index)
        if box is not None and _contains(box, other.size, center):
            return True
    return False


def place_box(
    scan: SupportScan, predicted: np.ndarray, yaw: float, size: np.ndarray, config: ExtensionConfig
) -> ExtendedBox | None:
    """The box of `size` and heading `yaw`, predicted at world xy `predicted`, re-placed on the scan's
    points; None when the scan does not support it (too few points inside, no end of the object seen,
    too far from the prediction or from the sensor)."""
    if float(np.linalg.norm(predicted - scan.sensor_xy)) > config.max_distance:
        return None
    along_axis, across_axis = _axes(yaw)
    offset = scan.xy - predicted
    along, across = offset @ along_axis, offset @ across_axis
    half_length, half_width = size[0] / 2, size[1] / 2
    inside = (np.abs(along) <= half_length) & (np.abs(across) <= half_width)
    if int(inside.sum()) < config.min_points:
        return None
    window = (np.abs(along) <= along_reach(half_length, config)) & (np.abs(across) <= half_width + config.lateral_margin)
    sensor = scan.sensor_xy - predicted
    shift_along = place_along(along[window], 0.0, half_length, config, float(sensor @ along_axis))
    if shift_along is None:
        return None
    lateral = window & (np.abs(along - shift_along) <= half_length)
    shift_across = place_across(across[lateral], half_width, float(sensor @ across_axis)) if lateral.any() else 0.0
    shift = shift_along * along_axis + shift_across * across_axis
    if float(np.linalg.norm(shift)) > config.max_shift:
        return None
    return ExtendedBox(
        frame_index=scan.frame_index,
        time=scan.time,
        center=predicted + shift,
        ground_z=float(np.median(scan.ground_z[inside])),
        yaw=yaw,
        sensor_xy=scan.sensor_xy.copy(),
        ego_yaw=scan.ego_yaw,
        num_points=int(inside.sum()),
    )


def end_speed(track: ActorTrack, frame_times: np.ndarray, at_start: bool, window: float) -> float:
    """Speed [m/s] along the heading of a moving track's first (or last) box, over `window` seconds of
    its first (or last) boxes; zero for a static track (negative when it backs up)."""
    if not track.moving or len(track.boxes) < 2:
        return 0.0
    boxes = track.boxes if at_start else track.boxes[::-1]
    end = boxes[0]
    inner = boxes[1]
    for box in boxes[1:]:
        if abs(frame_times[box.frame_index] - frame_times[end.frame_index]) > window:
            break
        inner = box
    dt = frame_times[inner.frame_index] - frame_times[end.frame_index]
    heading, _ = _axes(end.yaw)
    return float((inner.center[:2] - end.center[:2]) @ heading / dt)


def _extend_one_way(
    track: ActorTrack, scans: list[SupportScan], frame_times: np.ndarray, others: list[ActorTrack], config: ExtensionConfig, backward: bool
) -> list[ExtendedBox]:
    """Boxes in `scans` (ordered away from the track's end) until the first one that does not support it.

    The object moves along its heading (vehicles do not slide sideways): the prediction stays on the line
    of the end box, and only the re-placements' progress along it feeds the running speed."""
    end = track.boxes[0] if backward else track.boxes[-1]
    heading, _ = _axes(end.yaw)
    distance, time = 0.0, float(frame_times[end.frame_index])
    speed = end_speed(track, frame_times, backward, config.velocity_window)
    placed: list[ExtendedBox] = []
    for scan in scans:
        predicted_distance = distance + speed * (scan.time - time)
        predicted = end.center[:2] + predicted_distance * heading
        if _blocked(predicted, scan.frame_index, others):
            break
        box = place_box(scan, predicted, end.yaw, track.size, config)
        if box is None or _blocked(box.center, scan.frame_index, others):
            break
        placed_distance = float((box.center - end.center[:2]) @ heading)
        step = (placed_distance - distance) / (scan.time - time)
        speed = (1 - config.velocity_gain) * speed + config.velocity_gain * step
        distance, time = placed_distance, scan.time
        placed.append(box)
    return placed


def extend_track(
    track: ActorTrack, support: list[SupportScan], frame_times: np.ndarray, others: list[ActorTrack], config: ExtensionConfig = ExtensionConfig()
) -> list[ExtendedBox]:
    """Boxes for `track` in the scans of `support` before its first and after its last box, in frame order,
    as far as the scans support them (see the module docstring); the boxes of `others` stop it."""
    if not config.enabled or not track.boxes:
        return []
    first, last = track.boxes[0].frame_index, track.boxes[-1].frame_index
    before = sorted((s for s in support if s.frame_index < first), key=lambda s: -s.frame_index)
    after = sorted((s for s in support if s.frame_index > last), key=lambda s: s.frame_index)
    backward = _extend_one_way(track, before, frame_times, others, config, backward=True)
    forward = _extend_one_way(track, after, frame_times, others, config, backward=False)
    return backward[::-1] + forward
