"""Traffic events: what the infraction criteria report and the scoring reads (srunner's TrafficEvent roles)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrafficEventType(Enum):
    """The event kinds of leaderboard 2.0 (names as in srunner's `TrafficEventType`)."""

    COLLISION_STATIC = "COLLISION_STATIC"
    COLLISION_VEHICLE = "COLLISION_VEHICLE"
    COLLISION_PEDESTRIAN = "COLLISION_PEDESTRIAN"
    ROUTE_DEVIATION = "ROUTE_DEVIATION"
    ROUTE_COMPLETION = "ROUTE_COMPLETION"
    TRAFFIC_LIGHT_INFRACTION = "TRAFFIC_LIGHT_INFRACTION"
    STOP_INFRACTION = "STOP_INFRACTION"
    OUTSIDE_ROUTE_LANES_INFRACTION = "OUTSIDE_ROUTE_LANES_INFRACTION"
    VEHICLE_BLOCKED = "VEHICLE_BLOCKED"
    MIN_SPEED_INFRACTION = "MIN_SPEED_INFRACTION"
    YIELD_TO_EMERGENCY_VEHICLE = "YIELD_TO_EMERGENCY_VEHICLE"
    SCENARIO_TIMEOUT = "SCENARIO_TIMEOUT"


@dataclass
class TrafficEvent:
    """One event.

    Fields:
        type: the event kind.
        frame: world frame at which it happened (the last update for running events).
        message: the leaderboard's human-readable message (scoring parses a few of them, as the leaderboard does).
        data: event values: 'percentage' (%, outside-lanes and min-speed), 'route_completed' (%),
            'distance' (m), 'location' ((x, y, z) in m, world frame), 'id' (other actor or light id), …
    """

    type: TrafficEventType
    frame: int
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> tuple[float, float, float] | None:
        """(x, y, z) in m where the event happened, when known."""
        location = self.data.get("location")
        return tuple(float(v) for v in location) if location is not None else None  # type: ignore[return-value]


def format_location(x: float, y: float, z: float) -> str:
    """`(x=…, y=…, z=…)` rounded to 3 decimals, as leaderboard messages print locations."""
    return f"(x={round(x, 3)}, y={round(y, 3)}, z={round(z, 3)})"
