"""Planar geometry shared by the metrics: oriented boxes, polylines, angle wrapping."""
from __future__ import annotations

import numpy as np
import shapely


def box_corners(x: float, y: float, yaw_degrees: float, half_length: float, half_width: float) -> np.ndarray:
    """(4, 2) corners of an oriented box: front-left, front-right, rear-right, rear-left."""
    c, s = np.cos(np.radians(yaw_degrees)), np.sin(np.radians(yaw_degrees))
    local = np.array([[half_length, half_width], [half_length, -half_width],
                      [-half_length, -half_width], [-half_length, half_width]])
    return np.column_stack([x + local[:, 0] * c - local[:, 1] * s, y + local[:, 0] * s + local[:, 1] * c])


def box_polygon(x: float, y: float, yaw_degrees: float, half_length: float, half_width: float) -> shapely.Polygon:
    """The oriented box as a shapely polygon."""
    return shapely.Polygon(box_corners(x, y, yaw_degrees, half_length, half_width))


def wrap_degrees(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) wrapped to [-180, 180)."""
    return (np.asarray(angle) + 180.0) % 360.0 - 180.0


def closest_on_polyline(points: np.ndarray, polyline: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """For (T, 2) points and an (M, 2) polyline: (distances (T,), index (T,) of the segment start closest).

    Points are processed `chunk` at a time, so memory stays O(chunk × M) on long routes.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(polyline) == 1:
        d = np.linalg.norm(points - polyline[0], axis=1)
        return d, np.zeros(len(points), dtype=np.int64)
    a, b = polyline[:-1], polyline[1:]
    ab = b - a
    length2 = np.maximum((ab ** 2).sum(axis=1), 1e-12)
    distances = np.empty(len(points))
    indices = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk]
        ap = block[:, None, :] - a[None, :, :]
        t = np.clip((ap * ab[None]).sum(axis=2) / length2[None], 0.0, 1.0)
        projection = a[None] + t[..., None] * ab[None]
        distance = np.linalg.norm(block[:, None, :] - projection, axis=2)
        index = distance.argmin(axis=1)
        distances[start:start + len(block)] = distance[np.arange(len(block)), index]
        indices[start:start + len(block)] = index
    return distances, indices
