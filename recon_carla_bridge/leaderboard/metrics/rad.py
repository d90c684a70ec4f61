"""RAD closed-loop metrics (Gao et al. 2025, "RAD: Training an End-to-End Driving Policy via Large-Scale
3DGS-based Reinforcement Learning").

A RAD episode ends at its first failure: a dynamic collision (vehicle or pedestrian), a static collision
(anything else), a position deviation (> 2 m from the expert trajectory) or a heading deviation (> 40° from it).
Each route is classified by its first failure, so over routes CR = DCR + SCR and DR = PDR + HDR hold exactly.
ADD is the mean distance to the expert trajectory before the first failure; Long./Lat. Jerk the mean absolute
jerks (m/s³) over the same span.
"""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.metrics.base import (
    Metric,
    MetricContext,
    MetricResult,
)
from recon_carla_bridge.leaderboard.metrics.geometry import (
    closest_on_polyline,
    wrap_degrees,
)

POSITION_DEVIATION = 2.0  # m
HEADING_DEVIATION = 40.0  # degrees


def _is_dynamic(type_id: str) -> bool:
    return type_id.startswith(("vehicle", "walker"))


def first_failure(episode: Episode) -> tuple[str | None, int]:
    """('dynamic_collision'|'static_collision'|'position_deviation'|'heading_deviation'|None, tick index)."""
    candidates: list[tuple[int, int, str]] = []  # (tick, priority, kind); collisions win ties
    if episode.collisions:
        tick, _, type_id = min(episode.collisions, key=lambda c: c[0])
        candidates.append((int(tick), 0, "dynamic_collision" if _is_dynamic(type_id) else "static_collision"))
    distance, heading_error = deviation_series(episode)
    far = np.flatnonzero(distance > POSITION_DEVIATION)
    if far.size:
        candidates.append((int(far[0]), 1, "position_deviation"))
    turned = np.flatnonzero(np.abs(heading_error) > HEADING_DEVIATION)
    if turned.size:
        candidates.append((int(turned[0]), 2, "heading_deviation"))
    if not candidates:
        return None, episode.length
    tick, _, kind = min(candidates)
    return kind, tick


def deviation_series(episode: Episode) -> tuple[np.ndarray, np.ndarray]:
    """Per tick: distance (m) to the expert polyline and heading error (degrees) to its closest segment."""
    expert = episode.expert
    points = episode.ego_pose[:, :2]
    distance, index = closest_on_polyline(points, expert[:, :2])
    if len(expert) > 1:
        seg = expert[np.minimum(index + 1, len(expert) - 1), :2] - expert[index, :2]
        seg_yaw = np.degrees(np.arctan2(seg[:, 1], seg[:, 0]))
    else:
        seg_yaw = np.full(len(points), expert[0, 2])
    heading_error = wrap_degrees(episode.ego_pose[:, 5] - seg_yaw)
    return distance, np.asarray(heading_error)


class _Indicator(Metric):
    kinds: tuple[str, ...] = ()

    def _compute(self, context: MetricContext) -> MetricResult:
        kind, tick = context.cached("rad.first", lambda: first_failure(context.episode))
        return MetricResult(1.0 if kind in self.kinds else 0.0, True, {"first_failure": kind, "tick": tick})


class DynamicCollisionRatio(_Indicator):
    """DCR: the route's first failure is a collision with a vehicle or pedestrian."""

    name, description, kinds = "rad.DCR", "Dynamic Collision Ratio", ("dynamic_collision",)


class StaticCollisionRatio(_Indicator):
    """SCR: the route's first failure is a collision with a static object."""

    name, description, kinds = "rad.SCR", "Static Collision Ratio", ("static_collision",)


class CollisionRatio(_Indicator):
    """CR = DCR + SCR."""

    name, description, kinds = "rad.CR", "Collision Ratio", ("dynamic_collision", "static_collision")


class PositionDeviationRatio(_Indicator):
    """PDR: the first failure is being > 2 m from the expert trajectory."""

    name, description, kinds = "rad.PDR", "Positional Deviation Ratio", ("position_deviation",)


class HeadingDeviationRatio(_Indicator):
    """HDR: the first failure is heading > 40° away from the expert trajectory."""

    name, description, kinds = "rad.HDR", "Heading Deviation Ratio", ("heading_deviation",)


class DeviationRatio(_Indicator):
    """DR = PDR + HDR."""

    name, description, kinds = "rad.DR", "Deviation Ratio", ("position_deviation", "heading_deviation")


class AverageDeviationDistance(Metric):
    """ADD: mean distance (m) to the expert trajectory before the first failure."""

    name, description = "rad.ADD", "Average Deviation Distance (m)"

    def _compute(self, context: MetricContext) -> MetricResult:
        _, tick = first_failure(context.episode)
        distance, _ = deviation_series(context.episode)
        span = distance[:max(tick, 1)]
        return MetricResult(float(span.mean()))


def body_jerks(episode: Episode) -> tuple[np.ndarray, np.ndarray]:
    """(longitudinal, lateral) jerk series (m/s³): finite differences of body-frame acceleration."""
    yaw = np.radians(episode.ego_pose[:, 5])
    acc = episode.ego_acceleration[:, :2]
    lon = acc[:, 0] * np.cos(yaw) + acc[:, 1] * np.sin(yaw)
    lat = -acc[:, 0] * np.sin(yaw) + acc[:, 1] * np.cos(yaw)
    return np.diff(lon) / episode.dt, np.diff(lat) / episode.dt


class _Jerk(Metric):
    min_ticks = 2
    axis = 0

    def _compute(self, context: MetricContext) -> MetricResult:
        _, tick = first_failure(context.episode)
        series = body_jerks(context.episode)[self.axis][:max(tick - 1, 1)]
        return MetricResult(float(np.abs(series).mean()))


class LongitudinalJerk(_Jerk):
    """Mean |longitudinal jerk| (m/s³) before the first failure."""

    name, description, axis = "rad.long_jerk", "Longitudinal Jerk (m/s³)", 0


class LateralJerk(_Jerk):
    """Mean |lateral jerk| (m/s³) before the first failure."""

    name, description, axis = "rad.lat_jerk", "Lateral Jerk (m/s³)", 1


def metrics() -> list[Metric]:
    """The RAD metric set."""
    return [CollisionRatio(), DynamicCollisionRatio(), StaticCollisionRatio(), DeviationRatio(),
            PositionDeviationRatio(), HeadingDeviationRatio(), AverageDeviationDistance(), LongitudinalJerk(),
            LateralJerk()]
