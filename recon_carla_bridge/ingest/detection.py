"""Object detection in one LiDAR scan: ground removal, clustering, oriented box fitting, vehicle filtering.

Works in the ego frame (x forward, y left, z up, origin on the ground). Boxes are fitted to what the
LiDAR sees, so a car seen from behind gets a short box; the tracker later gives each track one size and
anchors the box on its visible faces. A LiDAR's highest beam rises only slowly (KITTI's HDL-64: 2 degrees),
so near a tall vehicle it passes below the roof: a cluster reaching that beam is marked `top_clipped`
(its height is only a lower bound).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

TOP_BEAM_BIN = 1.0  # horizontal range bins of the top-beam fit [m]
TOP_BEAM_RANGE = (3.0, 40.0)  # ranges over which the top beam is fitted [m]
TOP_BEAM_SLACK = 0.1  # range bins whose highest return lies this far below the fitted beam saw nothing tall there [m]
TOP_BEAM_MIN_BINS = 8  # fewer bins on the beam: no fit
TOP_BEAM_MAX_SLOPE = 0.2  # steeper fitted beams (> 11 degrees up) are not a LiDAR's top beam
TOP_CLIP_TOLERANCE = 0.05  # points this close below the top beam lie on it (range noise and fit) [m]
TOP_CLIP_MIN_POINTS = 3  # a cluster with this many points on the top beam is cut off by it


@dataclass(frozen=True)
class DetectionConfig:
    """Settings of the single-scan detector.

    Attributes:
        max_range: ignore points farther than this horizontally from the ego origin [m].
        ego_half_length: points with |x| below this (and |y| < ego_half_width) belong to the ego [m].
        ego_half_width: see ego_half_length [m].
        ground_cell: cell size of the local-ground grid [m].
        ground_clearance: a point this much above the local ground is an obstacle point [m].
        max_object_height: points higher than this above the ground (bridges, trees) are dropped [m].
        voxel: obstacle points are thinned to one per voxel of this size before clustering [m].
        cluster_eps: DBSCAN neighbour radius in the ground plane [m].
        cluster_min_points: DBSCAN core-point threshold (after thinning).
        min_points: clusters with fewer thinned points are dropped.
        max_depression: points lower than (max_depression + depression_slope * range) below the
            fitted road plane are multipath ghosts, dropped before the ground is estimated [m].
        plane_radius: the road plane is fitted to points within this distance [m].
        plane_iterations: RANSAC iterations of the plane fit.
        depression_slope: see max_depression (allows a road falling away from the ego) [m/m].
    """

    max_range: float = 45.0
    ego_half_length: float = 2.8
    ego_half_width: float = 1.2
    ground_cell: float = 1.0
    ground_clearance: float = 0.3
    max_object_height: float = 4.2
    voxel: float = 0.1
    cluster_eps: float = 0.3
    cluster_min_points: int = 4
    min_points: int = 25
    max_depression: float = 0.15
    plane_radius: float = 25.0
    plane_iterations: int = 60
    depression_slope: float = 0.01


@dataclass(frozen=True)
class Detection:
    """An oriented box fitted to one cluster, in the ego frame of its scan.

    Attributes:
        center: (3,) box centre [m] (z = mid-height above the local ground).
        size: (3,) visible length (along yaw), width, height [m]; length >= width.
        yaw: heading of the length axis about z [rad], in (-pi/2, pi/2] (direction unknown).
        ground_z: local ground height under the box [m].
        num_points: obstacle points in the cluster (after thinning).
        footprint: (K, 2) the cluster's points in the ground plane [m] (for re-anchoring).
        top_clipped: the cluster reaches the LiDAR's top beam, so the object may be taller than `size[2]`.
    """

    center: np.ndarray
    size: np.ndarray
    yaw: float
    ground_z: float
    num_points: int
    footprint: np.ndarray
    top_clipped: bool = False


@dataclass(frozen=True)
class TopBeam:
    """The LiDAR's highest beam in the ego frame: it passes at height `base + slope * r` at horizontal
    distance r from the ego origin (above a tall object nearer than the LiDAR sees its top).

    Attributes:
        base: height of the beam over the ego origin [m].
        slope: rise per metre of horizontal distance (tan of its elevation) [m/m].
    """

    base: float
    slope: float

    def height_at(self, horizontal: np.ndarray) -> np.ndarray:
        """Height [m] of the beam at horizontal distances `horizontal` [m] from the ego origin."""
        return self.base + self.slope * np.asarray(horizontal)


def fit_top_beam(scans: Iterable[np.ndarray]) -> TopBeam | None:
    """The top beam of the LiDAR from ego-frame scans (N, >=3): a line through the highest return per
    horizontal range bin over all scans, refitted without the bins where nothing reached the beam; None
    when too few bins lie on a plausible beam."""
    edges = np.arange(TOP_BEAM_RANGE[0], TOP_BEAM_RANGE[1] + TOP_BEAM_BIN / 2, TOP_BEAM_BIN)
    highest = np.full(len(edges) - 1, -np.inf)
    for points in scans:
        bins = np.digitize(np.hypot(points[:, 0], points[:, 1]), edges) - 1
        inside = (bins >= 0) & (bins < len(highest))
        np.maximum.at(highest, bins[inside], points[inside, 2])
    ranges = (edges[:-1] + edges[1:]) / 2
    on_beam = np.isfinite(highest)
    for _ in range(4):
        if on_beam.sum() < TOP_BEAM_MIN_BINS:
            return None
        slope, base = np.polyfit(ranges[on_beam], highest[on_beam], 1)
        on_beam = np.isfinite(highest) & (highest > base + slope * ranges - TOP_BEAM_SLACK)
    if on_beam.sum() < TOP_BEAM_MIN_BINS or not 0.0 <= slope <= TOP_BEAM_MAX_SLOPE:
        return None
    return TopBeam(float(base), float(slope))


def reaches_top_beam(cluster: np.ndarray, top_beam: TopBeam | None) -> bool:
    """True when at least TOP_CLIP_MIN_POINTS of the (K, 3) ego-frame cluster points reach the top beam."""
    if top_beam is None:
        return False
    beam = top_beam.height_at(np.hypot(cluster[:, 0], cluster[:, 1]))
    return int((cluster[:, 2] >= beam - TOP_CLIP_TOLERANCE).sum()) >= TOP_CLIP_MIN_POINTS


def local_ground_height(points: np.ndarray, cell: float) -> np.ndarray:
    """Per-point ground height: the lowest z in the point's grid cell and its 8 neighbours, cut off at the
    ego plane z = 0 +- 1 m so that a cell with only a car's roof does not become ground."""
    keys = np.floor(points[:, :2] / cell).astype(np.int64)
    origin = keys.min(axis=0) - 1
    keys -= origin
    shape = tuple(keys.max(axis=0) + 2)
    lowest = np.full(shape, np.inf)
    np.minimum.at(lowest, (keys[:, 0], keys[:, 1]), points[:, 2])
    padded = np.pad(lowest, 1, constant_values=np.inf)
    neighbourhood = np.min(
        [padded[1 + dx : 1 + dx + shape[0], 1 + dy : 1 + dy + shape[1]] for dx in (-1, 0, 1) for dy in (-1, 0, 1)], axis=0
    )
    ground = neighbourhood[keys[:, 0], keys[:, 1]]
    return np.clip(ground, -1.0, 1.0)


def fit_ground_plane(xyz: np.ndarray, config: DetectionConfig, seed: int = 0) -> np.ndarray:
    """(3,) plane z = a x + b y + c through the road near the ego (RANSAC over low points)."""
    near = xyz[(np.hypot(xyz[:, 0], xyz[:, 1]) < config.plane_radius) & (np.abs(xyz[:, 2]) < 0.6)]
    if len(near) < 3:
        return np.zeros(3)
    rng = np.random.default_rng(seed)
    sample = near[rng.choice(len(near), size=min(len(near), 4000), replace=False)]
    design = np.c_[sample[:, :2], np.ones(len(sample))]
    best, best_count = np.zeros(3), -1
    for _ in range(config.plane_iterations):
        pick = rng.choice(len(sample), size=3, replace=False)
        try:
            plane = np.linalg.solve(design[pick], sample[pick, 2])
        except np.linalg.LinAlgError:
            continue
        if np.hypot(plane[0], plane[1]) > 0.15:  # steeper than ~8.5 degrees: not the road
            continue
        count = int((np.abs(design @ plane - sample[:, 2]) < 0.08).sum())
        if count > best_count:
            best, best_count = plane, count
    inliers = np.abs(design @ best - sample[:, 2]) < 0.08
    return np.linalg.lstsq(design[inliers], sample[inliers, 2], rcond=None)[0]


def obstacle_points(points: np.ndarray, config: DetectionConfig) -> tuple[np.ndarray, np.ndarray]:
    """(M, 3) points standing above the ground (ego excluded, cropped) and their (M,) ground heights.

    The ground is the lowest point of each grid neighbourhood, after points more than
    `max_depression` below the fitted road plane (multipath ghosts under shiny cars) are dropped.
    """
    xyz = points[:, :3].astype(np.float64)
    horizontal = np.hypot(xyz[:, 0], xyz[:, 1])
    keep = horizontal < config.max_range
    keep &= ~((np.abs(xyz[:, 0]) < config.ego_half_length) & (np.abs(xyz[:, 1]) < config.ego_half_width))
    xyz, horizontal = xyz[keep], horizontal[keep]
    plane = fit_ground_plane(xyz, config)
    plane_z = xyz[:, 0] * plane[0] + xyz[:, 1] * plane[1] + plane[2]
    xyz = xyz[xyz[:, 2] > plane_z - (config.max_depression + config.depression_slope * horizontal)]
    ground = local_ground_height(xyz, config.ground_cell)
    height = xyz[:, 2] - ground
    above = (height > config.ground_clearance) & (height < config.max_object_height)
    return xyz[above], ground[above]


def voxel_thin(points: np.ndarray, voxel: float) -> np.ndarray:
    """Indices of one point per occupied voxel."""
    keys = np.floor(points[:, :3] / voxel).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    return np.sort(first)


def fit_oriented_box(xy: np.ndarray, angle_step_deg: float = 1.0) -> tuple[float, np.ndarray, np.ndarray]:
    """L-shape rectangle fit (closeness criterion) of (K, 2) points: (yaw, centre (2,), extents (2,)).

    Searches the rectangle orientation over [0, 90) degrees for the one whose edges the points hug; the
    first extent is along `yaw`. Returns the yaw of the longer side, in (-pi/2, pi/2].
    """
    angles = np.radians(np.arange(0.0, 90.0, angle_step_deg))
    cos_a, sin_a = np.cos(angles)[:, None], np.sin(angles)[:, None]
    along = xy[None, :, 0] * cos_a + xy[None, :, 1] * sin_a  # (A, K)
    across = -xy[None, :, 0] * sin_a + xy[None, :, 1] * cos_a
    d_along = np.minimum(along.max(axis=1, keepdims=True) - along, along - along.min(axis=1, keepdims=True))
    d_across = np.minimum(across.max(axis=1, keepdims=True) - across, across - across.min(axis=1, keepdims=True))
    distance = np.maximum(np.minimum(d_along, d_across), 0.05)
    best = int(np.argmax((1.0 / distance).sum(axis=1)))
    angle = float(angles[best])
    a, c = along[best], across[best]
    extents = np.array([a.max() - a.min(), c.max() - c.min()])
    mid_along, mid_across = (a.max() + a.min()) / 2, (c.max() + c.min()) / 2
    center = np.array([mid_along * math.cos(angle) - mid_across * math.sin(angle), mid_along * math.sin(angle) + mid_across * math.cos(angle)])
    if extents[1] > extents[0]:
        extents = extents[::-1].copy()
        angle += math.pi / 2
    yaw = math.atan2(math.sin(angle), math.cos(angle))
    if yaw > math.pi / 2:
        yaw -= math.pi
    elif yaw <= -math.pi / 2:
        yaw += math.pi
    return yaw, center, extents


def cluster_labels(xy: np.ndarray, config: DetectionConfig) -> np.ndarray:
    """DBSCAN labels (-1 = noise) of points in the ground plane."""
    from sklearn.cluster import DBSCAN

    if len(xy) == 0:
        return np.zeros(0, dtype=np.int64)
    return DBSCAN(eps=config.cluster_eps, min_samples=config.cluster_min_points).fit(xy).labels_


def thinned_obstacles(points: np.ndarray, config: DetectionConfig = DetectionConfig()) -> tuple[np.ndarray, np.ndarray]:
    """(M, 3) obstacle points of one (N, >=3) ego-frame scan thinned to one per voxel, and their (M,) ground
    heights: what the detector clusters, and what track extension checks predicted boxes against."""
    obstacles, ground = obstacle_points(points, config)
    if len(obstacles) == 0:
        return obstacles, ground
    keep = voxel_thin(obstacles, config.voxel)
    return obstacles[keep], ground[keep]


def detect_objects(points: np.ndarray, config: DetectionConfig = DetectionConfig(), top_beam: TopBeam | None = None) -> list[Detection]:
    """Oriented boxes of the above-ground clusters of one (N, >=3) ego-frame scan (no class filtering);
    with the LiDAR's `top_beam`, clusters reaching it are marked `top_clipped`."""
    return detect_in_obstacles(*thinned_obstacles(points, config), config, top_beam)


def detect_in_obstacles(
    obstacles: np.ndarray, ground: np.ndarray, config: DetectionConfig = DetectionConfig(), top_beam: TopBeam | None = None
) -> list[Detection]:
    """Oriented boxes of the clusters of (M, 3) thinned obstacle points with (M,) ground heights (see
    `detect_objects`)."""
    if len(obstacles) == 0:
        return []
    labels = cluster_labels(obstacles[:, :2], config)
    detections: list[Detection] = []
    for label in np.unique(labels[labels >= 0]):
        member = labels == label
        if member.sum() < config.min_points:
            continue
        cluster = obstacles[member]
        ground_z = float(np.median(ground[member]))
        yaw, center_xy, extents = fit_oriented_box(cluster[:, :2])
        top = float(np.percentile(cluster[:, 2], 98))
        height = max(top - ground_z, 0.1)
        detections.append(
            Detection(
                center=np.array([center_xy[0], center_xy[1], ground_z + height / 2]),
                size=np.array([max(extents[0], 0.1), max(extents[1], 0.1), height]),
                yaw=yaw,
                ground_z=ground_z,
                num_points=int(member.sum()),
                footprint=cluster[:, :2].copy(),
                top_clipped=reaches_top_beam(cluster, top_beam),
            )
        )
    return detections


@dataclass(frozen=True)
class VehicleShape:
    """What a (possibly partly seen) vehicle cluster may look like.

    Attributes:
        min_height: lowest plausible roof height above ground [m].
        max_height: highest (trucks, buses) [m].
        max_length: longest [m] (a road train or articulated bus: 18.75 m in the EU).
        max_width: widest [m].
        min_extent: the longer visible side must reach this [m].
        max_bottom: the cluster's lowest point must be this close to the ground [m] (not a canopy).
    """

    min_height: float = 1.1
    max_height: float = 4.2
    max_length: float = 18.75
    max_width: float = 3.0
    min_extent: float = 1.2
    max_bottom: float = 0.7


def looks_like_vehicle(detection: Detection, shape: VehicleShape = VehicleShape()) -> bool:
    """True when a detection's visible box fits a (partly seen) car, van, truck or bus."""
    length, width, height = detection.size
    return bool(
        shape.min_height <= height <= shape.max_height
        and shape.min_extent <= length <= shape.max_length
        and width <= shape.max_width
    )
