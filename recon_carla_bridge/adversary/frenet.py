"""A lane centre line as a smooth reference: Frenet (s along, d to the left of the line) <-> world x, y."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import CubicSpline

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.geometry import planar_lengths


@dataclass(frozen=True)
class ReferenceLine:
    """A centre line through `points` (N, 2) m in world x, y, at least 2 m long, as a cubic spline of arc length.

    d is measured along n = (-sin h, cos h), h the heading: positive d is the +90 degree side of the line
    in the x-y plane (the driver's right in CARLA's left-handed frame; the sign of a lane is read by projecting it).
    """

    points: np.ndarray  # (N, 2) m
    _spline: CubicSpline = field(init=False, repr=False, compare=False)
    _dense_s: np.ndarray = field(init=False, repr=False, compare=False)
    _dense_xy: np.ndarray = field(init=False, repr=False, compare=False)
    _dense_x: np.ndarray = field(init=False, repr=False, compare=False)
    _dense_y: np.ndarray = field(init=False, repr=False, compare=False)
    _last_frenet: list = field(init=False, repr=False, compare=False)  # [(x, y), (s, d)] of the last to_frenet

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
            raise InputError(f"a reference line needs (N>=2, 2) points, got shape {points.shape}")
        steps = planar_lengths(np.diff(points, axis=0))
        keep = np.concatenate([[True], steps > 1e-6])
        points = points[keep]
        s = np.concatenate([[0.0], np.cumsum(planar_lengths(np.diff(points, axis=0)))])
        if s[-1] < 2.0:
            raise InputError(f"a reference line must be at least 2 m long, got {s[-1]:.2f} m")
        spline = CubicSpline(s, points, bc_type="natural")
        dense_s = np.arange(0.0, s[-1], 0.25)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "_spline", spline)
        object.__setattr__(self, "_dense_s", dense_s)
        object.__setattr__(self, "_dense_xy", spline(dense_s))
        object.__setattr__(self, "_dense_x", np.ascontiguousarray(self._dense_xy[:, 0]))  # for to_frenet's search
        object.__setattr__(self, "_dense_y", np.ascontiguousarray(self._dense_xy[:, 1]))
        object.__setattr__(self, "_last_frenet", [None, None])

    @property
    def length(self) -> float:
        """Arc length in m."""
        return float(self._spline.x[-1])

    def heading(self, s: np.ndarray | float) -> np.ndarray:
        """Heading in rad at arc length s (clamped to the line)."""
        return self._heading_inside(np.clip(s, 0.0, self.length))

    def _heading_inside(self, s: np.ndarray | float) -> np.ndarray:
        tangent = self._spline(s, 1)
        return np.arctan2(tangent[..., 1], tangent[..., 0])

    def to_world(self, s: np.ndarray, d: np.ndarray) -> np.ndarray:
        """World (…, 2) x, y of Frenet (s, d); past the ends the line goes on straight."""
        s = np.asarray(s, dtype=float)
        d = np.asarray(d, dtype=float)
        inside = np.clip(s, 0.0, self.length)
        heading = self._heading_inside(inside)
        cos, sin = np.cos(heading), np.sin(heading)
        tangent = np.stack([cos, sin], axis=-1)
        normal = np.stack([-sin, cos], axis=-1)
        return self._spline(inside) + tangent * (s - inside)[..., None] + normal * d[..., None]

    def to_frenet(self, xy: np.ndarray) -> tuple[float, float]:
        """(s, d) of a world point: its projection onto the line (to 0.25 m, refined on the segment).

        The last point asked about is remembered with its answer (a path is asked about the same pose several
        times per decision)."""
        point = np.asarray(xy, dtype=float)[:2]
        key = (float(point[0]), float(point[1]))
        if self._last_frenet[0] == key:
            return self._last_frenet[1]
        nearest = int(np.argmin((self._dense_x - point[0]) ** 2 + (self._dense_y - point[1]) ** 2))
        s0 = float(self._dense_s[nearest])
        heading = float(self._heading_inside(s0))  # s0 is on the line: no clamping
        cos, sin = np.cos(heading), np.sin(heading)
        tangent = np.array([cos, sin])
        normal = np.array([-sin, cos])
        delta = point - self._dense_xy[nearest]
        answer = (s0 + float(delta @ tangent), float(delta @ normal))
        self._last_frenet[:] = [key, answer]
        return answer
