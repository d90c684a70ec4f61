"""Soak: the KITTI scene ticked 10,000 times with its actors respawned every 500 ticks, as an RL loop does; the
resident memory must stay flat.

Usage: python bench/soak_bench.py [--ticks 10000] [--respawn-every 500] [--vehicles 8] [--walkers 4]
Each episode spawns an ego (IMU, GNSS, collision and lane-invasion sensors, one IMU callback that raises), autopilot
vehicles and AI-controlled walkers at the scene's spawn points, ticks, then destroys them all; the replayed log
actors stay. Prints RSS (MiB) per episode and the growth from the second episode (warm) to the last; exits 1 when
it grew by more than --max-growth-mib. No cameras: the CPU rasterizer would make 10,000 ticks take hours.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import warnings

import carla


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux)."""
    with open("/proc/self/statm", encoding="ascii") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def spawn_episode(world: carla.World, rng: random.Random, vehicles: int, walkers: int) -> list[carla.Actor]:
    """Ego with sensors, autopilot traffic and AI walkers; returns every actor spawned (children first)."""
    library = world.get_blueprint_library()
    points = world.get_map().get_spawn_points()
    rng.shuffle(points)
    cars = [bp for bp in library.filter("vehicle.*") if bp.get_attribute("base_type").as_str() == "car"]
    spawned: list[carla.Actor] = []
    ego = None
    for point in points:
        ego = world.try_spawn_actor(library.find("vehicle.lincoln.mkz_2020"), point)
        if ego is not None:
            break
    if ego is None:
        raise RuntimeError("no free spawn point for the ego")
    for sensor_id in ("sensor.other.imu", "sensor.other.gnss", "sensor.other.collision", "sensor.other.lane_invasion"):
        sensor = world.spawn_actor(library.find(sensor_id), carla.Transform(carla.Location(z=1.6)), attach_to=ego)
        sensor.listen((lambda data: 1 / 0) if sensor_id == "sensor.other.imu" else (lambda data: None))
        spawned.append(sensor)
    ego.set_autopilot(True)
    spawned.append(ego)
    for point in points:
        if sum(a.type_id.startswith("vehicle") for a in spawned) > vehicles:
            break
        car = world.try_spawn_actor(rng.choice(cars), point)
        if car is not None:
            car.set_autopilot(True)
            spawned.append(car)
    for _ in range(walkers):
        location = world.get_random_location_from_navigation()
        walker = world.try_spawn_actor(rng.choice(library.filter("walker.pedestrian.*")), carla.Transform(location))
        if walker is None:
            continue
        controller = world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), walker)
        controller.start()
        controller.go_to_location(world.get_random_location_from_navigation())
        spawned = [controller] + spawned + [walker]
    return spawned


def main() -> int:
    """Run the soak and print the RSS figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10_000)
    parser.add_argument("--respawn-every", type=int, default=500)
    parser.add_argument("--vehicles", type=int, default=8)
    parser.add_argument("--walkers", type=int, default=4)
    parser.add_argument("--max-growth-mib", type=float, default=8.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # the raising IMU callback is on purpose

    import recon_carla_bridge

    world = recon_carla_bridge.Client().load_world("kitti")
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    rng = random.Random(0)
    samples: list[tuple[int, float, float, int]] = []  # (tick, RSS MiB, ms per tick, live actors)
    started = time.perf_counter()
    tick = 0
    while tick < args.ticks:
        actors = spawn_episode(world, rng, args.vehicles, args.walkers)
        episode_start = time.perf_counter()
        for _ in range(args.respawn_every):
            world.tick()
            tick += 1
        per_tick = (time.perf_counter() - episode_start) / args.respawn_every * 1000.0
        live = len(world.get_actors())
        for actor in actors:
            actor.destroy()
        world.tick()
        gc.collect()
        samples.append((tick, rss_mib(), per_tick, live))
        print(f"tick {tick:6d}  RSS {samples[-1][1]:7.1f} MiB  {per_tick:5.2f} ms/tick  {live} actors", flush=True)
    warm, last = samples[min(1, len(samples) - 1)][1], samples[-1][1]
    errors = world.simulation.sensor_errors
    print(f"{args.ticks} ticks in {time.perf_counter() - started:.0f} s; RSS {warm:.1f} MiB after episode 2, "
          f"{last:.1f} MiB at the end ({last - warm:+.1f} MiB); {errors.total} callback errors "
          f"counted, {len(errors)} kept")
    return 0 if last - warm <= args.max_growth_mib else 1


if __name__ == "__main__":
    sys.exit(main())
