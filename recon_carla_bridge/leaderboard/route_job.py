"""One route of an evaluation, run the same way in the evaluating process, in a worker process or in a Ray task.

`RouteContext` holds what every route of a run needs (the route instances, maps, plans, the agent class), loaded
lazily and once per process; `RouteContext.run(position)` loads the route's world, reseeds the process's random
generators for this route (route_seed.py), drives it and returns a `RouteReport`: the scored record (metrics and
artefacts included; the episode and video are written into the run's folder by whoever ran the route).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import carla

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.agent_host import agent_class_of, load_agent_module
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.metrics import MetricContext, default_registry
from recon_carla_bridge.leaderboard.planning import PlannedRoute, plan_route
from recon_carla_bridge.leaderboard.route_runner import RouteObserver, RouteRunner
from recon_carla_bridge.leaderboard.route_seed import route_seed, seed_process_rngs
from recon_carla_bridge.leaderboard.routes import RouteConfig, parse_routes_file, route_instances
from recon_carla_bridge.scene.scene_world import load_place_map, place_exists


@dataclass
class RouteReport:
    """What running one route produced, sent back to the evaluation (picklable).

    Fields:
        position: the route's place in the run (index into the run's route instances).
        record: the scored leaderboard route record.
        sensor_types: the agent's sensor types (empty when it was never built).
        rejected: the agent's sensors broke the leaderboard's rules (the evaluation stops).
    """

    position: int
    record: dict[str, Any]
    sensor_types: list[str] = field(default_factory=list)
    rejected: bool = False


def select_routes(config: EvaluatorConfig) -> tuple[list[RouteConfig], list[str]]:
    """Parse the route file and keep the routes whose town (a CARLA town or a reconstructed scene) has a map
    (others refused unless skipping)."""
    routes = parse_routes_file(config.routes, config.scenarios, config.routes_subset)
    kept, skipped = [], []
    for route in routes:
        if place_exists(route.town):
            kept.append(route)
        else:
            skipped.append(f"{route.route_id} ({route.town})")
    if skipped and not config.skip_missing_towns:
        raise InputError(f"{config.routes}: routes {skipped} use towns with no OpenDRIVE map here; pass "
                         "--skip-missing-towns to run the others or --routes-subset to choose")
    if not kept:
        raise InputError(f"{config.routes}: no route left to run (missing maps: {skipped})")
    return kept, skipped


class RouteContext:
    """The routes of one run and what driving them needs, loaded on first use and kept for the process."""

    def __init__(self, config: EvaluatorConfig) -> None:
        """Parse and select the routes of `config` (InputError on bad input); maps, plans and the agent load
        when first needed."""
        self.config = config
        routes, self.skipped = select_routes(config)
        self.instances = route_instances(routes, config.repetitions)  # (route, repetition, route id) in run order
        self.registry = default_registry()
        self._maps: dict[str, carla.Map] = {}
        self._planned: dict[str, PlannedRoute] = {}
        self._agent_class: type | None = None
        self._client: Any = None

    @property
    def route_ids(self) -> list[str]:
        """Leaderboard route ids ('RouteScenario_<id>_rep<k>') in run order."""
        return [route_id for _, _, route_id in self.instances]

    def map(self, town: str) -> carla.Map:
        """The map of `town` (loaded once)."""
        if town not in self._maps:
            self._maps[town] = load_place_map(town)
        return self._maps[town]

    def planned(self, route: RouteConfig) -> PlannedRoute:
        """The planned route (dense route, scenarios sampled with the run's seed), planned once."""
        if route.route_id not in self._planned:
            self._planned[route.route_id] = plan_route(route, self.map(route.town), self.config.seed)
        return self._planned[route.route_id]

    @property
    def agent_class(self) -> type:
        """The agent file's agent class (the file imported once)."""
        if self._agent_class is None:
            self._agent_class = agent_class_of(load_agent_module(self.config.agent))
        return self._agent_class

    def validate(self) -> None:
        """Load every map, plan every route and import the agent: InputError now rather than mid-run."""
        for route, _, _ in self.instances:
            self.planned(route)
        _ = self.agent_class

    def run(self, position: int, observer: RouteObserver | None = None) -> RouteReport:
        """Drive route `position` in a fresh world of its town and return its report (its episode and video
        written under the run's artefacts folder)."""
        import recon_carla_bridge
        from recon_carla_bridge.schematic import SchematicBackend

        config = self.config
        route, repetition, route_id = self.instances[position]
        planned = self.planned(route)
        print(f"========= {route_id} ({route.town}, {planned.length:.0f} m) =========", flush=True)
        if self._client is None:
            self._client = recon_carla_bridge.Client()
        world = self._client.load_world(route.town)
        simulation = getattr(world, "simulation", None)
        if simulation is not None and getattr(simulation, "camera_backend", None) is None:
            simulation.camera_backend = SchematicBackend()
        settings = world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = 1.0 / config.frame_rate
        world.apply_settings(settings)
        artifacts = config.artifacts_dir / route_id
        seed_process_rngs(route_seed(config.seed, route_id))
        runner = RouteRunner(world, self.map(route.town), planned, config, self.agent_class, artifacts, observer)
        result = runner.run(route_id, position, seed=config.seed)
        record = result.record
        if result.episode is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            result.episode.save(artifacts / "episode.npz")
            record["metrics"] = self.registry.compute_all(MetricContext(result.episode, self.map(route.town)))
            record["meta"]["artifacts"] = os.path.relpath(artifacts, config.checkpoint.parent)
        record["meta"]["town"] = route.town
        record["meta"]["repetition"] = repetition
        return RouteReport(position, record, list(result.sensor_types), result.rejected)
