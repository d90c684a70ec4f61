"""Routes per hour of `recon-carla evaluate` in this process, with --workers 1, --workers 2 and on a local Ray
cluster (--ray-address local --workers 2), measured in one run, and whether every mode gave the same records.

Usage: python bench/parallel_eval_bench.py [--routes F.xml] [--repetitions 3] [--agent A.py] [--video] [--no-ray]
       [--routes-subset 0-3] [--max-route-seconds S]
Each mode runs the real CLI in a fresh process (start-up, the fork server and Ray's start included, as a user
sees them) on the same routes (default: the four short Crossing routes of the tests, each repeated, with the
leaderboard's background traffic and the project's route-following agent) and its wall time gives routes/hour.
Prints one line per mode, the 2-workers / 1-worker ratio, and exits 1 when the records differ between modes
(wall-clock fields aside). With 2 cores, 2 workers can at best double the rate; other load on the machine lowers it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROUTES = REPO / "tests" / "leaderboard" / "data" / "crossing_four.xml"
DEFAULT_AGENT = REPO / "agents" / "leaderboard_agents" / "route_follower_agent.py"


def run_mode(name: str, flags: list[str], args: argparse.Namespace, folder: Path) -> tuple[float, list[dict] | str]:
    """Wall seconds of one evaluation and its records (or the error text when it failed)."""
    checkpoint = folder / name / "results.json"
    command = [sys.executable, "-m", "recon_carla_bridge.cli", "evaluate", "--routes", str(args.routes), "--agent",
               str(args.agent), "--checkpoint", str(checkpoint), "--repetitions", str(args.repetitions), *flags]
    if not args.video:
        command.append("--no-video")
    if args.routes_subset:
        command += ["--routes-subset", args.routes_subset]
    if args.max_route_seconds:
        command += ["--max-route-seconds", str(args.max_route_seconds)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))})
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        return seconds, (result.stderr.strip().splitlines() or ["failed"])[-1]
    records = json.loads(checkpoint.read_text())["_checkpoint"]["records"]
    for record in records:
        record["meta"].pop("duration_system", None)
    return seconds, records


def main() -> int:
    """Run every mode and print routes/hour."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=Path, default=DEFAULT_ROUTES)
    parser.add_argument("--agent", type=Path, default=DEFAULT_AGENT)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--video", action="store_true", help="record the front videos (slower routes)")
    parser.add_argument("--no-ray", action="store_true", help="skip the local Ray cluster")
    parser.add_argument("--routes-subset", default="", help="route ids, as evaluate's --routes-subset")
    parser.add_argument("--max-route-seconds", type=float, default=0.0, help="as evaluate's (0: no cap)")
    args = parser.parse_args()
    modes = [("in-process", []), ("workers-1", ["--workers", "1"]), ("workers-2", ["--workers", "2"])]
    if not args.no_ray:
        modes.append(("ray-local-2", ["--ray-address", "local", "--workers", "2"]))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; routes {args.routes.name} "
          f"x{args.repetitions}, video {'on' if args.video else 'off'}", flush=True)
    rates: dict[str, float] = {}
    reference: list[dict] | None = None
    same = True
    with tempfile.TemporaryDirectory() as folder:
        for name, flags in modes:
            seconds, records = run_mode(name, flags, args, Path(folder))
            if isinstance(records, str):
                print(f"{name:12s} failed after {seconds:.1f} s: {records}", flush=True)
                continue
            rates[name] = len(records) * 3600.0 / seconds
            reference = reference if reference is not None else records
            identical = records == reference
            same &= identical
            print(f"{name:12s} {len(records)} routes in {seconds:6.1f} s: {rates[name]:7.0f} routes/hour "
                  f"(records {'identical' if identical else 'DIFFER'})", flush=True)
    if "workers-1" in rates and "workers-2" in rates:
        print(f"2 workers / 1 worker: {rates['workers-2'] / rates['workers-1']:.2f}x; "
              f"2 workers / in-process: {rates['workers-2'] / rates['in-process']:.2f}x")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
