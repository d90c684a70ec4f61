"""Evaluate an agent file on a route file: validate everything first, then run the routes (in this process, in
worker processes or as Ray tasks: execution.py).

Inputs are checked before the checkpoint is touched (route XML, trigger JSON, maps, keypoints on the map,
agent file, worker count, the Ray cluster), so bad input never costs finished results. This process alone writes
the checkpoint: each route's record as soon as it ends, in route order whatever order routes end in; `resume`
skips routes whose finished record is already in the checkpoint.
"""
from __future__ import annotations

import dataclasses
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recon_carla_bridge import paths
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.checkpoint import Checkpoint, releasing_checkpoint_locks
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.execution import ExecutionSettings, make_executor
from recon_carla_bridge.leaderboard.route_job import RouteContext, RouteReport, select_routes
from recon_carla_bridge.leaderboard.routes import parse_routes_file
from recon_carla_bridge.leaderboard.run_identity import run_identity

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


@releasing_checkpoint_locks
def evaluate(config: EvaluatorConfig, execution: ExecutionSettings | None = None) -> EvaluationSummary:
    """Run the evaluation (where `execution` says: in this process by default) and return the final results."""
    execution = execution or ExecutionSettings()
    execution.validate()
    config = with_trigger_file(config)
    context = RouteContext(config)
    context.validate()
    executor = make_executor(execution, context, _absolute_paths(config))  # a Ray cluster that does not answer: here
    try:
        checkpoint = Checkpoint(config.checkpoint, context.route_ids, config.resume, identity=run_identity(config))
        checkpoint.set_run_info({"agent": str(config.agent), "routes": str(config.routes),
                                 "scenarios": str(config.scenarios) if config.scenarios else None,
                                 "repetitions": config.repetitions, "track": config.track,
                                 "frame_rate": config.frame_rate, "skipped_routes": context.skipped,
                                 "background_traffic": config.traffic.describe(), "seed": config.seed})
        pending = [position for position in range(len(context.route_ids)) if not checkpoint.is_done(position)]
        LOGGER.info("%d routes already finished, skipped (resume)", len(context.route_ids) - len(pending))
        events = executor.run(pending)
        try:
            for event in events:
                if event.report is None:
                    checkpoint.start_route(event.position)
                    continue
                _store(checkpoint, event.report, registry=context.registry, agent=config.agent)
        finally:
            events.close()  # stops routes still running (a Ctrl-C, a rejected agent)
    finally:
        executor.close()
    results = checkpoint.finalize(_global_metrics(context.registry, checkpoint))
    return EvaluationSummary(config.checkpoint, results, tuple(context.skipped))


def _store(checkpoint: Checkpoint, report: RouteReport, registry: Any, agent: Path) -> None:
    """Write a finished route's record; SensorsRejected (after finalizing) when the agent's sensors broke the rules."""
    record = report.record
    if report.sensor_types:
        checkpoint.set_sensors(report.sensor_types)
    checkpoint.finish_route(report.position, record)
    print(f"> {record['route_id']}: {record['status']}, driving score {record['scores']['score_composed']:.2f} "
          f"(RC {record['scores']['score_route']:.2f} x penalty {record['scores']['score_penalty']:.3f})", flush=True)
    if report.rejected:
        checkpoint.finalize(_global_metrics(registry, checkpoint))
        raise SensorsRejected(f"{agent}: {record['meta'].get('failure_reason', 'invalid sensors')} "
                              f"(route {record['route_id']} recorded as '{record['status']}')")


def _absolute_paths(config: EvaluatorConfig) -> EvaluatorConfig:
    """`config` with absolute file paths, as workers (another working folder, another machine) need them."""
    return dataclasses.replace(config, routes=config.routes.resolve(), agent=config.agent.resolve(),
                               checkpoint=config.checkpoint.resolve(),
                               scenarios=config.scenarios.resolve() if config.scenarios else None)


def _global_metrics(registry: Any, checkpoint: Checkpoint) -> dict[str, Any]:
    per_route = [record["metrics"] for record in checkpoint.records if record is not None and "metrics" in record]
    return registry.aggregate(per_route)


__all__ = ["EvaluationSummary", "ExecutionSettings", "SensorsRejected", "evaluate", "scoring", "select_routes"]
