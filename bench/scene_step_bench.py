"""The world step alone on a reconstructed scene: ms per `world.tick()` with the logged traffic, no cameras.

Usage: python bench/scene_step_bench.py [--scene kitti] [--seconds 15] [--repeats 3]
Opens the scene through the public API (`recon_carla_bridge.Client(scene=...)`), parks an ego where the log
starts, and times the ticks in two windows: while the log plays (t < log end) and after it (the logged
vehicles drive on by lane following). Prints medians over `repeats` passes of each window. To compare two
checkouts under the same load, run it alternately with PYTHONPATH pointing at each.
"""
from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    """Parse arguments and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="kitti")
    parser.add_argument("--seconds", type=float, default=15.0, help="simulated seconds per pass")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import carla

    import recon_carla_bridge

    print("package:", recon_carla_bridge.__file__)
    during, after = [], []
    for _ in range(args.repeats):
        client = recon_carla_bridge.Client(scene=args.scene)
        world = client.get_world()
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
        world.apply_settings(settings)
        bundle = world.scene_bundle
        log_end = float(bundle.timestamps[-1] - bundle.timestamps[0])
        ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                                carla.Transform(carla.Location(0.0, 0.0, 0.3)))
        ego.set_simulate_physics(False)
        in_log, past_log = [], []
        for _ in range(int(round(args.seconds / 0.05))):
            started = time.perf_counter()
            world.tick()
            spent = time.perf_counter() - started
            (in_log if world.get_snapshot().timestamp.elapsed_seconds <= log_end else past_log).append(spent)
        during.append(1000.0 * sum(in_log) / max(len(in_log), 1))
        after.append(1000.0 * sum(past_log) / max(len(past_log), 1))
    print(f"world step, log playing: {statistics.median(during):.3f} ms/tick (passes: {', '.join(f'{v:.3f}' for v in during)})")
    print(f"world step, past the log: {statistics.median(after):.3f} ms/tick (passes: {', '.join(f'{v:.3f}' for v in after)})")


if __name__ == "__main__":
    main()
