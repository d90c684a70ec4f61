"""The world step alone on a reconstructed scene: ms per `world.tick()` with the logged traffic, no cameras.

Usage: python bench/scene_step_bench.py [--scene kitti] [--seconds 15] [--repeats 3]
Opens the scene through the public API (`recon_carla_bridge.Client(scene=...)`), parks an ego where the log
starts, and times the ticks in three windows: before any logged track ends (the same work in any version),
while the log plays, and after it (since session 6 the logged vehicles drive on by lane following instead
of vanishing: more work). Prints medians over `repeats` passes of each window. To compare two
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
    early, during, after = [], [], []
    for _ in range(args.repeats):
        client = recon_carla_bridge.Client(scene=args.scene)
        world = client.get_world()
        settings = world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
        world.apply_settings(settings)
        bundle = world.scene_bundle
        log_end = float(bundle.timestamps[-1] - bundle.timestamps[0])
        gaussians = world.gaussian_scene
        first_end = min(float(bundle.timestamps[min(int(a.frame_indices.max()), len(bundle.timestamps) - 1)]
                              - bundle.timestamps[0]) for a in gaussians.actors.values() if a.frame_indices.numel())
        ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                                carla.Transform(carla.Location(0.0, 0.0, 0.3)))
        ego.set_simulate_physics(False)
        before_ends, in_log, past_log = [], [], []
        for _ in range(int(round(args.seconds / 0.05))):
            started = time.perf_counter()
            world.tick()
            spent = time.perf_counter() - started
            now = world.get_snapshot().timestamp.elapsed_seconds
            (before_ends if now <= first_end else in_log if now <= log_end else past_log).append(spent)
        early.append(1000.0 * sum(before_ends) / max(len(before_ends), 1))
        during.append(1000.0 * sum(in_log) / max(len(in_log), 1))
        after.append(1000.0 * sum(past_log) / max(len(past_log), 1))
    print(f"world step, before any track ends: {statistics.median(early):.3f} ms/tick "
          f"(passes: {', '.join(f'{v:.3f}' for v in early)})")
    print(f"world step, log playing: {statistics.median(during):.3f} ms/tick (passes: {', '.join(f'{v:.3f}' for v in during)})")
    print(f"world step, past the log: {statistics.median(after):.3f} ms/tick (passes: {', '.join(f'{v:.3f}' for v in after)})")


if __name__ == "__main__":
    main()
