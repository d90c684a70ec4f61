"""Score a trained scene on its SceneLog's held-out frames, as the simulator renders it (CPU, no training).

Held-out frames are every 8th (0, 8, ...) unless --holdout / --train-frames name another split (as for
`recon-carla reconstruct`; --train-frames 0-79 scores frames 80 on, each with its distance beyond the last
training pose along the ego path); the cameras ride the scene's refined ego trajectory and the
actors their refined tracks, exactly as `recon-carla reconstruct` scores its export. Use it to score a
scene against the log's own (lossless) images when it was trained elsewhere on copies of them:

  python tools/score_scene.py SCENE_LOG_DIR SCENE.gs [--holdout every:8] [--train-frames 0-79] [--metrics-json M.json]

--metrics-json updates that file's psnr_as_simulated, ssim_as_simulated, psnr_per_view_as_simulated and
adds ssim_per_view_as_simulated, psnr_logged_ego_poses (the same renders on the log's unrefined ego poses),
scored_frames, metres_beyond_training (with --train-frames) and scored_against.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path


def main() -> None:
    """Print (and optionally store) the held-out PSNR/SSIM of SCENE.gs on SCENE_LOG_DIR."""
    from recon_carla_bridge.ingest.scenelog import load_scene_log
    import numpy as np

    from recon_carla_bridge.recon.log_views import held_out_split, list_views
    from recon_carla_bridge.recon.scene_file import load_scene
    from recon_carla_bridge.recon.train import evaluate_scene
    from recon_carla_bridge.recon.train_data import load_view_tensors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene_log")
    parser.add_argument("scene")
    parser.add_argument("--holdout", default="auto", help="every:N, frames:A-B, none or auto (see recon-carla reconstruct)")
    parser.add_argument("--train-frames", default="", help="the frames the scene was trained on, e.g. 0-79")
    parser.add_argument("--metrics-json", type=Path, default=None)
    args = parser.parse_args()
    log, scene = load_scene_log(args.scene_log), load_scene(args.scene)
    held = held_out_split(len(log.frames), args.holdout, args.train_frames)
    views = load_view_tensors(log, [v for v in list_views(log, held) if v.held_out], lidar=False)
    simulated = evaluate_scene(scene, views, "cpu")
    frames = [v.view.frame_index for v in views]
    beyond: list[float] = []
    if args.train_frames.strip():
        last_trained = int(np.nonzero(~held)[0].max())
        path = log.ego_positions()
        steps = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
        beyond = [round(float(steps[f] - steps[last_trained]), 2) for f in frames]
    for index, frame in enumerate(frames):
        extra = f"  {beyond[index]:6.2f} m beyond training" if beyond else ""
        print(f"frame {frame:3d}: PSNR {simulated['psnr_per_view'][index]:6.2f} dB  "
              f"SSIM {simulated['ssim_per_view'][index]:.4f}{extra}")
    logged = evaluate_scene(dataclasses.replace(scene, ego_poses=None), views, "cpu")
    print(f"as simulated: PSNR {simulated['psnr']:.2f} dB, SSIM {simulated['ssim']:.4f} over {len(views)} held-out views; "
          f"on the log's unrefined ego poses: {logged['psnr']:.2f} dB")
    if args.metrics_json is not None:
        metrics = json.loads(args.metrics_json.read_text(encoding="utf-8")) if args.metrics_json.is_file() else {}
        metrics.update({
            "psnr_as_simulated": simulated["psnr"], "ssim_as_simulated": simulated["ssim"],
            "psnr_per_view_as_simulated": simulated["psnr_per_view"],
            "ssim_per_view_as_simulated": simulated["ssim_per_view"], "psnr_logged_ego_poses": logged["psnr"],
            "scored_frames": frames, "holdout": args.holdout, "train_frames": args.train_frames, "metres_beyond_training": beyond,
            "scored_against": f"the images of the SceneLog {log.name!r} ({views[0].view.image_path.rsplit('.', 1)[-1]})",
        })
        args.metrics_json.write_text(json.dumps(metrics, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
