"""Static or moving, from the LiDAR alone: does the space a cluster fills stay filled in the other scans?

With good ego poses, a fence, a hedge, a wall or a parked car fills the same world cells in every scan
that sees that place; a moving vehicle has left its cells a fraction of a second later (a car at 5 m/s
has moved 3 m after 0.6 s). Each scan's obstacle points are binned on a world grid; a detection is
compared with the scans a little earlier and later than its own (not the nearest ones, which a slow
vehicle still overlaps, nor far ones, where a following vehicle may have taken its place) in whose range
it lies, and its *persistence* is the share of those scans that fill most of its cells again.

This tells static structure from moving vehicles; it does not tell a parked car from a hedge (both are
static), which the static-vehicle test does (`ingest/static_vehicles.py`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PersistenceConfig:
    """Settings of the persistence test.

    Attributes:
        cell: world grid cell [m].
        dilation: a cell counts as filled in a scan when that scan has a point within this many cells
            (pose and range noise) [cells].
        min_gap: scans nearer in time than this are not compared (a vehicle still overlaps itself) [s].
        window: scans farther in time than this are not compared (another vehicle may have taken its
            place, e.g. the next car in a lane) [s].
        max_range: a scan is compared only when the detection lies within this horizontal range of its
            sensor (farther, the LiDAR would not see it) [m].
        cover: a compared scan shows the detection again when it fills this share of its cells.
        static_share: a detection shown again by at least this share of the compared scans is static.
    """

    cell: float = 0.3
    dilation: int = 1
    min_gap: float = 0.55
    window: float = 1.3
    max_range: float = 40.0
    cover: float = 0.5
    static_share: float = 0.5


class OccupancyHistory:
    """Which world grid cells each scan's obstacle points fill (dilated), to ask how persistent a
    detection is."""

    def __init__(
        self,
        scans_xy: list[np.ndarray],
        times: np.ndarray,
        sensors_xy: np.ndarray,
        config: PersistenceConfig = PersistenceConfig(),
        barrier_xy: list[np.ndarray] | None = None,
    ):
        """`scans_xy[k]`: (M_k, 2) world xy of scan k's obstacle points; `times` (K,) their times [s];
        `sensors_xy` (K, 2) the sensor's world xy in each; `barrier_xy[k]` the points of scan k that
        could block a line of sight (tall enough; default all)."""
        self.config = config
        self.times = np.asarray(times, dtype=np.float64)
        self.sensors_xy = np.asarray(sensors_xy, dtype=np.float64).reshape(-1, 2)
        nonempty = [xy for xy in scans_xy if len(xy)]
        stacked = np.concatenate(nonempty) if nonempty else np.zeros((1, 2))
        pad = config.dilation + 1
        self.origin = np.floor(stacked.min(axis=0) / config.cell).astype(np.int64) - pad
        top = np.floor(stacked.max(axis=0) / config.cell).astype(np.int64) + pad
        self.shape = tuple(int(v) for v in top - self.origin + 1)
        self.filled = np.zeros((len(scans_xy), *self.shape), dtype=bool)
        self.counts = np.zeros(self.shape, dtype=np.int32)
        self._barriers: dict[tuple[int, float], np.ndarray] = {}
        for k, xy in enumerate(scans_xy):
            if len(xy) == 0:
                continue
            keys = np.floor(np.asarray(xy) / config.cell).astype(np.int64) - self.origin
            grid = np.zeros(self.shape, dtype=bool)
            grid[keys[:, 0], keys[:, 1]] = True
            self.filled[k] = _dilate(grid, config.dilation)
        for xy in barrier_xy if barrier_xy is not None else scans_xy:
            if len(xy) == 0:
                continue
            keys = np.floor(np.asarray(xy) / config.cell).astype(np.int64) - self.origin
            inside = np.all((keys >= 0) & (keys < np.array(self.shape)), axis=1)
            grid = np.zeros(self.shape, dtype=bool)
            grid[keys[inside, 0], keys[inside, 1]] = True
            self.counts += grid

    def barrier_mask(self, min_scans: int, min_extent: float) -> np.ndarray:
        """Cells of long static structure (fences, walls, hedges): filled (by barrier points) in at least `min_scans` scans and
        connected (8-neighbours, across one empty cell) into a structure whose bounding box has a diagonal
        of at least `min_extent` m."""
        key = (min_scans, min_extent)
        if key not in self._barriers:
            from scipy.ndimage import find_objects, label

            static = self.counts >= min_scans
            labels, _ = label(_dilate(static, 1), structure=np.ones((3, 3), dtype=bool))
            keep = np.zeros(labels.max() + 1, dtype=bool)
            for number, box in enumerate(find_objects(labels), start=1):
                if box is not None and np.hypot(*(sl.stop - sl.start for sl in box)) * self.config.cell >= min_extent:
                    keep[number] = True
            self._barriers[key] = static & keep[labels]
        return self._barriers[key]

    def on_barrier(self, xy: np.ndarray, min_scans: int, min_extent: float) -> np.ndarray:
        """(K,) whether each of (K, 2) world points lies on a cell of `barrier_mask`."""
        mask = self.barrier_mask(min_scans, min_extent)
        keys = np.floor(np.asarray(xy) / self.config.cell).astype(np.int64) - self.origin
        inside = np.all((keys >= 0) & (keys < np.array(self.shape)), axis=1)
        result = np.zeros(len(keys), dtype=bool)
        result[inside] = mask[keys[inside, 0], keys[inside, 1]]
        return result

    def _cells(self, xy: np.ndarray) -> np.ndarray:
        keys = np.unique(np.floor(np.asarray(xy) / self.config.cell).astype(np.int64), axis=0) - self.origin
        inside = np.all((keys >= 0) & (keys < np.array(self.shape)), axis=1)
        return keys[inside]

    def compared_scans(self, xy: np.ndarray, time: float) -> np.ndarray:
        """Indices of the scans a detection with (K, 2) world points seen at `time` is compared with."""
        gap = np.abs(self.times - time)
        center = np.asarray(xy).mean(axis=0)
        in_range = np.linalg.norm(self.sensors_xy - center, axis=1) <= self.config.max_range
        return np.flatnonzero((gap >= self.config.min_gap) & (gap <= self.config.window) & in_range)

    def cover_at(self, xy: np.ndarray, time: float) -> float:
        """Share of the cells of (K, 2) world points that the scan nearest to `time` fills (dilated)."""
        cells = self._cells(xy)
        if len(cells) == 0:
            return 0.0
        scan = int(np.argmin(np.abs(self.times - time)))
        return float(self.filled[scan, cells[:, 0], cells[:, 1]].mean())

    def persistence(self, xy: np.ndarray, time: float) -> tuple[float, int]:
        """(share of the compared scans that fill most of the cells of (K, 2) world points seen at
        `time`, number of compared scans); (nan, 0) when no scan can be compared."""
        compared = self.compared_scans(xy, time)
        cells = self._cells(xy)
        if len(compared) == 0 or len(cells) == 0:
            return float("nan"), 0
        cover = self.filled[compared][:, cells[:, 0], cells[:, 1]].mean(axis=1)
        return float((cover >= self.config.cover).mean()), len(compared)


def _dilate(grid: np.ndarray, cells: int) -> np.ndarray:
    """Boolean grid grown by `cells` in x and y (a square neighbourhood)."""
    if cells <= 0:
        return grid
    from scipy.ndimage import binary_dilation

    return binary_dilation(grid, structure=np.ones((2 * cells + 1, 2 * cells + 1), dtype=bool))
