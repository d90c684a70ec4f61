"""RAD's decoupled action anchors: a lateral × longitudinal displacement of the ego over the next 0.5 s, the kinematic
bicycle model that says which of them a car can drive from its current speed, and the arc that executes one.

An anchor (lateral, longitudinal) is the ego's position after `horizon` s in its own frame at the decision
(longitudinal forward, lateral to the right, as CARLA's y). It is driven as one circular arc through that point
(the bicycle model at a fixed steering angle) with a constant acceleration along it (clipped at standstill).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.adversary.trajectory import VehicleLimits


@dataclass(frozen=True)
class AnchorGrid:
    """The 2-D grid of anchors: `lateral_bins` values in [-lateral_max, lateral_max] m × `longitudinal_bins` values in
    [0, longitudinal_max] m, reached after `horizon` s."""

    lateral_max: float = 0.75
    longitudinal_max: float = 15.0
    lateral_bins: int = 61
    longitudinal_bins: int = 61
    horizon: float = 0.5

    @property
    def lateral(self) -> np.ndarray:
        """(lateral_bins,) m, left (-) to right (+)."""
        return np.linspace(-self.lateral_max, self.lateral_max, self.lateral_bins)

    @property
    def longitudinal(self) -> np.ndarray:
        """(longitudinal_bins,) m, 0 (stand still) to longitudinal_max."""
        return np.linspace(0.0, self.longitudinal_max, self.longitudinal_bins)

    def displacement(self, lateral_index: int, longitudinal_index: int) -> tuple[float, float]:
        """(lateral m, longitudinal m) of an anchor."""
        return float(self.lateral[lateral_index]), float(self.longitudinal[longitudinal_index])

    def nearest(self, lateral: float, longitudinal: float) -> tuple[int, int]:
        """The indices of the anchor nearest a displacement (clipped to the grid): the label of an expert's motion."""
        lat = int(np.argmin(np.abs(self.lateral - lateral)))
        lon = int(np.argmin(np.abs(self.longitudinal - longitudinal)))
        return lat, lon


@dataclass(frozen=True)
class ArcMotion:
    """A circular arc with a constant acceleration along it: the bicycle model driving one anchor."""

    curvature: float  # 1/m, + turns right
    length: float  # m along the arc
    start_speed: float  # m/s
    acceleration: float  # m/s^2 (negative: braking; the car stops and stays once its speed reaches 0)
    horizon: float  # s

    def distance_at(self, t: float | np.ndarray) -> np.ndarray:
        """m travelled along the arc after t s."""
        t = np.clip(np.asarray(t, dtype=float), 0.0, self.horizon)
        if self.acceleration < 0 and self.start_speed > 0:
            t = np.minimum(t, self.start_speed / -self.acceleration)
        return self.start_speed * t + 0.5 * self.acceleration * t * t

    def pose_at(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(forward m, right m, heading change rad) in the frame of the decision after t s."""
        s = self.distance_at(t)
        k = self.curvature
        if abs(k) < 1e-9:
            return s, np.zeros_like(s), np.zeros_like(s)
        return np.sin(k * s) / k, (1.0 - np.cos(k * s)) / k, k * s

    def speed_at(self, t: float) -> float:
        """m/s after t s."""
        return max(0.0, self.start_speed + self.acceleration * min(max(t, 0.0), self.horizon))


def arc_to(lateral: float, longitudinal: float, speed: float, horizon: float) -> ArcMotion:
    """The arc through (longitudinal forward, lateral right) from the origin heading forward, driven in `horizon` s from
    `speed` m/s with the constant acceleration that covers it (a car that stops early stays stopped)."""
    chord2 = lateral * lateral + longitudinal * longitudinal
    curvature = 2.0 * lateral / chord2 if chord2 > 1e-12 else 0.0
    if abs(curvature) < 1e-9:
        length = longitudinal
    else:
        angle = 2.0 * math.atan2(abs(lateral), max(longitudinal, 0.0))  # heading change along the arc
        length = angle / abs(curvature)
    speed = max(0.0, speed)
    if length >= 0.5 * speed * horizon:  # still moving at the horizon
        acceleration = 2.0 * (length - speed * horizon) / (horizon * horizon)
    elif length > 1e-9:  # stops within the horizon after `length`
        acceleration = -speed * speed / (2.0 * length)
    else:  # the stop anchor: a stop on the spot (the mask allows it only from a crawl)
        return ArcMotion(0.0, 0.0, 0.0, 0.0, horizon)
    return ArcMotion(curvature, length, speed, acceleration, horizon)


@functools.lru_cache(maxsize=8)
def _anchor_geometry(grid: AnchorGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(curvature 1/m, arc length m, sideways-in-place bool), each (lateral_bins, longitudinal_bins): the
    arcs of the grid's anchors, which do not depend on the speed (computed once per grid, read-only)."""
    lateral, longitudinal = np.meshgrid(grid.lateral, grid.longitudinal, indexing="ij")
    chord2 = lateral**2 + longitudinal**2
    with np.errstate(divide="ignore", invalid="ignore"):
        curvature = np.where(chord2 > 1e-12, 2.0 * np.abs(lateral) / chord2, 0.0)
        angle = 2.0 * np.arctan2(np.abs(lateral), longitudinal)
        length = np.where(curvature > 1e-9, angle / np.maximum(curvature, 1e-12), longitudinal)
    sideways_in_place = (length <= 1e-9) & (np.abs(lateral) > 1e-9)
    arrays = (curvature, length, sideways_in_place)
    for array in arrays:
        array.flags.writeable = False
    return arrays


def feasible_mask(grid: AnchorGrid, speed: float, limits: VehicleLimits = VehicleLimits()) -> np.ndarray:
    """(lateral_bins, longitudinal_bins) bool: which anchors the bicycle model can drive from `speed` m/s in
    `grid.horizon` s within the limits (curvature, acceleration, deceleration, lateral acceleration, speed)."""
    curvature, length, sideways_in_place = _anchor_geometry(grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        horizon = grid.horizon
        speed = max(0.0, float(speed))
        moving = length >= 0.5 * speed * horizon
        acceleration = np.where(moving, 2.0 * (length - speed * horizon) / horizon**2,
                                -speed * speed / (2.0 * np.maximum(length, 1e-9)))
        end_speed = np.where(moving, speed + acceleration * horizon, 0.0)
        peak_speed = np.maximum(speed, end_speed)
        ok = (curvature <= limits.max_curvature + 1e-9) & (acceleration <= limits.max_acceleration + 1e-9)
        ok &= acceleration >= -limits.max_deceleration - 1e-9
        ok &= peak_speed**2 * curvature <= limits.max_lateral_acceleration + 1e-9
        ok &= peak_speed <= limits.max_speed
        ok &= ~sideways_in_place  # no sideways motion in place
    stopping = speed * speed / (2.0 * limits.max_deceleration)
    half_bin = 0.5 * grid.longitudinal_max / max(1, grid.longitudinal_bins - 1)
    # the zero anchor (stop here) while the car can stop within half a bin of it; never a sideways step in place
    ok[:, 0] = (np.abs(grid.lateral) < 1e-9) & (stopping <= half_bin + 1e-9)
    return ok
