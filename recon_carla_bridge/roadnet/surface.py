"""Where the asphalt is: carriageway edges from the LiDAR's ground returns along the ego path.

Asphalt returns little of the LiDAR's light; grass, soil, kerbs and pavement slabs return more. The
ground (the lowest returns of each small world cell, over all scans) is binned in the road's own
coordinates (s along a line fitted to the ego path, t to its left), and per slice of s:

* the ego's carriageway is the run of dark ground bins around the ego (short bright gaps, the painted
  lane markings, are bridged);
* an opposite carriageway is the next run of dark ground to the left beyond a bright strip (a median),
  when it is wide enough for a lane.

The slices' edges are smoothed along s. The surface says nothing about driving directions: the road
builder takes the opposite carriageway as oncoming (right-hand traffic) and checks moving tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.spatial import cKDTree

from recon_carla_bridge.roadnet.centerline import Centerline


@dataclass(frozen=True)
class SurfaceConfig:
    """Settings of the carriageway finder.

    Attributes:
        cell: world cell of the ground map [m].
        ground_band: returns this close above a cell's lowest one are its ground [m].
        max_range: returns farther than this from the sensor are not used [m].
        slice_length: length of the s slices [m].
        bin_width: width of the t bins [m].
        max_lateral: the surface is searched this far to either side [m].
        dark_margin: a bin is asphalt when its reflectance is at most the ego lane's plus this.
        bridge: bright gaps up to this wide inside a carriageway are lane markings [m].
        min_carriageway: narrower dark runs are not a carriageway [m].
        max_carriageway: wider dark runs around the ego are not one carriageway (ground that is all
            alike: no kerbs to find) [m]; an opposite one may run twice as wide (into a parking strip).
        max_median: an opposite carriageway is searched this far beyond the ego carriageway [m].
        min_median: a bright strip narrower than this between two dark runs is not a median [m].
        min_slices: fewer slices with both edges found: no surface.
        smooth_slices: edges are median-filtered over this many slices.
    """

    cell: float = 0.25
    ground_band: float = 0.08
    max_range: float = 40.0
    slice_length: float = 2.0
    bin_width: float = 0.25
    max_lateral: float = 30.0
    dark_margin: float = 0.06
    bridge: float = 0.75
    min_carriageway: float = 5.0
    max_carriageway: float = 16.0
    max_median: float = 20.0
    min_median: float = 1.5
    min_slices: int = 8
    smooth_slices: int = 7


@dataclass(frozen=True)
class RoadSurface:
    """Carriageway edges per slice of the line they were measured along (t left positive; NaN where
    not found).

    Attributes:
        s: (S,) slice centres along the line [m].
        right: (S,) right edge of the ego carriageway [m].
        left: (S,) left edge of the ego carriageway [m].
        opposite_right: (S,) near edge of the opposite carriageway [m].
        opposite_left: (S,) far edge of the opposite carriageway [m].
        asphalt_reflectance: reflectance threshold used.
    """

    s: np.ndarray
    right: np.ndarray
    left: np.ndarray
    opposite_right: np.ndarray
    opposite_left: np.ndarray
    asphalt_reflectance: float

    @property
    def found(self) -> bool:
        """True when the ego carriageway was found in enough slices."""
        return bool(np.isfinite(self.left).sum() > 0 and np.isfinite(self.right).sum() > 0)

    @property
    def has_opposite(self) -> bool:
        """True when an opposite carriageway was found in at least half of the slices with the ego's."""
        return bool(np.isfinite(self.opposite_right).sum() >= 0.5 * max(np.isfinite(self.left).sum(), 1))


def ground_cells(world_scans: list[np.ndarray], sensors_xy: np.ndarray, config: SurfaceConfig = SurfaceConfig()) -> np.ndarray:
    """(C, 4) ground cells x, y, z, reflectance from world scans (N, 4: x, y, z, reflectance) and
    their sensors' (K, 2) world xy: per cell the lowest return and the mean reflectance of the returns
    within `ground_band` above it."""
    kept = []
    for points, sensor in zip(world_scans, sensors_xy):
        near = np.hypot(points[:, 0] - sensor[0], points[:, 1] - sensor[1]) < config.max_range
        kept.append(points[near])
    points = np.concatenate(kept) if kept else np.zeros((0, 4))
    if len(points) == 0:
        return np.zeros((0, 4))
    keys = np.floor(points[:, :2] / config.cell).astype(np.int64)
    keys -= keys.min(axis=0)
    _, cell, counts = np.unique(keys[:, 0] * (int(keys[:, 1].max()) + 1) + keys[:, 1], return_inverse=True, return_counts=True)
    cell = cell.ravel()
    lowest = np.full(len(counts), np.inf)
    np.minimum.at(lowest, cell, points[:, 2])
    ground = points[:, 2] <= lowest[cell] + config.ground_band
    total = np.bincount(cell[ground], weights=points[ground, 3], minlength=len(counts))
    number = np.bincount(cell[ground], minlength=len(counts))
    xy = np.c_[np.bincount(cell, weights=points[:, 0]), np.bincount(cell, weights=points[:, 1])] / counts[:, None]
    return np.c_[xy, lowest, total / np.maximum(number, 1)]


def _project(line: Centerline, xy: np.ndarray, step: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    samples = line.sample(step)
    _, nearest = cKDTree(samples[:, 1:3]).query(xy)
    heading = samples[nearest, 3]
    d = xy - samples[nearest, 1:3]
    along = d[:, 0] * np.cos(heading) + d[:, 1] * np.sin(heading)
    lateral = -d[:, 0] * np.sin(heading) + d[:, 1] * np.cos(heading)
    return samples[nearest, 0] + along, lateral


def _runs(dark: np.ndarray, bridge_bins: int) -> list[tuple[int, int]]:
    """[start, end) runs of True in `dark` after bridging False gaps of up to `bridge_bins`."""
    filled = dark.copy()
    gap_start = None
    for k, value in enumerate(dark):
        if not value and gap_start is None:
            gap_start = k
        elif value and gap_start is not None:
            if gap_start > 0 and k - gap_start <= bridge_bins:
                filled[gap_start:k] = True
            gap_start = None
    runs, start = [], None
    for k, value in enumerate(np.append(filled, False)):
        if value and start is None:
            start = k
        elif not value and start is not None:
            runs.append((start, k))
            start = None
    return runs


def find_road_surface(cells: np.ndarray, line: Centerline, ego_s: np.ndarray, config: SurfaceConfig = SurfaceConfig()) -> RoadSurface:
    """Carriageway edges along `line` (the ego lane's line; (E,) `ego_s` are the ego's positions on it)
    from (C, 4) ground cells (see `ground_cells`)."""
    s, t = _project(line, cells[:, :2])
    reflectance = cells[:, 3]
    edges_t = np.arange(-config.max_lateral, config.max_lateral + config.bin_width / 2, config.bin_width)
    centers_t = (edges_t[:-1] + edges_t[1:]) / 2
    slices = np.arange(float(ego_s.min()), float(ego_s.max()) + config.slice_length / 2, config.slice_length)
    ego_lane = (np.abs(t) < 1.0) & (s >= ego_s.min()) & (s <= ego_s.max())
    threshold = float(np.median(reflectance[ego_lane])) + config.dark_margin if ego_lane.any() else 0.25
    result = np.full((len(slices), 4), np.nan)
    bridge_bins = int(round(config.bridge / config.bin_width))
    zero = int(np.searchsorted(edges_t, 0.0)) - 1
    for k, s0 in enumerate(slices):
        inside = (s >= s0 - config.slice_length / 2) & (s < s0 + config.slice_length / 2) & (np.abs(t) < config.max_lateral)
        bins = np.digitize(t[inside], edges_t) - 1
        total = np.bincount(bins, weights=reflectance[inside], minlength=len(centers_t))[: len(centers_t)]
        number = np.bincount(bins, minlength=len(centers_t))[: len(centers_t)]
        mean = np.where(number > 0, total / np.maximum(number, 1), np.nan)
        dark = np.nan_to_num(mean, nan=np.inf) <= threshold
        runs = _runs(dark, bridge_bins)
        ego_run = next(((a, b) for a, b in runs if a <= zero < b), None)
        if ego_run is None or not config.min_carriageway <= (ego_run[1] - ego_run[0]) * config.bin_width <= config.max_carriageway:
            continue
        result[k, 0], result[k, 1] = edges_t[ego_run[0]], edges_t[ego_run[1]]
        for a, b in runs:
            gap = edges_t[a] - result[k, 1]
            if config.min_median <= gap <= config.max_median and config.min_carriageway <= (b - a) * config.bin_width <= 2 * config.max_carriageway:
                result[k, 2], result[k, 3] = edges_t[a], edges_t[b]
                break
    if np.isfinite(result[:, 0]).sum() < config.min_slices:
        result[:] = np.nan
    smoothed = np.array([_smooth(column, config.smooth_slices) for column in result.T]).T
    return RoadSurface(slices, smoothed[:, 0], smoothed[:, 1], smoothed[:, 2], smoothed[:, 3], threshold)


def _smooth(values: np.ndarray, size: int) -> np.ndarray:
    """Median filter over the finite entries, NaN kept where nothing was found."""
    valid = np.isfinite(values)
    if valid.sum() < 2:
        return values
    filled = np.interp(np.arange(len(values)), np.flatnonzero(valid), values[valid])
    smoothed = median_filter(filled, size=size, mode="nearest")
    return np.where(valid, smoothed, np.nan)


def surface_along_path(positions: np.ndarray, ground: np.ndarray, line: Centerline, config: SurfaceConfig = SurfaceConfig()) -> RoadSurface:
    """The carriageways along the ego lane's `line` for an ego path of (F, >=2) world positions."""
    ego_s, _ = _project(line, positions[:, :2])
    return find_road_surface(ground, line, ego_s, config)


def on_carriageway(
    surface: RoadSurface, line: Centerline, xy: np.ndarray, margin: float = 1.0, beyond: bool = True, max_opposite_width: float = 8.0
) -> np.ndarray:
    """(K,) whether each of (K, 2) world points lies on the ego or the opposite carriageway (grown by
    `margin`; the opposite one at most `max_opposite_width` wide, as its far edge may run on into a
    parking strip) at the nearest measured slice; points beyond the measured slices get `beyond`."""
    s, t = _project(line, xy)
    result = np.full(len(xy), beyond, dtype=bool)
    measured = np.isfinite(surface.left)
    if not measured.any():
        return result
    for k, (s_k, t_k) in enumerate(zip(s, t)):
        if s_k < surface.s[measured].min() - 1.0 or s_k > surface.s[measured].max() + 1.0:
            continue
        j = int(np.argmin(np.where(measured, np.abs(surface.s - s_k), np.inf)))
        ego = surface.right[j] - margin <= t_k <= surface.left[j] + margin
        far = min(surface.opposite_left[j], surface.opposite_right[j] + max_opposite_width)
        opposite = np.isfinite(surface.opposite_right[j]) and surface.opposite_right[j] - margin <= t_k <= far + margin
        result[k] = bool(ego or opposite)
    return result
