"""Compiled separating-axis tests of yaw-oriented boxes, the hot loop of every world step.

`geometry.obb_overlap_2d` states the test in numpy and stays the reference; with a few dozen actors
its thirty-odd numpy calls per tick cost more than the arithmetic, so the world step uses these
numba kernels (same axes, same tie-break, tested equal to the reference). Compiled on first use and
cached on disk.
"""
from __future__ import annotations

import numpy as np

_KERNELS: dict[str, object] = {}


def _build() -> dict[str, object]:
    import numba

    @numba.njit(cache=True)
    def sat_pairs(centers, half, yaws, pairs):  # pragma: no cover - compiled
        count = pairs.shape[0]
        overlapping = np.zeros(count, dtype=np.bool_)
        depth = np.zeros(count)
        normal = np.zeros((count, 2))
        ax = np.empty(4)
        ay = np.empty(4)
        gap = np.empty(4)
        dist = np.empty(4)
        for p in range(count):
            a, b = pairs[p, 0], pairs[p, 1]
            ca, sa = np.cos(yaws[a]), np.sin(yaws[a])
            cb, sb = np.cos(yaws[b]), np.sin(yaws[b])
            ax[0], ay[0], ax[1], ay[1] = ca, sa, -sa, ca
            ax[2], ay[2], ax[3], ay[3] = cb, sb, -sb, cb
            dx, dy = centers[b, 0] - centers[a, 0], centers[b, 1] - centers[a, 1]
            smallest = np.inf
            for k in range(4):
                ra = abs(ax[k] * ca + ay[k] * sa) * half[a, 0] + abs(ax[k] * -sa + ay[k] * ca) * half[a, 1]
                rb = abs(ax[k] * cb + ay[k] * sb) * half[b, 0] + abs(ax[k] * -sb + ay[k] * cb) * half[b, 1]
                dist[k] = ax[k] * dx + ay[k] * dy
                gap[k] = ra + rb - abs(dist[k])
                smallest = min(smallest, gap[k])
            overlapping[p] = gap[0] > 0.0 and gap[1] > 0.0 and gap[2] > 0.0 and gap[3] > 0.0
            best, best_angle = 0, np.inf
            for k in range(4):  # least overlap; ties go to the axis of smallest angle in [0, pi)
                if gap[k] <= smallest + 1e-9:
                    angle = np.arctan2(ay[k], ax[k]) % np.pi
                    if angle > np.pi - 1e-9:
                        angle = 0.0
                    if angle < best_angle:
                        best, best_angle = k, angle
            depth[p] = gap[best]
            signed = dist[best] + 1e-12
            sign = 1.0 if signed > 0.0 else (-1.0 if signed < 0.0 else 0.0)
            normal[p, 0], normal[p, 1] = ax[best] * sign, ay[best] * sign
        return overlapping, depth, normal

    @numba.njit(cache=True)
    def near_pairs(centers, half, families):  # pragma: no cover - compiled
        n = centers.shape[0]
        pairs = np.empty((max(n * (n - 1) // 2, 0), 2), dtype=np.int64)
        count = 0
        for i in range(n):
            ri = np.hypot(half[i, 0], half[i, 1])
            for j in range(i + 1, n):
                if families[i] == families[j]:
                    continue
                if np.hypot(centers[j, 0] - centers[i, 0], centers[j, 1] - centers[i, 1]) >= ri + np.hypot(half[j, 0], half[j, 1]):
                    continue
                if abs(centers[j, 2] - centers[i, 2]) >= half[i, 2] + half[j, 2]:
                    continue
                pairs[count, 0], pairs[count, 1] = i, j
                count += 1
        return pairs[:count]

    return {"sat_pairs": sat_pairs, "near_pairs": near_pairs}


def _kernels() -> dict[str, object]:
    if not _KERNELS:
        _KERNELS.update(_build())
    return _KERNELS


def obb_overlap_pairs(centers: np.ndarray, half_extents: np.ndarray, yaws_rad: np.ndarray,
                      pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`geometry.obb_overlap_2d`, compiled: (overlapping (P,) bool, depth (P,) m, normal (P, 2) from a to b)
    for centres (N, 2), half length/width (N, 2), yaws (N,) rad and index pairs (P, 2)."""
    pairs = np.ascontiguousarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _kernels()["sat_pairs"](np.ascontiguousarray(centers, dtype=np.float64),
                                   np.ascontiguousarray(half_extents, dtype=np.float64),
                                   np.ascontiguousarray(yaws_rad, dtype=np.float64), pairs)


def candidate_pairs(centers: np.ndarray, half_extents: np.ndarray, families: np.ndarray) -> np.ndarray:
    """(P, 2) index pairs i < j of boxes (centres (N, 3), half extents (N, 3)) whose bounding circles and
    height ranges overlap and whose families differ: the pairs worth a separating-axis test."""
    return _kernels()["near_pairs"](np.ascontiguousarray(centers, dtype=np.float64),
                                    np.ascontiguousarray(half_extents, dtype=np.float64),
                                    np.ascontiguousarray(families, dtype=np.int64))
