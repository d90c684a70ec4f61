"""Render benchmark of the bundled (or a given) GaussianScene.

Prints CPU frames/s at 621x188 with 2 threads (numba rasterizer), and on CUDA gsplat frames/s for 1
and 6 cameras at 800x450, plus how closely the CPU and gsplat renders agree.

    python bench/render_bench.py [--scene recon_carla_bridge/data/kitti_scene/scene.gs] [--frames 20]

Cameras: the log's front camera at the logged ego poses (from the scene log's scene.json next to the
scene file) for the CPU numbers; six 90-degree cameras around the ego (yaw 0, ±60, ±120, 180) for 6 cams.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recon_carla_bridge.paths import BUNDLED_SCENE_DIR
from recon_carla_bridge.recon.camera import CameraBatch, intrinsics_from_fov
from recon_carla_bridge.recon.render import render
from recon_carla_bridge.recon.scene_file import load_scene


def log_cameras(scene_json: Path) -> tuple[list[int], list[np.ndarray], np.ndarray, np.ndarray, int, int]:
    """Frame indices, world_from_ego poses, ego_from_camera, K, width, height of the first camera in a scene.json."""
    doc = json.loads(scene_json.read_text())
    name, calib = next(iter(doc["cameras"].items()))
    frames = [f for f in doc["frames"] if name in f["cameras"]]
    return (
        [f["index"] for f in frames],
        [np.array(f["world_from_ego"]) for f in frames],
        np.array(calib["ego_from_camera"]),
        np.array(calib["K"]),
        int(calib["width"]),
        int(calib["height"]),
    )


def ring_of_cameras(world_from_ego: np.ndarray, ego_from_camera: np.ndarray, count: int, width: int, height: int) -> CameraBatch:
    """`count` cameras at the front camera's mounting point, yawed evenly around the ego z axis, 90 deg fov."""
    poses = []
    for i in range(count):
        yaw = 2 * math.pi * i / count if count > 1 else 0.0
        rotation = np.eye(4)
        rotation[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
        poses.append(world_from_ego @ rotation @ ego_from_camera)
    return CameraBatch.from_numpy(np.stack(poses), intrinsics_from_fov(width, height, 90.0), width, height)


def bench_cpu(scene, cameras: list[CameraBatch], poses: list[dict], threads: int) -> float:
    """Frames/s of the CPU backend over `cameras` (after 2 warm-up frames)."""
    from recon_carla_bridge.recon.raster_cpu import set_threads

    torch.set_num_threads(threads)
    set_threads(threads)
    for camera, pose in list(zip(cameras, poses))[:2]:
        render(scene, camera, pose, backend="cpu")
    start = time.perf_counter()
    for camera, pose in zip(cameras, poses):
        render(scene, camera, pose, backend="cpu")
    return len(cameras) / (time.perf_counter() - start)


def bench_gsplat(scene, camera: CameraBatch, pose: dict, repeats: int = 50) -> float:
    """Renders/s (each of all cameras in `camera`) of the gsplat backend."""
    for _ in range(5):
        render(scene, camera, pose, backend="gsplat")
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        render(scene, camera, pose, backend="gsplat")
    torch.cuda.synchronize()
    return repeats / (time.perf_counter() - start)


def agreement(scene, camera: CameraBatch, pose: dict, cuda_scene) -> dict[str, float]:
    """CPU vs gsplat on one camera: mean/max |rgb| difference, depth relative difference, semantic agreement."""
    cpu = render(scene, camera, pose, backend="cpu")
    gpu = render(cuda_scene, camera, {k: v.cuda() for k, v in pose.items()}, backend="gsplat")
    rgb = (cpu.rgb - gpu.rgb.cpu()).abs()
    solid = (cpu.alpha > 0.5) & (gpu.alpha.cpu() > 0.5)
    depth = ((cpu.depth - gpu.depth.cpu()).abs() / gpu.depth.cpu().clamp_min(1e-3))[solid]
    return {
        "rgb_mean_abs": float(rgb.mean()),
        "rgb_p99_abs": float(torch.quantile(rgb.flatten()[::7], 0.99)),
        "rgb_max_abs": float(rgb.max()),
        "depth_median_rel": float(depth.median()) if depth.numel() else 0.0,
        "semantic_agree": float((cpu.semantic == gpu.semantic.cpu()).float().mean()),
    }


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default=str(BUNDLED_SCENE_DIR / "scene.gs"), help="a .gs file (scene.json beside it)")
    parser.add_argument("--frames", type=int, default=20, help="CPU frames to time")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    args = parser.parse_args()
    scene_path = Path(args.scene)
    scene = load_scene(scene_path)
    frames, ego_poses, ego_from_camera, K, width, height = log_cameras(scene_path.parent / "scene.json")
    picks = np.linspace(0, len(frames) - 1, args.frames).astype(int)
    cameras = [CameraBatch.from_numpy(ego_poses[i] @ ego_from_camera, K, width, height).scaled(621, 188) for i in picks]
    poses = [scene.logged_actor_poses(frames[i]) for i in picks]
    print(f"scene: {scene_path} ({scene.gaussian_count()} Gaussians: {scene.background.count} background, {len(scene.actors)} actors)")
    fps = bench_cpu(scene, cameras, poses, args.threads)
    print(f"cpu  621x188, {args.threads} threads: {fps:.2f} frames/s")
    if torch.cuda.is_available():
        agree = agreement(scene, cameras[len(cameras) // 2], poses[len(poses) // 2], load_scene(scene_path, device="cuda"))
        scene = load_scene(scene_path, device="cuda")
        middle = len(frames) // 2
        pose = scene.logged_actor_poses(frames[middle])  # on the GPU, like the scene
        for count in (1, 6):
            batch = ring_of_cameras(ego_poses[middle], ego_from_camera, count, 800, 450)
            print(f"gsplat 800x450, {count} camera(s): {bench_gsplat(scene, batch, pose):.1f} renders/s "
                  f"({torch.cuda.get_device_name()})")
        print("cpu vs gsplat (621x188):", json.dumps({k: round(v, 5) for k, v in agree.items()}))
    else:
        print("gsplat: no CUDA device, skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
