"""Camera frames/s through the world's sensors vs raw rendering of the same scene, in one run.

Usage: python bench/world_camera_bench.py [--scene kitti] [--width 800 --height 450] [--ticks 50]
Prints, for 1 and 6 cameras on the ego: frames/s via `world.tick()` (camera sensors: batching,
CARLA encoding, callbacks, the world step) — with callbacks only (a GPU render overlaps the next world
step) and with every tick's images awaited before the next tick (the synchronous-mode queue pattern) —
and frames/s of `recon.render.render` called directly with the same cameras and actor poses, and the
ratios (goal >= 0.9); then the world step alone (cameras stopped) in ms per tick, which bounds the
one-camera ratio from above even with no sensor overhead at all: raw / (raw + step). gsplat on CUDA,
CPU otherwise.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Callable

import numpy as np


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(scene: str, cameras: int, width: int, height: int, ticks: int, backend: str,
            repeats: int = 1, profile_rows: int = 0) -> tuple[float, float, float, str, float]:
    """(world camera frames/s with callbacks only, with every tick awaited, raw render frames/s, backend,
    world step without cameras in ms):
    medians over `repeats` rounds, each round timing the three one after the other (so a slow spell of
    the machine hits all three alike)."""
    import carla

    from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera
    from recon_carla_bridge.recon.render import choose_backend, render
    from recon_carla_bridge.scene.scene_world import ego_start_transform, open_scene_world

    world = open_scene_world(scene, render_backend=backend)
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"), ego_start_transform(world.scene_bundle))
    ego.set_simulate_physics(False)
    import queue

    received: "queue.Queue[int]" = queue.Queue()
    sensors = []
    for index in range(cameras):
        bp = world.get_blueprint_library().find("sensor.camera.rgb")
        bp.set_attribute("image_size_x", str(width))
        bp.set_attribute("image_size_y", str(height))
        bp.set_attribute("fov", "90")
        mount = carla.Transform(carla.Location(x=0.5, z=1.6), carla.Rotation(yaw=index * 360.0 / cameras))
        sensor = world.spawn_actor(bp, mount, attach_to=ego)
        sensor.listen(lambda image: received.put(image.frame))
        sensors.append(sensor)
    def drain(count: int) -> None:
        for _ in range(count):
            received.get(timeout=60.0)

    for _ in range(3):  # warm-up (CUDA kernels, allocator)
        world.tick()
    drain(3 * cameras)

    def world_rate() -> float:
        start = time.perf_counter()  # callbacks only: the next step overlaps the render in flight
        for _ in range(ticks):
            world.tick()
        drain(ticks * cameras)
        return cameras * ticks / (time.perf_counter() - start)

    def lockstep_rate() -> float:
        start = time.perf_counter()  # lock-step: every tick's images are awaited before the next tick
        for _ in range(ticks):
            world.tick()
            drain(cameras)
        return cameras * ticks / (time.perf_counter() - start)

    backend_used = choose_backend(backend)
    poses = world.simulation.camera_backend.actor_instances(world.simulation.render_snapshot())
    matrices = np.stack([carla_to_opencv_world_from_camera(np.array(s.get_transform().get_matrix())) for s in sensors])
    focal = width / (2.0 * math.tan(math.radians(45.0)))
    K = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    batch = CameraBatch.from_numpy(matrices, K, width, height)
    scene_gaussians = world.gaussian_scene
    ground = world.simulation.camera_backend.ground  # the world's cameras fill the road plane: same work
    for _ in range(3):
        render(scene_gaussians, batch, poses, backend=backend_used, ground=ground)
    _synchronize()

    def raw_rate() -> float:
        start = time.perf_counter()
        for _ in range(ticks):
            output = render(scene_gaussians, batch, poses, backend=backend_used, ground=ground)
            output.rgb.cpu()  # the world also brings images to the host for carla.Image
        _synchronize()
        return cameras * ticks / (time.perf_counter() - start)

    rounds = [(world_rate(), lockstep_rate(), raw_rate()) for _ in range(max(1, repeats))]
    if profile_rows > 0:
        _print_profile("world, awaiting every tick", lockstep_rate, profile_rows)
        _print_profile("raw render", raw_rate, profile_rows)
    world_fps, lockstep_fps, raw_fps = (float(np.median([r[i] for r in rounds])) for i in range(3))
    for sensor in sensors:  # the world alone: the same ticks with no camera to render
        sensor.stop()
    start = time.perf_counter()
    for _ in range(ticks):
        world.tick()
    step_ms = 1e3 * (time.perf_counter() - start) / ticks
    return world_fps, lockstep_fps, raw_fps, backend_used, step_ms


def _print_profile(title: str, run: Callable[[], float], rows: int) -> None:
    """cProfile one timing round and print its top functions by own time (where the CPU goes)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    rate = run()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(rows)
    print(f"--- profile: {title} ({rate:.1f} frames/s under the profiler)")
    print("\n".join(line for line in text.getvalue().splitlines()[6:] if line.strip()))


def main() -> None:
    """Print the figures for 1 and 6 cameras."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="kitti")
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--height", type=int, default=450)
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the three timings; medians are printed")
    parser.add_argument("--profile", type=int, default=0, metavar="ROWS",
                        help="after the timings, print this many rows of a cProfile of each path (0: none)")
    args = parser.parse_args()
    for count in args.cameras:
        world_fps, lockstep_fps, raw_fps, backend, step_ms = measure(args.scene, count, args.width, args.height,
                                                                     args.ticks, args.backend, args.repeats, args.profile)
        raw_ms = 1e3 * count / raw_fps  # one tick's cameras, rendered raw
        print(f"{count} camera(s) {args.width}x{args.height} [{backend}]: world sensors {world_fps:.1f} frames/s "
              f"(ratio {world_fps / raw_fps:.2f}, goal >= 0.9), awaiting every tick {lockstep_fps:.1f} frames/s "
              f"(ratio {lockstep_fps / raw_fps:.2f}); raw render {raw_fps:.1f} frames/s; world step without "
              f"cameras {step_ms:.2f} ms/tick (ceiling with zero sensor overhead {raw_ms / (raw_ms + step_ms):.2f})")


if __name__ == "__main__":
    main()
