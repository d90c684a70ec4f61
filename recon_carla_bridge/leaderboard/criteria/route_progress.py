"""Criteria that follow the ego along the route (leaderboard 2.0 semantics and messages).

- RouteCompletionTest: % of the route passed (window of 2 points ahead, a point counts once the ego is past it);
  100 % when above 99 % and within 10 m of the end.
- InRouteTest: ends the route when the ego is > 30 m from the route, or has driven > 30 % of it farther than 15 m.
- MinimumSpeedRouteTest: at 4 checkpoints, ego mean speed as % of the surrounding traffic's.
- RouteTimeout: 300 s plus, per metre advanced, 1 / (10 % of the speed limit) seconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from recon_carla_bridge.leaderboard.criteria.base import Criterion, TickSnapshot
from recon_carla_bridge.leaderboard.events import (
    TrafficEvent,
    TrafficEventType,
    format_location,
)
from recon_carla_bridge.leaderboard.planning import PlannedRoute


def _passed(route: PlannedRoute, index: int, x: float, y: float, z: float) -> bool:
    """Whether the ego is past route point `index` (positive dot with the point's forward vector)."""
    yaw = math.radians(route.yaws[index])
    px, py, pz = route.points[index]
    # Route points lie on the road, pitch ~ 0: the forward vector is (cos yaw, sin yaw, 0).
    return (x - px) * math.cos(yaw) + (y - py) * math.sin(yaw) > 0.0


@dataclass
class RouteCompletionTest(Criterion):
    """Tracks route completion; `success` once the end is reached."""

    route: PlannedRoute = None  # type: ignore[assignment]
    window: int = 2
    distance_threshold: float = 10.0
    percentage_threshold: float = 99.0
    index: int = field(default=0, init=False)
    value: float = field(default=0.0, init=False)
    success: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        total = self.route.cumulative[-1]
        self._percent = self.route.cumulative / total * 100.0 if total > 0 else np.zeros_like(self.route.cumulative)
        self._event = TrafficEvent(TrafficEventType.ROUTE_COMPLETION, 0, data={"route_completed": 0.0})
        self._set_event()
        self.events.append(self._event)

    def _set_event(self) -> None:
        self._event.data["route_completed"] = self.value
        self._event.message = f"Agent has completed {self.value} of the route"

    def update(self, tick: TickSnapshot) -> None:
        """Advance the completion index and check the end."""
        if self.success:
            return
        loc = tick.location
        last = len(self.route.points)
        for index in range(self.index, min(self.index + self.window + 1, last)):
            if _passed(self.route, index, loc.x, loc.y, loc.z):
                self.index = index
                self.value = float(self._percent[index])
        self.value = round(self.value, 2)
        end = self.route.points[-1]
        if self.value > self.percentage_threshold and \
                math.dist((loc.x, loc.y, loc.z), (end[0], end[1], end[2])) < self.distance_threshold:
            self.success = True
            self.value = 100.0
            self.ends_route = True
        self._event.frame = tick.frame
        self._set_event()


@dataclass
class InRouteTest(Criterion):
    """Route deviation: ends the route as the leaderboard's InRouteTest does."""

    route: PlannedRoute = None  # type: ignore[assignment]
    offroad_max: float = 30.0
    max_route_percentage: float = 30.0
    window: int = 5
    index: int = field(default=0, init=False)
    out_route_distance: float = field(default=0.0, init=False)

    def update(self, tick: TickSnapshot) -> None:
        """Find the closest route point ahead and check the distance to it."""
        if self.ends_route:
            return
        loc = tick.location
        end = min(self.index + self.window + 1, len(self.route.points))
        candidates = self.route.points[self.index:end, :2]
        distances = np.hypot(candidates[:, 0] - loc.x, candidates[:, 1] - loc.y)
        # Last minimum wins on ties, as the leaderboard's `<=` scan does.
        closest = self.index + int(len(distances) - 1 - np.argmin(distances[::-1]))
        shortest = float(distances.min())
        off_route = shortest >= self.offroad_max
        in_safe_route = shortest < self.offroad_max / 2.0
        if closest != self.index:
            advanced = float(self.route.cumulative[closest] - self.route.cumulative[self.index])
            if not in_safe_route:
                self.out_route_distance += advanced
                if 100.0 * self.out_route_distance / self.route.cumulative[-1] > self.max_route_percentage:
                    off_route = True
            self.index = closest
        if off_route:
            self.events.append(TrafficEvent(
                TrafficEventType.ROUTE_DEVIATION, tick.frame,
                f"Agent deviated from the route at {format_location(loc.x, loc.y, loc.z)}",
                {"location": (loc.x, loc.y, loc.z)}))
            self.ends_route = True


@dataclass
class MinimumSpeedRouteTest(Criterion):
    """Ego speed vs the surrounding traffic's, at `checkpoints` equal stretches of the route."""

    route: PlannedRoute = None  # type: ignore[assignment]
    checkpoints: int = 4
    window: int = 2
    index: int = field(default=0, init=False)
    checkpoint_values: list[float] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._checkpoint_distance = float(self.route.cumulative[-1]) / self.checkpoints
        self._current_distance = 0.0
        self._mean_speed = 0.0
        self._actor_speed = 0.0
        self._points = 0

    def _close_checkpoint(self, frame: int) -> None:
        if self._points > 0 and self._mean_speed:
            value = round((self._actor_speed / self._points) / (self._mean_speed / self._points) * 100.0, 2)
        else:
            value = 100.0
        if value < 100.0:
            self.events.append(TrafficEvent(
                TrafficEventType.MIN_SPEED_INFRACTION, frame,
                f"Average speed is {value}% of the surrounding traffic's one", {"percentage": value}))
        self.checkpoint_values.append(value)

    def update(self, tick: TickSnapshot) -> None:
        """Advance along the route, close a checkpoint when due, and accumulate speeds."""
        loc = tick.location
        for index in range(self.index, min(self.index + self.window + 1, len(self.route.points))):
            if _passed(self.route, index, loc.x, loc.y, loc.z):
                self.index = index
        if self.route.cumulative[self.index] - self._current_distance > self._checkpoint_distance:
            self._close_checkpoint(tick.frame)
            self._current_distance = float(self.route.cumulative[self.index])
            self._mean_speed = self._actor_speed = 0.0
            self._points = 0
        if tick.background_speeds:
            self._mean_speed += float(np.mean(tick.background_speeds))
            self._actor_speed += tick.speed
            self._points += 1

    def terminate(self, tick: TickSnapshot | None) -> None:
        """Routes end near 99 %: record the last checkpoint when past 95 % of the route."""
        if self.route.cumulative[self.index] / self.route.cumulative[-1] > 0.95:
            self._close_checkpoint(tick.frame if tick else 0)


@dataclass
class RouteTimeout(Criterion):
    """The route's time budget: 300 s plus 1 / (10 % of the speed limit in m/s) seconds per metre advanced."""

    route: PlannedRoute = None  # type: ignore[assignment]
    min_timeout: float = 300.0
    timeout_route_percentage: float = 10.0
    window: int = 3
    index: int = field(default=0, init=False)
    budget: float = field(default=0.0, init=False)
    timed_out: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.budget = self.min_timeout

    def update(self, tick: TickSnapshot) -> None:
        """Grow the budget with progress; time out once the elapsed time exceeds it."""
        loc = tick.location
        new_index = self.index
        for index in range(self.index, min(self.index + self.window + 1, len(self.route.points))):
            if _passed(self.route, index, loc.x, loc.y, loc.z):
                new_index = index
        if new_index > self.index:
            distance = float(self.route.cumulative[new_index] - self.route.cumulative[self.index])
            timeout_speed = max(tick.speed_limit, 1e-3) / 3.6 * self.timeout_route_percentage / 100.0
            self.budget += distance / timeout_speed
            self.index = new_index
        if tick.time > self.budget:
            self.timed_out = True
            self.ends_route = True
