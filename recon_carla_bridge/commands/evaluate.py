"""`recon-carla evaluate`: run a leaderboard agent file on routes and write leaderboard-style results."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` sub-command."""
    parser = subparsers.add_parser(
        "evaluate", help="run a leaderboard agent on routes and score it (leaderboard 2.0, RAD, Bench2Drive, …)",
        description="Run an unmodified CARLA leaderboard agent file on leaderboard 1.0/2.0 routes in the "
                    "server-less world and write the leaderboard's results JSON.")
    parser.add_argument("--routes", required=True, type=Path, help="route XML (leaderboard 1.0, 2.0 or ours)")
    parser.add_argument("--agent", "-a", required=True, type=Path, help="agent .py file with get_entry_point()")
    parser.add_argument("--agent-config", default="", help="path passed to the agent's setup()")
    parser.add_argument("--checkpoint", default=Path("simulation_results.json"), type=Path,
                        help="results JSON (default: ./simulation_results.json)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run without redoing finished routes")
    parser.add_argument("--repetitions", type=int, default=1, help="runs per route")
    parser.add_argument("--scenarios", type=Path, default=None,
                        help="leaderboard 1.0 scenario-trigger JSON (for 1.0 route files)")
    parser.add_argument("--routes-subset", default="", help="route ids to run, e.g. '0,2' or '0-3'")
    parser.add_argument("--track", default="SENSORS", choices=["SENSORS", "MAP", "SENSORS_QUALIFIER", "MAP_QUALIFIER"])
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="wall seconds an agent call may take before its route fails")
    parser.add_argument("--max-route-seconds", type=float, default=0.0,
                        help="cap on simulated seconds per route (0: the leaderboard's route timeout only)")
    parser.add_argument("--skip-missing-towns", action="store_true", help="run only routes whose map exists")
    parser.add_argument("--no-video", action="store_true",
                        help="do not record the front-camera videos (about 4x faster: 6.7 vs 26.3 s for 20 simulated s of a route without traffic)")
    parser.add_argument("--no-background-traffic", action="store_true",
                        help="drive the routes on empty roads (no leaderboard background vehicles)")
    parser.add_argument("--background-vehicles", type=int, default=None, metavar="N",
                        help="background vehicles (1.0 routes: in the town; 2.0: kept around the ego); "
                             "default: the leaderboard's amount")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the 1.0 scenario sampling and of the background traffic; with each route's "
                             "id, of the random generators the agent and scenarios share (random, NumPy, torch), "
                             "so a route's result does not depend on the routes run before it (default 0)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="run routes in N child processes of this machine at once, each route in its own "
                             "process: an agent that crashes natively (SIGSEGV, os._exit) fails its route with the "
                             "signal or exit code and the others go on; a process killed by SIGKILL (the OOM "
                             "killer) runs its route once more. --workers 1 gives that "
                             "containment one route at a time; without --workers the routes run in this process, where a "
                             "native crash ends the evaluation")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="run routes as Ray tasks: 'local' starts a local Ray cluster (of --workers CPUs, "
                             "default all), 'auto' joins the one `ray start` made here, HOST:PORT or "
                             "ray://HOST:PORT joins that cluster (its nodes must see the checkpoint's folder)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Run the evaluation; 0 on success, 2 on bad input (the message names the file or field)."""
    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.leaderboard.config import EvaluatorConfig
    from recon_carla_bridge.leaderboard.evaluator import evaluate
    from recon_carla_bridge.leaderboard.execution import ExecutionSettings

    config = EvaluatorConfig(
        routes=args.routes, agent=args.agent, checkpoint=args.checkpoint, agent_config=args.agent_config,
        scenarios=args.scenarios, routes_subset=args.routes_subset, repetitions=args.repetitions,
        resume=args.resume, track=args.track, step_timeout=args.timeout, max_route_seconds=args.max_route_seconds,
        skip_missing_towns=args.skip_missing_towns, record_video=not args.no_video,
        background_traffic=not args.no_background_traffic, background_vehicles=args.background_vehicles,
        seed=args.seed)
    if args.background_vehicles is not None and args.background_vehicles < 0:
        print(f"error: --background-vehicles must be >= 0, got {args.background_vehicles}", file=sys.stderr)
        return 2
    execution = ExecutionSettings(workers=args.workers, ray_address=args.ray_address)
    try:
        execution.validate()
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.record_video:
        print("recording a front-camera video per route for the report (--no-video runs about 4x faster)", flush=True)
    try:
        summary = evaluate(config, execution)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nrecon-carla: interrupted; the routes that finished are kept in {args.checkpoint} "
              "(run the same command with --resume to go on)", file=sys.stderr)
        return 130
    values = dict(zip(summary.results["labels"], summary.results["values"]))
    print(f"Results written to {summary.checkpoint} (entry status {summary.results['entry_status']})")
    for label in ("Avg. driving score", "Avg. route completion", "Avg. infraction penalty"):
        print(f"  {label}: {values.get(label)}")
    print_scenario_totals(summary.results["_checkpoint"]["records"])
    return 0


def print_scenario_totals(records: list) -> None:
    """Scenario actors, background vehicles and scenario types srunner lacks, summed over the routes run."""
    missing: Counter[str] = Counter()
    actors = background = 0
    for record in records:
        meta = (record or {}).get("meta", {})
        scenarios = meta.get("scenarios") or {}
        missing.update(scenarios.get("missing_types") or {})
        actors += len(scenarios.get("actors") or [])
        background += (meta.get("background_traffic") or {}).get("spawned", 0)
    print(f"  scenario actors spawned: {actors}; background vehicles spawned: {background}")
    if missing:
        names = ", ".join(f"{name} x{count}" for name, count in sorted(missing.items()))
        print(f"  scenarios not run, srunner 0.9.11 lacks their type ({sum(missing.values())}): {names}")
