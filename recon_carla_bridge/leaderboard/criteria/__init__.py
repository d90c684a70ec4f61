"""Per-tick infraction criteria with leaderboard 2.0 semantics; `build_route_criteria` assembles a route's set."""
from __future__ import annotations

from collections.abc import Sequence

import carla

from recon_carla_bridge.leaderboard.criteria.base import (
    CollisionHit,
    Criterion,
    LightState,
    TickSnapshot,
)
from recon_carla_bridge.leaderboard.criteria.conduct import (
    ActorBlockedTest,
    CollisionTest,
    OutsideRouteLanesTest,
)
from recon_carla_bridge.leaderboard.criteria.route_progress import (
    InRouteTest,
    MinimumSpeedRouteTest,
    RouteCompletionTest,
    RouteTimeout,
)
from recon_carla_bridge.leaderboard.criteria.signals import (
    RunningRedLightTest,
    RunningStopTest,
    StopSignGeometry,
    TrafficLightGeometry,
)
from recon_carla_bridge.leaderboard.planning import PlannedRoute

__all__ = ["CollisionHit", "Criterion", "LightState", "RouteCriteria", "TickSnapshot", "build_route_criteria"]


class RouteCriteria:
    """The criteria of one route, in the leaderboard's order, updated together each tick."""

    def __init__(self, criteria: Sequence[Criterion], completion: RouteCompletionTest, timeout: RouteTimeout) -> None:
        """`completion` and `timeout` are members of `criteria` the evaluator reads directly."""
        self.criteria = list(criteria)
        self.completion = completion
        self.timeout = timeout

    def update(self, tick: TickSnapshot) -> bool:
        """Update every criterion; True when the route must end now."""
        for criterion in self.criteria:
            criterion.update(tick)
        return any(criterion.ends_route for criterion in self.criteria)

    def terminate(self, tick: TickSnapshot | None) -> None:
        """Close every criterion at the end of the route."""
        for criterion in self.criteria:
            criterion.terminate(tick)

    def events(self) -> list:
        """Every event raised so far, criterion by criterion."""
        return [event for criterion in self.criteria for event in criterion.events]


def build_route_criteria(route: PlannedRoute, world_map: carla.Map,
                         lights: Sequence[TrafficLightGeometry] = (),
                         stops: Sequence[StopSignGeometry] = ()) -> RouteCriteria:
    """The leaderboard 2.0 route criteria: completion, outside lanes, collisions, red lights, stops, min speed,
    route deviation (ends the route), agent blocked (ends the route) and the route timeout."""
    completion = RouteCompletionTest("RouteCompletionTest", route=route)
    timeout = RouteTimeout("RouteTimeout", route=route)
    criteria: list[Criterion] = [
        completion,
        OutsideRouteLanesTest("OutsideRouteLanesTest", route=route, world_map=world_map),
        CollisionTest("CollisionTest"),
        RunningRedLightTest("RunningRedLightTest", lights=lights, world_map=world_map),
        RunningStopTest("RunningStopTest", stops=stops, world_map=world_map),
        MinimumSpeedRouteTest("MinSpeedTest", route=route),
        InRouteTest("InRouteTest", route=route),
        ActorBlockedTest("AgentBlockedTest"),
        timeout,
    ]
    return RouteCriteria(criteria, completion, timeout)
