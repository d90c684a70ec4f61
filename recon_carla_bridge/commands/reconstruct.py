"""`recon-carla reconstruct SCENE_DIR --out scene.gs`: train a GaussianScene from a SceneLog."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.train import TrainConfig


CPU_DEFAULT_SCALE = 1 / 3  # KITTI's 1242x375 -> 414x125: a few steps per second on 2 cores


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `reconstruct` sub-command."""
    parser = subparsers.add_parser(
        "reconstruct",
        help="train a Gaussian-splat scene (background + actors + sky) from a SceneLog",
        description="Train a GaussianScene from a SceneLog folder; every 8th frame is held out (or the split "
        "--holdout/--train-frames name) and its PSNR/SSIM printed. gsplat on CUDA; without CUDA the numba CPU "
        "rasterizer, at a reduced resolution (default a third of the images' size).",
    )
    parser.add_argument("scene_dir", help="SceneLog folder (scene.json, images/, lidar/)")
    parser.add_argument("--out", required=True, help="output .gs file")
    parser.add_argument("--iters", type=int, default=30_000, help="training steps (default 30000)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="auto (default: cuda when available, else cpu), cuda (gsplat) or cpu (numba rasterizer)")
    parser.add_argument("--resolution-scale", type=float, default=None,
                        help=f"train and score at this fraction of the image size (default 1 on CUDA, "
                        f"{CPU_DEFAULT_SCALE:.3g} on the CPU)")
    parser.add_argument("--width", type=int, default=None, help="train and score at this image width (aspect kept)")
    parser.add_argument("--holdout", default="auto",
                        help="held-out frames: every:N, frames:A-B, none or auto (default: every:8, none with --train-frames)")
    parser.add_argument("--train-frames", default="", help="train only on these frames, e.g. 0-79; the rest are held out")
    parser.add_argument("--eval-every-minutes", type=float, default=0.0,
                        help="also score the held-out frames every this many minutes (into the metrics' progress list)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    parser.add_argument("--cap-max", type=int, default=None, help="most Gaussians (bounds the file size)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--metrics-json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--preview-dir", default=None, help="write held-out and moved-actor PNGs here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a TrainConfig setting, e.g. --set camera_reg=0.01 (repeatable; "
                        "see recon/train.py TrainConfig for the fields)")
    progressive = parser.add_argument_group(
        "progressive data update", "continue a reconstruction with restored novel views as pseudo ground truth (ReconDreamer)")
    progressive.add_argument("--progressive-from", default=None, metavar="SCENE.gs",
                             help="start from this reconstruction; render its novel views, restore them with --restorer "
                             "and train on them beside the log's views")
    progressive.add_argument("--restorer", default=None, help="restorer folder (recon-carla train-restorer), at the training resolution")
    progressive.add_argument("--pseudo-lateral", default="-1.5,1.5", help="sideways shifts in metres (default -1.5,1.5)")
    progressive.add_argument("--pseudo-stride", type=int, default=4, help="lateral views at every this many training frames")
    progressive.add_argument("--pseudo-forward", type=int, default=8, help="forward views beyond the last training frame")
    progressive.add_argument("--pseudo-forward-step", type=float, default=2.0, help="metres between forward views")
    progressive.add_argument("--pseudo-weight", type=float, default=0.5, help="loss weight of a pseudo view (real: 1)")
    parser.set_defaults(func=handler)


OWN_FLAGS = ("device", "iterations", "seed", "max_minutes", "resolution_scale", "width", "holdout", "train_frames",
             "eval_every_minutes")  # TrainConfig fields set by their own options


def apply_overrides(config: "TrainConfig", overrides: list[str]) -> "TrainConfig":
    """`config` with each "field=value" of `overrides` applied (value parsed as the field's type; "init.field"
    sets a field of the LiDAR initialisation settings); an unknown field, a missing '=' or a value of the
    wrong type is an InputError naming it."""
    import dataclasses

    from recon_carla_bridge.errors import InputError

    changes: dict[str, object] = {}
    init_changes: dict[str, object] = {}
    for item in overrides:
        name, equals, raw = item.partition("=")
        name = name.strip()
        if not equals:
            raise InputError(f"--set {item!r}: expected FIELD=VALUE")
        target, field, into = (config.init, name[5:], init_changes) if name.startswith("init.") else (config, name, changes)
        settable = sorted(f.name for f in dataclasses.fields(target)
                          if f.name not in OWN_FLAGS and not dataclasses.is_dataclass(getattr(target, f.name))
                          and not isinstance(getattr(target, f.name), tuple))
        if field not in settable:
            raise InputError(f"--set {item!r}: unknown or not settable field {name!r}; settable: {', '.join(settable)}"
                             + ("" if target is config.init else " (and init.FIELD for the LiDAR initialisation)"))
        current = getattr(target, field)
        kind = type(current) if current is not None else float
        try:
            into[field] = kind(raw) if kind is not bool else raw.strip().lower() in ("1", "true", "yes", "on")
        except ValueError:
            raise InputError(f"--set {item!r}: {raw!r} is not a valid {kind.__name__} for {name}") from None
    if init_changes:
        changes["init"] = dataclasses.replace(config.init, **init_changes)
    return dataclasses.replace(config, **changes)


def choose_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a CUDA device, else "cpu"; other choices unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def handler(args: argparse.Namespace) -> int:
    """Run the reconstruction; returns the exit code."""
    import dataclasses

    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.scene_file import save_scene
    from recon_carla_bridge.recon.train import TrainConfig, train

    if args.iters < 1:
        raise InputError(f"--iters: must be at least 1, got {args.iters}")
    if args.width is not None and args.width < 1:
        raise InputError(f"--width: must be at least 1, got {args.width}")
    if args.resolution_scale is not None and not 0 < args.resolution_scale <= 4:
        raise InputError(f"--resolution-scale: must be in (0, 4], got {args.resolution_scale}")
    log = load_scene_log(args.scene_dir)
    device = choose_device(args.device)
    scale = args.resolution_scale if args.resolution_scale is not None else (1.0 if device == "cuda" else CPU_DEFAULT_SCALE)
    if device == "cpu":
        why = "--device cpu" if args.device == "cpu" else "no CUDA device"
        size = f"width {args.width}" if args.width else f"scale {scale:.3g}"
        print(f"reconstruct: {why}: training on the CPU with the numba rasterizer at {size} of the images "
              f"(--resolution-scale / --width to change)")
    config = TrainConfig(iterations=args.iters, device=device, max_minutes=args.max_minutes, seed=args.seed,
                         resolution_scale=scale, width=args.width or 0, holdout=args.holdout,
                         train_frames=args.train_frames, eval_every_minutes=args.eval_every_minutes)
    if args.cap_max is not None:
        config = dataclasses.replace(config, cap_max=args.cap_max)
    config = apply_overrides(config, args.set)
    initial, pseudo = _progressive(args, log, config) if args.progressive_from else (None, [])
    result = train(log, config, scene=initial, pseudo_views=pseudo)
    scene = result.scene
    scene.metadata.update(
        {
            "held_out_psnr": f"{result.metrics['psnr']:.3f}",
            "held_out_ssim": f"{result.metrics['ssim']:.4f}",
            "iterations": str(result.metrics["iterations"]),
            "train_seconds": str(result.metrics["train_seconds"]),
            "train_resolution": result.metrics["resolution"],
            "train_backend": result.metrics["backend"],
        }
    )
    size = save_scene(scene, args.out)
    result.metrics["file_bytes"] = size
    result.metrics["background_gaussians"] = scene.background.count
    result.metrics["actor_gaussians"] = scene.gaussian_count() - scene.background.count
    print(
        f"wrote {args.out}: {size / 2**20:.2f} MiB, {scene.gaussian_count()} Gaussians "
        f"({scene.background.count} background, {len(scene.actors)} actors); "
        f"held-out PSNR {result.metrics['psnr']:.2f} dB SSIM {result.metrics['ssim']:.4f}; "
        f"trained {result.metrics['iterations']} steps in {result.metrics['train_seconds']} s"
    )
    if args.metrics_json:
        Path(args.metrics_json).write_text(json.dumps(result.metrics, indent=1))
    if args.preview_dir:
        from recon_carla_bridge.recon.preview import write_previews

        for path in write_previews(scene, log, args.preview_dir, backend="auto"):
            print(f"preview: {path}")
    return 0


def _progressive(args: argparse.Namespace, log, config: "TrainConfig") -> tuple:
    """(initial scene, pseudo views) of the progressive data update (`restore.progressive`)."""
    import numpy as np

    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.recon.log_views import held_out_split, scaled_size
    from recon_carla_bridge.recon.scene_file import load_scene
    from recon_carla_bridge.restore import Restorer
    from recon_carla_bridge.restore.pairs import log_views
    from recon_carla_bridge.restore.progressive import ProgressiveConfig, pseudo_views

    if not args.restorer:
        raise InputError("--progressive-from needs --restorer (the restorer that restores the novel views)")
    if not 0.0 < args.pseudo_weight <= 1.0 or args.pseudo_stride < 1 or args.pseudo_forward < 0:
        raise InputError("--pseudo-weight must be in (0, 1], --pseudo-stride at least 1, --pseudo-forward at least 0")
    try:
        lateral = tuple(float(v) for v in args.pseudo_lateral.split(",") if v.strip())
    except ValueError:
        raise InputError(f"--pseudo-lateral {args.pseudo_lateral!r}: expected metres like -1.5,1.5") from None
    calib = next(iter(log.cameras.values()))
    width, height = scaled_size(calib.width, calib.height, config.resolution_scale, config.width)
    restorer = Restorer.load(args.restorer, resolution=(width, height))
    trained = np.nonzero(~held_out_split(len(log.frames), config.holdout, config.train_frames))[0]
    views = log_views(log, [int(f) for f in trained], width)
    scene = load_scene(args.progressive_from)
    settings = ProgressiveConfig(lateral, args.pseudo_stride, args.pseudo_forward, args.pseudo_forward_step, args.pseudo_weight)
    pseudo = pseudo_views(scene, views, restorer, settings)
    print(f"reconstruct: progressive update from {args.progressive_from}: {len(pseudo)} restored pseudo views "
          f"(lateral {list(lateral)} m every {args.pseudo_stride} frames, {args.pseudo_forward} forward x "
          f"{args.pseudo_forward_step} m) at weight {args.pseudo_weight}")
    return scene, pseudo
