"""Metrics beyond the leaderboard's, computed from recorded episodes: RAD, Bench2Drive, AlpaSim, HUGSIM."""
from __future__ import annotations

from recon_carla_bridge.leaderboard.metrics.base import (
    Metric,
    MetricContext,
    MetricRegistry,
    MetricResult,
)


def default_registry() -> MetricRegistry:
    """Every metric this project reports, in report order."""
    from recon_carla_bridge.leaderboard.metrics import alpasim, bench2drive, hugsim, rad

    return MetricRegistry([*rad.metrics(), *bench2drive.metrics(), *alpasim.metrics(), *hugsim.metrics()])


__all__ = ["Metric", "MetricContext", "MetricRegistry", "MetricResult", "default_registry"]
