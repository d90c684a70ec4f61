"""Score a restorer where real ground truth exists and the views were never trained on: forward extrapolation.

  PYTHONPATH=. python tools/eval_restorer.py SCENE_LOG SCENE.gs RESTORER_DIR --train-frames 0-79 \
      --warmup 60-79 --frames 80-99 --out docs/figures/restorer [--progressive SCENE2.gs]

The scene (trained on --train-frames only) is rendered as the simulator renders it (the cameras on its refined ego
trajectory, its actor tracks, its road plane) at the restorer's resolution over the --warmup and --frames frames in
order; the restorer runs over them as a video (one camera: each frame conditioned on its previous output), and
the --frames frames are scored against the real ones. Writes OUT/extrapolation.json (per-frame PSNR/SSIM raw vs
restored [vs a progressive-update scene], metres beyond the last training pose, means over the scored frames and
over --mean-from onwards, the gain's slope against distance, flicker: mean absolute frame-to-frame change of each
video and of the real one), OUT/extrapolation.png (gain and flicker figures), OUT/strip.png (GT / raw / restored
of --strip-frames) and OUT/lateral.png (raw vs restored with the camera shifted sideways by --shifts metres at
--lateral-frames; no ground truth there, for the eye).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _video(restorer, renders: list, previous_on: bool = True) -> list:
    """Restored frames [H, W, 3] of consecutive renders (RenderOutput of one camera) through a VideoRestorer."""
    from recon_carla_bridge.restore.video import VideoRestorer

    video = VideoRestorer(restorer)
    out = []
    for output in renders:
        if not previous_on:
            video.reset()
        out.append(video(output.rgb, output.alpha, output.depth, ["camera"])[0].cpu())
    return out


def _tile(images: list[list[np.ndarray]], labels: list[str], path: Path, row_labels: list[str]) -> None:
    """A PNG grid of float images [H, W, 3] (rows x columns) with column and row labels."""
    from PIL import Image, ImageDraw

    height, width = images[0][0].shape[:2]
    margin, top = 70, 14
    canvas = Image.new("RGB", (margin + width * len(labels), top + height * len(images)), "white")
    draw = ImageDraw.Draw(canvas)
    for column, label in enumerate(labels):
        draw.text((margin + column * width + 4, 1), label, fill="black")
    for row, row_images in enumerate(images):
        draw.text((2, top + row * height + height // 2 - 6), row_labels[row], fill="black")
        for column, image in enumerate(row_images):
            tile = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
            canvas.paste(tile, (margin + column * width, top + row * height))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)  # small for the repository


def main() -> None:
    """Run the evaluation and write its JSON and PNGs."""
    import torch

    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.log_views import held_out_split
    from recon_carla_bridge.recon.metrics import psnr, ssim
    from recon_carla_bridge.recon.scene_file import load_scene
    from recon_carla_bridge.restore import Restorer
    from recon_carla_bridge.restore.pairs import camera_offset, frame_list, log_views, render_views

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene_log")
    parser.add_argument("scene")
    parser.add_argument("restorer")
    parser.add_argument("--train-frames", default="0-79")
    parser.add_argument("--warmup", default="60-79", help="frames run through the restorer (in frame order with the "
                        "scored ones) but not scored")
    parser.add_argument("--frames", default="80-99", help="scored frames")
    parser.add_argument("--mean-from", type=int, default=85, help="also average over scored frames from this one on")
    parser.add_argument("--progressive", default=None, help="a scene trained with progressive data update, scored too")
    parser.add_argument("--strip-frames", default="82,88,94,99")
    parser.add_argument("--lateral-frames", default="40,90")
    parser.add_argument("--shifts", default="0,1.5,3")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/restorer"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    log = load_scene_log(args.scene_log)
    restorer = Restorer.load(args.restorer)
    width = restorer.config.width
    scored = frame_list(args.frames, len(log.frames))
    sequence = sorted(set(frame_list(args.warmup, len(log.frames))) | set(scored))  # the video runs in frame order
    views = log_views(log, sequence, width)
    scene = load_scene(args.scene)
    renders = [output for _, output in render_views(scene, views)]
    restored = _video(restorer, renders)
    stateless = _video(restorer, renders, previous_on=False)
    real = [v.image.float() / 255.0 for v in views]
    at = {v.view.frame_index: i for i, v in enumerate(views)}
    rows = {"raw": [renders[i].rgb[0] for i in range(len(views))], "restored": restored, "restored_no_temporal_input": stateless}
    if args.progressive:
        progressive = [output for _, output in render_views(load_scene(args.progressive), views)]
        rows["progressive"] = [p.rgb[0] for p in progressive]
        rows["progressive_restored"] = _video(restorer, progressive)

    trained = ~held_out_split(len(log.frames), "none", args.train_frames)
    last = int(np.nonzero(trained)[0].max())
    path = log.ego_positions()
    steps = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))]
    beyond = [round(float(steps[f] - steps[last]), 2) for f in scored]
    result: dict = {"scene_log": log.name, "scene": args.scene, "restorer": args.restorer, "resolution": f"{width}x{restorer.config.height}",
                    "train_frames": args.train_frames, "warmup_frames": args.warmup, "frames": scored, "metres_beyond_training": beyond}
    late = [i for i, f in enumerate(scored) if f >= args.mean_from]
    for name, images in rows.items():
        p = [round(psnr(images[at[f]], real[at[f]]), 3) for f in scored]
        s = [round(float(ssim(images[at[f]].float(), real[at[f]])), 4) for f in scored]
        result[name] = {"psnr": p, "ssim": s, "mean_psnr": round(float(np.mean(p)), 3), "mean_ssim": round(float(np.mean(s)), 4),
                        f"mean_psnr_{args.mean_from}_on": round(float(np.mean([p[i] for i in late])), 3),
                        f"mean_ssim_{args.mean_from}_on": round(float(np.mean([s[i] for i in late])), 4)}
    gain = np.array(result["restored"]["psnr"]) - np.array(result["raw"]["psnr"])
    result["gain_psnr"] = [round(float(g), 3) for g in gain]
    result["gain_slope_db_per_10m"] = round(float(np.polyfit(beyond, gain, 1)[0] * 10), 3)
    flicker = {}
    consecutive = [f for f in scored if f - 1 in at]
    result["flicker_frames"] = consecutive
    for name, images in {"real": real, **rows}.items():
        changes = [float((images[at[f]].float() - images[at[f - 1]].float()).abs().mean()) for f in consecutive]
        flicker[name] = round(float(np.mean(changes)), 4)
        result.setdefault("flicker_per_frame", {})[name] = [round(c, 4) for c in changes]
    result["flicker_mean_abs_change"] = flicker
    args.out.mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for name in rows:
        axes[0].plot(beyond, result[name]["psnr"], marker=".", label=name)
    axes[0].set(xlabel="metres beyond the last training pose", ylabel="PSNR dB", title=f"{log.name[:22]}: frames {args.frames}")
    axes[0].legend(fontsize=7)
    axes[1].bar(beyond, gain, width=0.8)
    axes[1].set(xlabel="metres beyond training", ylabel="restored - raw, dB", title=f"gain (slope {result['gain_slope_db_per_10m']:+.2f} dB/10 m)")
    for name, values in result["flicker_per_frame"].items():
        axes[2].plot(consecutive, values, marker=".", label=f"{name} ({flicker[name]:.3f})")
    axes[2].set(xlabel="frame", ylabel="mean |frame - previous|", title="flicker")
    axes[2].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.out / "extrapolation.png", dpi=80)

    strip = [int(f) for f in args.strip_frames.split(",")]
    columns = ["real", "raw splat", "splat + restorer"] + (["progressive", "progressive + restorer"] if args.progressive else [])
    grid = [[real[at[f]].numpy(), rows["raw"][at[f]].numpy(), restored[at[f]].numpy()]
            + ([rows["progressive"][at[f]].numpy(), rows["progressive_restored"][at[f]].numpy()] if args.progressive else [])
            for f in strip]
    _tile(grid, columns, args.out / "strip.png", [f"frame {f}\n{beyond[scored.index(f)]:.0f} m" for f in strip])

    shifts = [float(s) for s in args.shifts.split(",")]
    lateral_rows, labels = [], []
    for frame in (int(f) for f in args.lateral_frames.split(",")):
        view = log_views(log, [frame], width)
        for shift in shifts:
            (_, output), = render_views(scene, view, camera_offset(shift, 0.0))
            fixed = _video(restorer, [output])[0]
            lateral_rows.append([output.rgb[0].numpy(), fixed.numpy()])
            labels.append(f"f{frame} {shift:+.1f} m")
    _tile(lateral_rows, ["raw splat", "splat + restorer"], args.out / "lateral.png", labels)
    (args.out / "extrapolation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    for name in rows:
        print(f"{name:28s} PSNR {result[name]['mean_psnr']:6.2f} dB  SSIM {result[name]['mean_ssim']:.4f}   frames {args.mean_from}+: "
              f"{result[name][f'mean_psnr_{args.mean_from}_on']:6.2f} dB  {result[name][f'mean_ssim_{args.mean_from}_on']:.4f}")
    print(f"gain per frame {result['gain_psnr']}; slope {result['gain_slope_db_per_10m']:+.2f} dB per 10 m; flicker {flicker}")


if __name__ == "__main__":
    main()
