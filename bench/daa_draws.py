"""Over N seeded draws per DAA manoeuvre, on a straight 3-lane road in the planner's Frenet frame: the share of
draws rejected as infeasible / unavoidable, and, over the accepted ones, how often a constant-speed ego collides
versus the reference planner (lane keeping with sampled braking). In-world runs (BehaviorAgent) are not in here yet.

    PYTHONPATH=. python bench/daa_draws.py --draws 200 --ego-speed 12
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np

from recon_carla_bridge.adversary.avoidability import judge_draw
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.manoeuvres import MANOEUVRES, PlanningFrame
from recon_carla_bridge.adversary.parameters import draw_parameters

LANE_WIDTH = 3.5  # m


def trigger_frame(name: str, params: dict[str, float], ego_speed: float, reference: ReferenceLine) -> PlanningFrame:
    """Where the adversary is at the trigger: `trigger_distance` ahead (or behind) in its start lane."""
    manoeuvre = MANOEUVRES[name]
    side = {"left": -LANE_WIDTH, "right": LANE_WIDTH, "oncoming": -LANE_WIDTH}.get(manoeuvre.side_name, 0.0)  # +d: right
    ego_s = 60.0
    if manoeuvre.start == "behind":
        return PlanningFrame(reference, ego_s, ego_speed, ego_s - params["trigger_distance"], 0.0, ego_speed + 4.0)
    speed = ego_speed - 3.0 if manoeuvre.start == "side_ahead" else ego_speed
    return PlanningFrame(reference, ego_s, ego_speed, ego_s + params["trigger_distance"], side, speed, side)


def main() -> None:
    """Print (and optionally write as JSON) the per-manoeuvre rejection and collision rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--ego-speed", type=float, default=12.0, help="m/s")
    parser.add_argument("--json", default="", help="write the table here")
    args = parser.parse_args()
    reference = ReferenceLine(np.stack([np.linspace(0.0, 600.0, 601), np.zeros(601)], axis=1))
    table = {}
    for name, manoeuvre in MANOEUVRES.items():
        started = time.perf_counter()
        causes: Counter[str] = Counter()
        naive = reference_hits = 0
        for seed in range(args.draws):
            params = draw_parameters(manoeuvre.defaults, seed)
            frame = trigger_frame(name, params, args.ego_speed, reference)
            verdict = judge_draw(manoeuvre.plan(frame, params), reference, frame.ego_s, frame.ego_speed)
            causes[verdict.rejection or "accepted"] += 1
            if not verdict.rejection:
                naive += verdict.constant_speed_collides
                reference_hits += not verdict.avoiding_options
        accepted = max(1, causes["accepted"])
        table[name] = {"draws": args.draws, "infeasible": causes["infeasible"] / args.draws,
                       "unavoidable": causes["unavoidable"] / args.draws, "accepted": causes["accepted"],
                       "constant_speed_collision_rate": naive / accepted,
                       "reference_planner_collision_rate": reference_hits / accepted,
                       "seconds": round(time.perf_counter() - started, 2)}
        row = table[name]
        print(f"{name:26s} infeasible {row['infeasible']:.2f} unavoidable {row['unavoidable']:.2f} "
              f"accepted {row['accepted']:4d} | collisions: constant speed {row['constant_speed_collision_rate']:.2f} "
              f"reference {row['reference_planner_collision_rate']:.2f} ({row['seconds']} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=1)


if __name__ == "__main__":
    main()
