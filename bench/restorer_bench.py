"""Time per frame of the cameras with and without the scene's restorer, in one run (same scene, same poses).

    python bench/restorer_bench.py --restorer recon_carla_bridge/data/restorer/kitti_0013_cpu310 \
        --sizes 310x94,621x188 --cameras 1 --frames 10 --threads 2 --json docs/figures/restorer/bench_cpu.json
    # GPU (the GPU issue): 1 and 6 cameras at 800x450, gsplat + the restorer on CUDA
    python bench/restorer_bench.py --restorer recon_carla_bridge/data/restorer/kitti_0013_cpu310 \
        --sizes 800x450 --cameras 1,6 --frames 50 --device cuda --json docs/figures/restorer/bench_gpu.json

It drives the simulator's camera backend (`SplatBackend`) directly: the bundled kitti_0013 scene, cameras on the
logged ego trajectory (six around the ego, yaw 0, ±60, ±120, 180, when --cameras is 6), one tick per frame; splat-only
and splat + restorer (the restorer's per-camera temporal state on) alternate per size. Times are wall time per tick
and per camera image, after one warm-up tick.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: see recon_carla_bridge/__init__.py
import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _requests(bundle, frame: int, cameras: int, width: int, height: int, fov: float):
    """CameraRequests of `cameras` rgb cameras on the ego at log frame `frame` (CARLA frame)."""
    import carla

    from recon_carla_bridge.scene.scene_world import ego_start_transform, logged_camera_transform
    from recon_carla_bridge.sensors.camera import CameraRequest

    ego = np.array(ego_start_transform(bundle, frame).get_matrix())
    _, mount, _, _, _ = logged_camera_transform(bundle)
    yaws = [0.0] if cameras == 1 else [0.0, 60.0, -60.0, 120.0, -120.0, 180.0][:cameras]
    out = []
    for index, yaw in enumerate(yaws):
        turned = carla.Transform(mount.location, carla.Rotation(pitch=mount.rotation.pitch, yaw=mount.rotation.yaw + yaw, roll=mount.rotation.roll))
        out.append(CameraRequest("rgb", width, height, fov, ego @ np.array(turned.get_matrix()), True, index))
    return out


def main() -> None:
    """Time the ticks and print / store the table."""
    from recon_carla_bridge.paths import BUNDLED_SCENE_0013_DIR
    from recon_carla_bridge.recon.render import choose_backend
    from recon_carla_bridge.recon.scene_file import load_scene
    from recon_carla_bridge.restore import Restorer
    from recon_carla_bridge.restore.video import VideoRestorer
    from recon_carla_bridge.scene.bundle import load_scene_bundle
    from recon_carla_bridge.scene.scene_world import logged_camera_transform
    from recon_carla_bridge.scene.splat_backend import SplatBackend
    from recon_carla_bridge.sensors.camera import RenderSnapshot

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restorer", required=True)
    parser.add_argument("--scene", default=str(BUNDLED_SCENE_0013_DIR))
    parser.add_argument("--sizes", default="310x94,621x188")
    parser.add_argument("--cameras", default="1")
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    backend = "cpu" if args.device == "cpu" else ("gsplat" if args.device == "cuda" else "auto")
    device = "cuda" if choose_backend(backend) == "gsplat" else "cpu"
    bundle = load_scene_bundle(args.scene)
    scene = load_scene(bundle.scene_file, device=device)
    restorer = Restorer.load(args.restorer, device)
    _, _, fov, _, _ = logged_camera_transform(bundle)
    snapshot = RenderSnapshot(0, 0.0, None, (), frozenset())
    frames = list(range(10, 10 + args.frames))
    rows = []
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        for cameras in (int(c) for c in args.cameras.split(",")):
            for label, video in (("splat", None), ("splat+restorer", VideoRestorer(restorer))):
                camera_backend = SplatBackend(scene, backend, video)
                camera_backend.render(snapshot, _requests(bundle, frames[0] - 1, cameras, width, height, fov))  # warm-up
                if device == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                for frame in frames:
                    images = camera_backend.render(snapshot, _requests(bundle, frame, cameras, width, height, fov))
                    assert len(images) == cameras and images[0].shape == (height, width, 4)
                seconds = (time.perf_counter() - started) / len(frames)
                rows.append({"size": f"{width}x{height}", "cameras": cameras, "mode": label, "ms_per_tick": round(1000 * seconds, 1),
                             "ms_per_image": round(1000 * seconds / cameras, 1), "ticks_per_s": round(1 / seconds, 2)})
                print(f"{width}x{height} {cameras} camera(s) {label:15s} {1000 * seconds:8.1f} ms/tick  {1 / seconds:6.2f} ticks/s", flush=True)
    result = {"device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} torch threads)",
              "restorer": args.restorer, "restorer_resolution": f"{restorer.config.width}x{restorer.config.height}",
              "restorer_steps": len(restorer.config.timesteps), "scene": args.scene, "frames": len(frames), "rows": rows}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
