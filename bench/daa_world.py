"""In-world DAA draws: per manoeuvre scenario of scenarios/DAATown04.xml and per seed, run the scenario with each
ego (constant speed, BehaviorAgent, reference planner) and count collisions (srunner's CollisionTest) and draws whose
plan was never accepted (no feasible, avoidable plan within the scenario's patience).

    PYTHONPATH=. python bench/daa_world.py --draws 200 --scenarios DAACutInRight_Town04 DAABrakeCheck_Town04

Each run here is a whole ScenarioRunner scenario (~2.5 s); `python -m recon_carla_bridge.adversary.world_draws` runs
the manoeuvre window only, in one loaded town (~0.1-0.4 s a draw), and is what docs/daa_ctg.md quotes.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

from recon_carla_bridge.paths import REPO_ROOT

XML = REPO_ROOT / "scenarios" / "DAATown04.xml"


def config_with_seed(text: str, scenario: str, seed: int) -> str:
    """The scenario XML with `scenario`'s adversary seed set to `seed`."""
    pattern = re.compile(rf'(<scenario name="{scenario}".*?<adversary[^>]*?seed=")\d+(")', re.S)
    replaced, count = pattern.subn(rf"\g<1>{seed}\g<2>", text)
    if count != 1:
        raise SystemExit(f"{XML}: scenario {scenario} has no <adversary seed=…>")
    return replaced


def run_once(config_file: str, scenario: str, ego: str) -> tuple[bool, bool, dict]:
    """(collided, plan accepted, rejections) of one run."""
    import py_trees

    from recon_carla_bridge.adversary.behaviours import PLAN_KEY, REJECTIONS_KEY
    from recon_carla_bridge.adversary.ego_drivers import EGO_DRIVERS
    from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings

    blackboard = py_trees.blackboard.Blackboard()
    blackboard.set(PLAN_KEY, None, overwrite=True)
    blackboard.set(REJECTIONS_KEY, {}, overwrite=True)
    runner = ScenarioRunner(ScenarioRunSettings(scenario=scenario, config_file=config_file, agent="none", max_sim_time=40.0))
    runner.agent_class = EGO_DRIVERS[ego]
    with contextlib.redirect_stdout(io.StringIO()):
        runner.run()
    outcome = runner.outcomes[0]
    collided = any(c["name"] == "CollisionTest" and c["test_status"] == "FAILURE" for c in outcome.criteria)
    return collided, blackboard.get(PLAN_KEY) is not None, dict(blackboard.get(REJECTIONS_KEY) or {})


def main() -> None:
    """Print (and optionally write as JSON) per scenario and ego: collision rate over accepted draws, rejected share."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--scenarios", nargs="+", default=["DAACutInRight_Town04", "DAABrakeCheck_Town04"])
    parser.add_argument("--egos", nargs="+", default=["constant_speed", "behavior_agent", "reference"])
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    text = XML.read_text()
    table: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        for scenario in args.scenarios:
            for ego in args.egos:
                started = time.perf_counter()
                counts: Counter[str] = Counter()
                for seed in range(args.draws):
                    path = Path(folder) / f"{scenario}_{seed}.xml"
                    path.write_text(config_with_seed(text, scenario, seed))
                    collided, accepted, _ = run_once(str(path), scenario, ego)
                    counts["accepted" if accepted else "rejected"] += 1
                    counts["collisions"] += collided and accepted
                row = {"draws": args.draws, "rejected": counts["rejected"] / args.draws,
                       "collision_rate": counts["collisions"] / max(1, counts["accepted"]),
                       "seconds": round(time.perf_counter() - started, 1)}
                table[f"{scenario}/{ego}"] = row
                print(f"{scenario:28s} {ego:15s} rejected {row['rejected']:.2f} collisions {row['collision_rate']:.2f} "
                      f"({row['seconds']} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
