"""The DAA adversary of an RL episode: the adversary package's py_trees behaviour (`DAAManoeuvre`, then the hand-back
to lane following), ticked by the episode loop before each world tick.

srunner keeps its world, map and game time in class attributes; several environments of one process each own a
world, so every tick runs inside `srunner_world`, which points those attributes at this episode's world and time.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import py_trees

from recon_carla_bridge.adversary.behaviours import DAAManoeuvre, HandBackToLaneFollowing
from recon_carla_bridge.adversary.scenarios import DAAScenario
from recon_carla_bridge.episode import EpisodeCallback
from recon_carla_bridge.rl.episodes import EpisodeDraw

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.episode import EpisodeRunner


@contextlib.contextmanager
def srunner_world(world: Any, game_time: float) -> Iterator[None]:
    """srunner's CarlaDataProvider and GameTime show `world` at `game_time` s inside the block."""
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
    from srunner.scenariomanager.timer import GameTime

    saved = (CarlaDataProvider._world, CarlaDataProvider._map, GameTime._current_game_time)
    CarlaDataProvider._world, CarlaDataProvider._map = world, world.get_map()
    GameTime._current_game_time = game_time
    try:
        yield
    finally:
        CarlaDataProvider._world, CarlaDataProvider._map, GameTime._current_game_time = saved


class AdversaryCallback(EpisodeCallback):
    """Inserts or takes over the episode's adversary and runs its drawn manoeuvre."""

    def __init__(self, draw: EpisodeDraw) -> None:
        """The adversary of `draw` (its spec, with the parameters drawn in the draw's split)."""
        self.draw = draw
        self.actor: Any = None
        self.behaviour: DAAManoeuvre | None = None
        self.tree: py_trees.composites.Sequence | None = None
        self._inserted = False
        self.error = ""

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Place the adversary (as the DAA scenario classes do) and build its behaviour."""
        spec = self.draw.spec
        if spec is None:
            return
        placement = SimpleNamespace(spec=spec)  # the scenario's placement helpers only read `spec`
        with srunner_world(runner.world, 0.0):
            if spec.actor == "insert":
                library = runner.world.get_blueprint_library()
                blueprint = library.find(spec.model)
                blueprint.set_attribute("role_name", "adversary")
                self.actor = runner.world.try_spawn_actor(blueprint, DAAScenario._insert_transform(placement, runner.ego))
                self._inserted = self.actor is not None
            else:
                self.actor = DAAScenario._take_over(placement, runner.ego)
        if self.actor is None:
            self.error = f"could not place the adversary of {self.draw.template.name or self.draw.template.scene}"
            return
        self.behaviour = DAAManoeuvre(self.actor, runner.ego, spec, name=f"DAA {spec.manoeuvre.name}")
        self.behaviour.params = dict(self.draw.params)
        self.tree = py_trees.composites.Sequence(f"DAA {spec.manoeuvre.name}")
        self.tree.add_child(self.behaviour)
        self.tree.add_child(HandBackToLaneFollowing(self.actor))

    def on_step_start(self, runner: "EpisodeRunner", control: Any) -> None:
        """Tick the behaviour once (until it has finished)."""
        if self.tree is None or self.tree.status in (py_trees.common.Status.SUCCESS, py_trees.common.Status.FAILURE):
            return
        with srunner_world(runner.world, runner.time):
            self.tree.tick_once()

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """Remove an inserted adversary (a taken-over logged vehicle goes with its world)."""
        if self._inserted and self.actor is not None:
            try:
                self.actor.destroy()
            except RuntimeError:
                pass
        self.actor, self.tree, self._inserted = None, None, False

    def plan(self) -> tuple[Any, float] | None:
        """(the accepted trajectory, its start in episode s) once planned, else None."""
        if self.behaviour is None or self.behaviour.trajectory is None:
            return None
        return self.behaviour.trajectory, self.behaviour._plan_time
