"""A road reference line as a chain of lines and arcs fitted to the ego path, and sampling along it."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.ingest.scenelog import wrap_angle


@dataclass(frozen=True)
class Segment:
    """One piece of a reference line.

    Attributes:
        length: arc length [m] (> 0).
        curvature: signed curvature [1/m], positive turning left; 0 = straight line.
    """

    length: float
    curvature: float


@dataclass(frozen=True)
class Centerline:
    """A start pose and a chain of segments (the geometry of an OpenDRIVE planView).

    Attributes:
        x: start x [m] (world).
        y: start y [m].
        heading: start heading [rad] about z.
        segments: the pieces, in order.
    """

    x: float
    y: float
    heading: float
    segments: tuple[Segment, ...]

    @property
    def length(self) -> float:
        """Total length [m]."""
        return sum(seg.length for seg in self.segments)

    def sample(self, step: float = 0.5) -> np.ndarray:
        """(N, 4) points along the line: s, x, y, heading; spaced about `step` m, ends included."""
        rows = []
        x, y, heading, s0 = self.x, self.y, self.heading, 0.0
        for seg in self.segments:
            count = max(math.ceil(seg.length / step), 1)
            for k in range(count + (1 if seg is self.segments[-1] else 0)):
                ds = min(k * seg.length / count, seg.length)
                rows.append((s0 + ds, *_advance(x, y, heading, seg.curvature, ds)))
            x, y, heading = _advance(x, y, heading, seg.curvature, seg.length)
            s0 += seg.length
        return np.array(rows)

    def offset(self, lateral: float) -> Centerline:
        """The parallel line `lateral` m to the left (negative: right): same headings, arcs of adjusted radius."""
        x = self.x - lateral * math.sin(self.heading)
        y = self.y + lateral * math.cos(self.heading)
        segments = []
        for seg in self.segments:
            scale = 1.0 - seg.curvature * lateral
            if scale <= 0.05:
                raise ValueError(f"offset {lateral} m exceeds the radius of curvature {1 / seg.curvature:.1f} m")
            segments.append(Segment(seg.length * scale, seg.curvature / scale))
        return Centerline(x, y, self.heading, tuple(segments))

    def project(self, points: np.ndarray, step: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For (P, 2) points: arc position s, signed lateral offset t (left positive) and line heading."""
        samples = self.sample(step)
        delta = points[:, None, :] - samples[None, :, 1:3]
        nearest = np.argmin(np.einsum("pnk,pnk->pn", delta, delta), axis=1)
        heading = samples[nearest, 3]
        d = points - samples[nearest, 1:3]
        along = d[:, 0] * np.cos(heading) + d[:, 1] * np.sin(heading)
        lateral = -d[:, 0] * np.sin(heading) + d[:, 1] * np.cos(heading)
        return samples[nearest, 0] + along, lateral, heading


def _advance(x: float, y: float, heading: float, curvature: float, ds: float) -> tuple[float, float, float]:
    if abs(curvature) < 1e-12:
        return x + ds * math.cos(heading), y + ds * math.sin(heading), heading
    new_heading = heading + curvature * ds
    x += (math.sin(new_heading) - math.sin(heading)) / curvature
    y -= (math.cos(new_heading) - math.cos(heading)) / curvature
    return x, y, new_heading


def fit_centerline(positions: np.ndarray, yaws: np.ndarray, extension: float, segment_length: float) -> Centerline:
    """Reference line through an ego path: (F, 2) positions and (F,) yaws [rad].

    Straight lead-in and lead-out of `extension` m; in between, arcs of about `segment_length` m whose
    curvatures turn the heading as the ego's yaw turned. A path shorter than 0.5 m (a parked ego) gives
    one straight line along the mean yaw.
    """
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1) if len(positions) > 1 else np.zeros(0)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    total = float(arc[-1])
    if total < 0.5:
        heading = math.atan2(np.sin(yaws).mean(), np.cos(yaws).mean())
        center = positions.mean(axis=0)
        x = center[0] - extension * math.cos(heading)
        y = center[1] - extension * math.sin(heading)
        return Centerline(x, y, heading, (Segment(2 * extension, 0.0),))
    unwrapped = np.unwrap(yaws)
    pieces = max(round(total / segment_length), 1)
    bounds = np.linspace(0.0, total, pieces + 1)
    heading_at = np.interp(bounds, arc, unwrapped)
    segments = [Segment(extension, 0.0)]
    for k in range(pieces):
        length = float(bounds[k + 1] - bounds[k])
        turn = float(heading_at[k + 1] - heading_at[k])
        segments.append(Segment(length, turn / length if abs(turn) > 1e-4 else 0.0))
    segments.append(Segment(extension, 0.0))
    start_heading = float(wrap_angle(heading_at[0]))
    x = float(positions[0, 0] - extension * math.cos(start_heading))
    y = float(positions[0, 1] - extension * math.sin(start_heading))
    return Centerline(x, y, start_heading, tuple(segments))
