"""Evaluate an agent file on a route file: validate everything first, then run route after route.

Inputs are checked before the checkpoint is touched (route XML, trigger JSON, maps, keypoints on the map,
agent file), so bad input never costs finished results. Each route's record is written as soon as it ends;
`resume` skips routes whose finished record is already in the checkpoint.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recon_carla_bridge import paths
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.agent_host import agent_class_of, load_agent_module
from recon_carla_bridge.leaderboard.checkpoint import Checkpoint, releasing_checkpoint_locks
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.metrics import MetricContext, default_registry
from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.leaderboard.route_runner import RouteRunner
from recon_carla_bridge.leaderboard.run_identity import run_identity
from recon_carla_bridge.scene.scene_world import load_place_map, place_exists
from recon_carla_bridge.leaderboard.routes import (
    RouteConfig,
    parse_routes_file,
    route_instances,
)

LOGGER = logging.getLogger(__name__)


class SensorsRejected(InputError):
    """The agent's sensor suite breaks the leaderboard's rules (the evaluation stops, as the leaderboard's does)."""


@dataclass(frozen=True)
class EvaluationSummary:
    """What an evaluation produced: the results document and where it is."""

    checkpoint: Path
    results: dict[str, Any]
    skipped_routes: tuple[str, ...]


PUBLIC_TRIGGER_FILE = Path("leaderboard_1.0") / "all_towns_traffic_scenarios_public.json"


def with_trigger_file(config: EvaluatorConfig) -> EvaluatorConfig:
    """`config` with the public 1.0 scenario-trigger file of ../shared when its 1.0 routes were given none.

    Says so on the console; when that file is absent too, says loudly that the 1.0 routes run without scenarios.
    """
    if config.scenarios is not None:
        return config
    routes = parse_routes_file(config.routes, None, config.routes_subset)
    if not any(route.format == "1.0" for route in routes):
        return config
    public = paths.shared_data_dir() / PUBLIC_TRIGGER_FILE
    if public.is_file():
        print(f"{config.routes}: leaderboard 1.0 routes without --scenarios: using the public scenario triggers "
              f"{public}", flush=True)
        return dataclasses.replace(config, scenarios=public)
    print(f"WARNING: {config.routes} holds leaderboard 1.0 routes and no --scenarios file was given (and {public} "
          "is absent): these routes run WITHOUT their scenarios", file=sys.stderr, flush=True)
    return config


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


@releasing_checkpoint_locks
def evaluate(config: EvaluatorConfig) -> EvaluationSummary:
    """Run the evaluation and return the final results document."""
    config = with_trigger_file(config)
    routes, skipped = select_routes(config)
    maps = {town: load_place_map(town) for town in {route.town for route in routes}}
    planned = {route.route_id: plan_route(route, maps[route.town], config.seed) for route in routes}
    agent_class = agent_class_of(load_agent_module(config.agent))
    instances = route_instances(routes, config.repetitions)
    checkpoint = Checkpoint(config.checkpoint, [route_id for _, _, route_id in instances], config.resume,
                            identity=run_identity(config))
    checkpoint.set_run_info({"agent": str(config.agent), "routes": str(config.routes),
                             "scenarios": str(config.scenarios) if config.scenarios else None,
                             "repetitions": config.repetitions, "track": config.track,
                             "frame_rate": config.frame_rate, "skipped_routes": skipped,
                             "background_traffic": config.traffic.describe(), "seed": config.seed})
    registry = default_registry()

    import recon_carla_bridge
    from recon_carla_bridge.schematic import SchematicBackend

    client = recon_carla_bridge.Client()
    for position, (route, repetition, route_id) in enumerate(instances):
        if checkpoint.is_done(position):
            LOGGER.info("%s already finished, skipped (resume)", route_id)
            continue
        print(f"========= {route_id} ({route.town}, {planned[route.route_id].length:.0f} m) =========", flush=True)
        checkpoint.start_route(position)
        world = client.load_world(route.town)
        simulation = getattr(world, "simulation", None)
        if simulation is not None and getattr(simulation, "camera_backend", None) is None:
            simulation.camera_backend = SchematicBackend()
        settings = world.get_settings()
        settings.synchronous_mode = True
        settings.fixed_delta_seconds = 1.0 / config.frame_rate
        world.apply_settings(settings)
        artifacts = config.artifacts_dir / route_id
        runner = RouteRunner(world, maps[route.town], planned[route.route_id], config, agent_class, artifacts)
        result = runner.run(route_id, position, seed=config.seed)
        record = result.record
        if result.episode is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            result.episode.save(artifacts / "episode.npz")
            record["metrics"] = registry.compute_all(MetricContext(result.episode, maps[route.town]))
            record["meta"]["artifacts"] = os.path.relpath(artifacts, config.checkpoint.parent)
        record["meta"]["town"] = route.town
        record["meta"]["repetition"] = repetition
        if result.sensor_types:
            checkpoint.set_sensors(result.sensor_types)
        checkpoint.finish_route(position, record)
        print(f"> {route_id}: {record['status']}, driving score {record['scores']['score_composed']:.2f} "
              f"(RC {record['scores']['score_route']:.2f} x penalty {record['scores']['score_penalty']:.3f})", flush=True)
        if result.rejected:
            checkpoint.finalize(_global_metrics(registry, checkpoint))
            raise SensorsRejected(f"{config.agent}: {record['meta'].get('failure_reason', 'invalid sensors')} "
                                  f"(route {route_id} recorded as '{record['status']}')")
    results = checkpoint.finalize(_global_metrics(registry, checkpoint))
    return EvaluationSummary(config.checkpoint, results, tuple(skipped))


def _global_metrics(registry: Any, checkpoint: Checkpoint) -> dict[str, Any]:
    per_route = [record["metrics"] for record in checkpoint.records if record is not None and "metrics" in record]
    return registry.aggregate(per_route)


__all__ = ["EvaluationSummary", "SensorsRejected", "evaluate", "scoring", "select_routes"]
