"""Named results of the agents' hazard checks, as CARLA 0.9.16's `agents.tools.hints` defines them.

Both are NamedTuples, so code written for older CARLA releases that unpacks plain tuples
(`found, actor, distance = agent._vehicle_obstacle_detected(...)`) keeps working.
"""
from __future__ import annotations

from typing import NamedTuple

import carla


class ObstacleDetectionResult(NamedTuple):
    """Outcome of an obstacle (vehicle or walker) check ahead of the ego vehicle."""

    obstacle_was_found: bool
    """True when an actor blocks the planned path within the searched distance."""
    obstacle: carla.Actor | None
    """The blocking actor, or None."""
    distance: float
    """Centre-to-centre distance to the obstacle in metres; -1 when none was found."""


class TrafficLightDetectionResult(NamedTuple):
    """Outcome of a red-traffic-light check ahead of the ego vehicle."""

    traffic_light_was_found: bool
    """True when a red light affects the ego vehicle."""
    traffic_light: carla.TrafficLight | None
    """The affecting traffic light, or None."""
