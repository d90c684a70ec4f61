"""What every criterion sees each tick (`TickSnapshot`) and the one hook it implements (`Criterion.update`)."""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import carla

from recon_carla_bridge.leaderboard.events import TrafficEvent


@dataclass(frozen=True)
class CollisionHit:
    """One collision-sensor event of the ego vehicle: the other actor's id and type id ('static.*' for layout)."""

    other_id: int
    other_type_id: str


@dataclass(frozen=True)
class LightState:
    """A traffic light this tick: id and whether it shows red."""

    light_id: int
    is_red: bool


@dataclass(frozen=True)
class TickSnapshot:
    """The ego vehicle and its surroundings after one world tick.

    Fields:
        frame: world frame number.
        time: simulated seconds since the route started.
        transform: ego pose (location in m, rotation in degrees).
        velocity: ego velocity (m/s, world frame).
        extent: ego bounding-box half-extents (m).
        collisions: collision-sensor events of this tick.
        lights: states of the traffic lights the criteria know (by id).
        background_speeds: speeds (m/s) of the surrounding traffic (role 'background'), for the min-speed test.
        speed_limit: ego's speed limit (km/h).
    """

    frame: int
    time: float
    transform: carla.Transform
    velocity: carla.Vector3D
    extent: carla.Vector3D
    collisions: Sequence[CollisionHit] = ()
    lights: Sequence[LightState] = ()
    background_speeds: Sequence[float] = ()
    speed_limit: float = 30.0

    @property
    def location(self) -> carla.Location:
        """Ego location (m)."""
        return self.transform.location

    @property
    def speed(self) -> float:
        """Ego speed (m/s), CARLA's `CarlaDataProvider.get_velocity` (3D norm)."""
        return float(self.velocity.length())


@dataclass
class Criterion(abc.ABC):
    """A per-tick test. `update` appends to `events`; `ends_route` set means the route stops now."""

    name: str
    events: list[TrafficEvent] = field(default_factory=list, init=False)
    ends_route: bool = field(default=False, init=False)

    @abc.abstractmethod
    def update(self, tick: TickSnapshot) -> None:
        """Advance the test by one tick."""

    def terminate(self, tick: TickSnapshot | None) -> None:
        """Called once when the route ends (with the last tick, None if no tick ran)."""
