"""Metric objects and their registry: each metric computes a value (and whether it is valid) from an `Episode`."""
from __future__ import annotations

import abc
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from recon_carla_bridge.leaderboard.episode import Episode


@dataclass(frozen=True)
class MetricContext:
    """What a metric may read: the recorded episode and, when loaded, the `carla.Map` it was driven on."""

    episode: Episode
    world_map: Any = None
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def cached(self, key: str, compute: Any) -> Any:
        """`compute()` once per context (several metrics share one expensive pass)."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class MetricResult:
    """A metric's value for one route; `valid` False when the episode cannot support it (value is then NaN)."""

    value: float
    valid: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def invalid(cls, reason: str) -> MetricResult:
        """A result that does not count, with the reason."""
        return cls(math.nan, False, {"reason": reason})


class Metric(abc.ABC):
    """Base class: checks the episode, then calls `_compute` (the one hook)."""

    name: ClassVar[str]
    description: ClassVar[str]
    needs_map: ClassVar[bool] = False
    min_ticks: ClassVar[int] = 1

    def compute(self, context: MetricContext) -> MetricResult:
        """The metric on `context`, or an invalid result when the episode is too short or the map is missing."""
        if context.episode.length < self.min_ticks:
            return MetricResult.invalid(f"needs at least {self.min_ticks} ticks, episode has {context.episode.length}")
        if self.needs_map and context.world_map is None:
            return MetricResult.invalid("needs the map")
        return self._compute(context)

    @abc.abstractmethod
    def _compute(self, context: MetricContext) -> MetricResult:
        """The metric itself."""


class MetricRegistry:
    """Named metrics; registering a name twice is an error."""

    def __init__(self, metrics: Iterable[Metric] = ()) -> None:
        """A registry holding `metrics`."""
        self._metrics: dict[str, Metric] = {}
        for metric in metrics:
            self.register(metric)

    def register(self, metric: Metric) -> None:
        """Add a metric under its `name`."""
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name!r} is already registered")
        self._metrics[metric.name] = metric

    @property
    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._metrics)

    def __getitem__(self, name: str) -> Metric:
        return self._metrics[name]

    def compute_all(self, context: MetricContext) -> dict[str, dict[str, Any]]:
        """{name: {'value': float|None, 'valid': bool}} for one route (NaN written as None for JSON)."""
        out: dict[str, dict[str, Any]] = {}
        for name, metric in self._metrics.items():
            result = metric.compute(context)
            value = None if (result.value is None or math.isnan(result.value)) else round(float(result.value), 6)
            entry: dict[str, Any] = {"value": value, "valid": bool(result.valid)}
            if result.details:
                entry["details"] = result.details
            out[name] = entry
        return out

    def aggregate(self, per_route: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """Mean of the valid per-route values of each metric, with how many routes counted."""
        out: dict[str, dict[str, Any]] = {}
        for name in self._metrics:
            values = [route[name]["value"] for route in per_route
                      if name in route and route[name]["valid"] and route[name]["value"] is not None]
            out[name] = {"value": round(sum(values) / len(values), 6) if values else None, "routes": len(values)}
        return out
