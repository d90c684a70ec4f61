"""`controller.ai.walker`: CARLA's AI controller for pedestrians, so scripts that populate a town with walkers
(spawn the controller attached to a walker, `start()`, `go_to_location(world.get_random_location_from_navigation())`,
`set_max_speed(1.4)`) run unchanged.

CARLA's controller walks the navigation mesh; without one, the walker heads straight for its target at its maximum
speed and stops there (a later `go_to_location` sends it on). The walker's own `apply_control` is overridden while
the controller steers it, as in CARLA.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import carla
import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world.actors import _ActorFacade
from recon_carla_bridge.world.state import ActorKind
from recon_carla_bridge.world.value_guards import (
    MAX_SPEED_MPS,
    finite_vector,
    vector_of,
)

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.simulation import Simulation

CONTROLLER_ID = "controller.ai.walker"
CONTROLLERS: dict[str, dict[str, tuple[str, str, tuple[str, ...], bool]]] = {
    CONTROLLER_ID: {"role_name": ("string", "", (), True)},
}
DEFAULT_MAX_SPEED_MPS = 1.4  # CARLA's walking speed
ARRIVED_M = 0.5  # the walker stops this close to its target


@dataclass
class WalkerAIState:
    """What one controller is doing: started, where to, how fast (m/s)."""

    started: bool = False
    target: np.ndarray | None = None  # (3,) world location
    max_speed: float = DEFAULT_MAX_SPEED_MPS


def steer_walkers(sim: "Simulation", controllers: dict[int, WalkerAIState]) -> None:
    """Set each controlled walker's WalkerControl towards its target (called once per tick, before walkers move)."""
    for controller_id, ai in controllers.items():
        controller = sim._states.get(controller_id)
        walker = sim._states.get(controller.parent_id) if controller is not None and controller.parent_id else None
        if walker is None or walker.kind != ActorKind.WALKER or not ai.started or ai.target is None:
            continue
        offset = ai.target[:2] - walker.location[:2]
        distance = float(np.hypot(*offset))
        if distance <= ARRIVED_M:
            walker.walker_control = carla.WalkerControl(carla.Vector3D(0.0, 0.0, 0.0), 0.0)
            ai.target = None
            continue
        direction = offset / distance
        walker.walker_control = carla.WalkerControl(carla.Vector3D(float(direction[0]), float(direction[1]), 0.0),
                                                    float(ai.max_speed))


class WalkerAIController(_ActorFacade, carla.WalkerAIController):
    """The AI controller of the walker it is attached to."""

    @property
    def _ai(self) -> WalkerAIState:
        self._sim.state_of(self._actor_id)  # CARLA's clear error once destroyed
        return self._sim.walker_ai[self._actor_id]

    def start(self) -> None:
        """Start steering the parent walker (it waits for a go_to_location)."""
        self._ai.started = True

    def stop(self) -> None:
        """Stop steering; the walker halts."""
        ai = self._ai
        ai.started, ai.target = False, None
        parent_id = self._sim.state_of(self._actor_id).parent_id
        if parent_id is not None and self._sim.is_alive(parent_id):
            self._sim.state_of(parent_id).walker_control = carla.WalkerControl()

    def go_to_location(self, destination: carla.Location) -> None:
        """Walk to `destination` (straight towards it: there is no navigation mesh)."""
        what = f"controller {self._actor_id} go_to_location"
        if destination is None:
            raise InputError(f"{what}: expected a carla.Location, got None (get_random_location_from_navigation "
                             "returns None on a map without lanes)")
        self._ai.target = finite_vector(vector_of(destination, what), what, 1e6, "m")

    def set_max_speed(self, speed: float = DEFAULT_MAX_SPEED_MPS) -> None:
        """Walking speed in m/s."""
        value = float(speed)
        if not math.isfinite(value) or not 0.0 <= value <= MAX_SPEED_MPS:
            raise InputError(f"controller {self._actor_id} set_max_speed: {speed!r} m/s must be in [0, {MAX_SPEED_MPS:g}]")
        self._ai.max_speed = value

    def __str__(self) -> str:
        return f"WalkerAIController(id={self._actor_id})"

    __repr__ = __str__


def check_parent(sim: "Simulation", parent_id: int | None) -> None:
    """InputError unless the controller is spawned attached to a live walker (as CARLA requires)."""
    if parent_id is None or sim.state_of(parent_id).kind != ActorKind.WALKER:
        raise InputError(f"spawn_actor({CONTROLLER_ID}): attach it to a walker (attach_to=walker), as in CARLA")

