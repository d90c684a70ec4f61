"""Frames/s of a low-resolution rgb camera on the CPU with and without the level of detail (`scene.splat_lod`), and
the PSNR of the reduced image against the full one, at poses along the scene's logged drive and past it.

    PYTHONPATH=. python bench/lod_bench.py --scene kitti --width 64 --height 32 --rounds 5
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    """Print one JSON line: frames/s full and reduced (medians over rounds, alternating), Gaussians, PSNR."""
    import carla
    import numba
    import torch

    from recon_carla_bridge.recon.metrics import psnr
    from recon_carla_bridge.scene.scene_world import ego_start_transform, open_scene_world
    from recon_carla_bridge.sensors.camera import CameraRequest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="kitti")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    world = open_scene_world(args.scene, render_backend="cpu")
    backend = world.simulation.camera_backend
    world.tick()
    snapshot = world.simulation.render_snapshot()
    start = ego_start_transform(world.scene_bundle)
    yaw = np.radians(start.rotation.yaw)
    requests = [CameraRequest("rgb", args.width, args.height, 90.0, np.array(carla.Transform(
        carla.Location(start.location.x + d * np.cos(yaw), start.location.y + d * np.sin(yaw), start.location.z + 1.6),
        start.rotation).get_matrix()), restore=False) for d in (1.5, 6.5, 11.5, 21.5)]

    def frames(lod: bool) -> tuple[float, list[np.ndarray]]:
        backend.lod = lod
        began = time.perf_counter()
        images = [backend.render(snapshot, [request])[0] for request in requests]
        return len(requests) / (time.perf_counter() - began), images

    frames(True), frames(False)  # compile, build the level
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for lod in (False, True):
            rates[lod].append(frames(lod)[0])
    _, full = frames(False)
    _, reduced = frames(True)
    to_rgb = lambda image: torch.as_tensor(image[..., 2::-1].astype(np.float32) / 255.0)  # noqa: E731
    voxel = backend.level_of(requests[0])
    level = backend.scene_for(voxel)
    count = lambda scene: scene.background.count + scene.actor_pack[0].count  # noqa: E731
    print(json.dumps({"scene": args.scene, "size": [args.width, args.height], "voxel_m": voxel,
                      "gaussians_full": count(backend.scene), "gaussians_level": count(level),
                      "frames_per_s_full": float(np.median(rates[False])), "frames_per_s_level": float(np.median(rates[True])),
                      "psnr_db": [round(psnr(to_rgb(a), to_rgb(b)), 2) for a, b in zip(reduced, full)],
                      "threads": args.threads}))


if __name__ == "__main__":
    main()
