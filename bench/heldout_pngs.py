"""Side-by-side PNGs and per-frame scores of a trained scene on chosen frames of its SceneLog.

    python bench/heldout_pngs.py SCENE.gs SCENE_DIR --frames 8,40,80,90,99 --width 310 --out DIR
        [--train-frames 0-79]

For each frame: the logged image above the scene's render (as the simulator renders it: the scene's
refined ego and actor trajectories, the road plane, no per-frame colour), both at the given width, into
DIR/frame_NNNN.png; prints PSNR, SSIM and, with --train-frames, the frame's distance beyond the nearest
training pose (forward extrapolation).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    """Render the frames, write the PNGs, print the table."""
    import torch

    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.log_views import _frame_ranges, load_view_image, list_views, scaled_size, scaled_view
    from recon_carla_bridge.recon.metrics import psnr, ssim
    from recon_carla_bridge.recon.preview import _camera, stack_rows, to_uint8
    from recon_carla_bridge.recon.render import ground_plane, render
    from recon_carla_bridge.recon.scene_file import load_scene

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene")
    parser.add_argument("scene_dir")
    parser.add_argument("--frames", required=True, help="comma-separated frame indices")
    parser.add_argument("--width", type=int, default=310)
    parser.add_argument("--train-frames", default="", help="the frames the scene was trained on (for distances)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    scene, log = load_scene(args.scene), load_scene_log(args.scene_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    positions = log.ego_positions()
    trained = _frame_ranges(args.train_frames, len(log.frames), "--train-frames") if args.train_frames else None
    ground = ground_plane(scene)
    views = {v.frame_index: v for v in list_views(log)}
    print("frame  distance_m  psnr_dB  ssim")
    for frame in (int(f) for f in args.frames.split(",")):
        view = views[frame]
        width, height = scaled_size(view.width, view.height, target_width=args.width)
        target = torch.from_numpy(load_view_image(scaled_view(view, width, height)))
        camera = _camera(scene, log, frame, view.camera).scaled(width, height)
        rgb = render(scene, camera, scene.logged_actor_poses(frame), "auto", ground).rgb[0].cpu()
        stack_rows([to_uint8(target), to_uint8(rgb)], str(out / f"frame_{frame:04d}.png"))
        distance = float(np.linalg.norm(positions[trained] - positions[frame], axis=1).min()) if trained is not None else float("nan")
        print(f"{frame:5d}  {distance:10.2f}  {psnr(rgb, target):7.2f}  {float(ssim(rgb, target)):.4f}")


if __name__ == "__main__":
    main()
