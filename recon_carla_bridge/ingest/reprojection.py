"""Check poses and calibration: static LiDAR depth edges, moved into another frame's camera, should land on
image edges.

Depth-edge points are the nearer point of each large range jump between neighbours of one laser ring
(object silhouettes). They are moved from their scan's frame into the world with the scan's pose and into
the camera of another frame with that frame's (estimated or interpolated) pose. The score is the median
pixel distance from each projected point to the nearest strong image gradient. Points inside moving
actors' boxes are left out (they moved between the two times).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from recon_carla_bridge.ingest.scenelog import ActorTrack, CameraCalib, invert_pose


@dataclass(frozen=True)
class ReprojectionConfig:
    """Settings of the reprojection check.

    Attributes:
        range_jump: a neighbour this much farther makes a point a depth edge [m].
        max_azimuth_step_deg: neighbours farther apart in azimuth are not on the same ring.
        min_depth: edge points nearer to the camera than this are ignored [m].
        max_depth: ... and farther than this [m].
        edge_percentile: image pixels above this gradient percentile are edges.
        frame_offsets: compare each scan with the images this many frames later.
        box_margin: points within this of a moving actor's box are left out [m].
    """

    range_jump: float = 1.0
    max_azimuth_step_deg: float = 0.5
    min_depth: float = 4.0
    max_depth: float = 40.0
    edge_percentile: float = 92.0
    frame_offsets: tuple[int, ...] = (1, 3)
    box_margin: float = 0.5


@dataclass(frozen=True)
class ReprojectionReport:
    """Result of the check.

    Attributes:
        pairs: (scan, image) pairs evaluated.
        points: depth-edge points projected in all pairs.
        median_px: median distance of a projected point to the nearest image edge [px].
        p75_px: 75th percentile of that distance [px].
        shifted_median_px: the same with the target pose moved 0.5 m sideways and turned 1 degree
            (a poorer pose must score worse for the check to mean anything) [px].
    """

    pairs: int
    points: int
    median_px: float
    p75_px: float
    shifted_median_px: float


def depth_edge_points(points: np.ndarray, config: ReprojectionConfig) -> np.ndarray:
    """(M, 3) foreground silhouette points of a ring-ordered (N, >=3) scan."""
    xyz = points[:, :3]
    ranges = np.linalg.norm(xyz, axis=1)
    azimuth = np.arctan2(xyz[:, 1], xyz[:, 0])
    step = np.abs(np.angle(np.exp(1j * np.diff(azimuth))))
    neighbours = step < np.radians(config.max_azimuth_step_deg)
    jump = np.diff(ranges)
    before = np.zeros(len(xyz), dtype=bool)  # point i nearer than i + 1
    after = np.zeros(len(xyz), dtype=bool)  # point i + 1 nearer than i
    before[:-1] = neighbours & (jump > config.range_jump)
    after[1:] = neighbours & (-jump > config.range_jump)
    return xyz[before | after]


def edge_distance_map(image: np.ndarray, percentile: float) -> np.ndarray:
    """Per-pixel distance [px] to the nearest strong gradient of an (H, W, 3) uint8 image."""
    gray = image.astype(np.float32).mean(axis=2)
    gray = ndimage.gaussian_filter(gray, 1.0)
    magnitude = np.hypot(ndimage.sobel(gray, axis=0), ndimage.sobel(gray, axis=1))
    edges = magnitude > np.percentile(magnitude, percentile)
    return ndimage.distance_transform_edt(~edges)


def _outside_moving_boxes(world_xyz: np.ndarray, tracks: list[ActorTrack], frame_index: int, margin: float) -> np.ndarray:
    keep = np.ones(len(world_xyz), dtype=bool)
    for track in tracks:
        if not track.moving:
            continue
        box = track.box_at(frame_index)
        if box is None:
            continue
        local = (world_xyz - box.center) @ box.world_from_box()[:3, :3]
        inside = np.all(np.abs(local) <= track.size / 2 + margin, axis=1)
        keep &= ~inside
    return keep


def project_distances(
    world_xyz: np.ndarray, world_from_ego: np.ndarray, camera: CameraCalib, distance_map: np.ndarray, config: ReprojectionConfig
) -> np.ndarray:
    """Edge distances [px] of world points seen by `camera` on an ego at `world_from_ego`."""
    camera_from_world = invert_pose(world_from_ego @ camera.ego_from_camera)
    cam = world_xyz @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    cam = cam[(cam[:, 2] > config.min_depth) & (cam[:, 2] < config.max_depth)]
    pixels = cam @ camera.K.T
    u, v = pixels[:, 0] / pixels[:, 2], pixels[:, 1] / pixels[:, 2]
    visible = (u >= 0) & (u < camera.width - 1) & (v >= 0) & (v < camera.height - 1)
    return distance_map[np.round(v[visible]).astype(int), np.round(u[visible]).astype(int)]


def _shifted(pose: np.ndarray) -> np.ndarray:
    angle = np.radians(1.0)
    delta = np.eye(4)
    delta[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    delta[1, 3] = 0.5
    return pose @ delta


def reprojection_check(
    scans: dict[int, np.ndarray],
    images: dict[int, np.ndarray],
    poses: list[np.ndarray],
    camera: CameraCalib,
    tracks: list[ActorTrack],
    config: ReprojectionConfig = ReprojectionConfig(),
) -> ReprojectionReport:
    """Score poses + calibration: `scans` frame -> ring-ordered ego-frame (N, >=3) points, `images`
    frame -> (H, W, 3) uint8 of `camera`, `poses` world_from_ego per frame, `tracks` in world."""
    distances: list[np.ndarray] = []
    shifted: list[np.ndarray] = []
    pairs = 0
    maps: dict[int, np.ndarray] = {}
    for scan_frame, points in scans.items():
        edges = depth_edge_points(points, config)
        world = edges @ poses[scan_frame][:3, :3].T + poses[scan_frame][:3, 3]
        world = world[_outside_moving_boxes(world, tracks, scan_frame, config.box_margin)]
        for offset in config.frame_offsets:
            target = scan_frame + offset
            if target not in images or target >= len(poses):
                continue
            if target not in maps:
                maps[target] = edge_distance_map(images[target], config.edge_percentile)
            distances.append(project_distances(world, poses[target], camera, maps[target], config))
            shifted.append(project_distances(world, _shifted(poses[target]), camera, maps[target], config))
            pairs += 1
    all_distances = np.concatenate(distances) if distances else np.zeros(0)
    all_shifted = np.concatenate(shifted) if shifted else np.zeros(0)
    if len(all_distances) == 0:
        return ReprojectionReport(pairs, 0, float("nan"), float("nan"), float("nan"))
    return ReprojectionReport(
        pairs=pairs,
        points=len(all_distances),
        median_px=float(np.median(all_distances)),
        p75_px=float(np.percentile(all_distances, 75)),
        shifted_median_px=float(np.median(all_shifted)),
    )
