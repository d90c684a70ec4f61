"""World benchmarks: map-only real-time factor of a ScenarioRunner scenario, and traffic ticks/s.

Usage: python bench/world_bench.py [--vehicles 50] [--town Town04] [--ticks 400]
Prints one line per figure. Pin to one core for the issue's goal (`taskset -c 0 python ...`).
Goals: FollowLeadingVehicle_1 real-time factor >= 1000x; >= 200 ticks/s with 50 autopilot vehicles.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import random
import time


def scenario_real_time_factor(scenario: str) -> tuple[float, float, float]:
    """(simulated s, wall s, factor) of one ScenarioRunner scenario driven by BasicAgent, map only."""
    from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings

    runner = ScenarioRunner(ScenarioRunSettings(scenario=scenario))
    with contextlib.redirect_stdout(io.StringIO()):
        runner.run()
    outcome = runner.outcomes[0]
    return outcome.game_duration, outcome.system_duration, outcome.game_duration / max(outcome.system_duration, 1e-9)


def traffic_ticks_per_second(town: str, vehicles: int, ticks: int, seed: int = 0) -> tuple[int, float]:
    """(vehicles spawned, ticks/s) with `vehicles` autopilot vehicles in synchronous mode at 20 Hz."""
    import recon_carla_bridge

    client = recon_carla_bridge.Client()
    world = client.load_world(town)
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    library = world.get_blueprint_library().filter("vehicle.*")
    cars = [bp for bp in library if bp.get_attribute("base_type").as_str() == "car"]
    spawn_points = world.get_map().get_spawn_points()
    rng = random.Random(seed)
    rng.shuffle(spawn_points)
    spawned = 0
    for point in spawn_points:
        actor = world.try_spawn_actor(rng.choice(cars), point)
        if actor is not None:
            actor.set_autopilot(True)
            spawned += 1
        if spawned == vehicles:
            break
    for _ in range(20):  # warm-up: paths fill, caches settle
        world.tick()
    start = time.perf_counter()
    for _ in range(ticks):
        world.tick()
    return spawned, ticks / (time.perf_counter() - start)


def main() -> None:
    """Run both benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="FollowLeadingVehicle_1")
    parser.add_argument("--town", default="Town04")
    parser.add_argument("--vehicles", type=int, default=50)
    parser.add_argument("--ticks", type=int, default=400)
    args = parser.parse_args()
    sim_s, wall_s, factor = scenario_real_time_factor(args.scenario)
    print(f"scenario {args.scenario}: {sim_s:.1f} s simulated in {wall_s:.2f} s wall -> real-time factor {factor:.0f}x (goal >= 1000x)")
    spawned, rate = traffic_ticks_per_second(args.town, args.vehicles, args.ticks)
    print(f"traffic {args.town}: {spawned} autopilot vehicles -> {rate:.0f} ticks/s (goal >= 200)")


if __name__ == "__main__":
    main()
