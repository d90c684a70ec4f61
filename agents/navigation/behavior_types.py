"""Driving styles of the BehaviorAgent, with CARLA 0.9.16's class names and values."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Cautious:
    """A careful driver: slow, keeps long gaps, never tailgates."""

    max_speed: float = 40
    """Highest speed the agent drives at, km/h."""
    speed_lim_dist: float = 6
    """The agent drives this many km/h under the speed limit."""
    speed_decrease: float = 12
    """When following too close, the agent drives this many km/h slower than the leader."""
    safety_time: float = 3
    """Time to collision (s) under which the agent slows down behind a leader."""
    min_proximity_threshold: float = 12
    """Least distance (m) searched for vehicles and walkers."""
    braking_distance: float = 6
    """Bumper-to-bumper distance (m) under which the agent performs an emergency stop."""
    tailgate_counter: int = 0
    """Steps left before another overtaking lane change is allowed (running state; -1 disables)."""


@dataclass
class Normal:
    """An ordinary driver."""

    max_speed: float = 50
    """Highest speed the agent drives at, km/h."""
    speed_lim_dist: float = 3
    """The agent drives this many km/h under the speed limit."""
    speed_decrease: float = 10
    """When following too close, the agent drives this many km/h slower than the leader."""
    safety_time: float = 3
    """Time to collision (s) under which the agent slows down behind a leader."""
    min_proximity_threshold: float = 10
    """Least distance (m) searched for vehicles and walkers."""
    braking_distance: float = 5
    """Bumper-to-bumper distance (m) under which the agent performs an emergency stop."""
    tailgate_counter: int = 0
    """Steps left before another overtaking lane change is allowed (running state)."""


@dataclass
class Aggressive:
    """A hurried driver: fast, short gaps, never overtakes a tailgater (tailgate_counter -1)."""

    max_speed: float = 70
    """Highest speed the agent drives at, km/h."""
    speed_lim_dist: float = 1
    """The agent drives this many km/h under the speed limit."""
    speed_decrease: float = 8
    """When following too close, the agent drives this many km/h slower than the leader."""
    safety_time: float = 3
    """Time to collision (s) under which the agent slows down behind a leader."""
    min_proximity_threshold: float = 8
    """Least distance (m) searched for vehicles and walkers."""
    braking_distance: float = 4
    """Bumper-to-bumper distance (m) under which the agent performs an emergency stop."""
    tailgate_counter: int = -1
    """Steps left before another overtaking lane change is allowed (running state; -1 disables)."""


BEHAVIORS = {"cautious": Cautious, "normal": Normal, "aggressive": Aggressive}
"""The styles by the names BehaviorAgent accepts."""
