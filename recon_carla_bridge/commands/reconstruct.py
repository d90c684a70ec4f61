"""`recon-carla reconstruct SCENE_DIR --out scene.gs`: train a GaussianScene from a SceneLog."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.train import TrainConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `reconstruct` sub-command."""
    parser = subparsers.add_parser(
        "reconstruct",
        help="train a Gaussian-splat scene (background + actors + sky) from a SceneLog",
        description="Train a GaussianScene from a SceneLog folder; every 8th frame is held out and "
        "its PSNR/SSIM printed. gsplat on CUDA; --device cpu runs the tiny-scene reference path.",
    )
    parser.add_argument("scene_dir", help="SceneLog folder (scene.json, images/, lidar/)")
    parser.add_argument("--out", required=True, help="output .gs file")
    parser.add_argument("--iters", type=int, default=30_000, help="training steps (default 30000)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cuda (gsplat) or cpu (tiny scenes)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
    parser.add_argument("--cap-max", type=int, default=None, help="most Gaussians (bounds the file size)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--holdout", default="every:8",
                        help="held-out split: every:N (every N-th frame, interpolation; default every:8) or "
                        "after:K (train on frames 0..K, score the later ones: forward extrapolation)")
    parser.add_argument("--metrics-json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--preview-dir", default=None, help="write held-out and moved-actor PNGs here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a TrainConfig setting, e.g. --set camera_reg=0.01 (repeatable; "
                        "see recon/train.py TrainConfig for the fields)")
    parser.set_defaults(func=handler)


OWN_FLAGS = ("device", "iterations", "seed", "max_minutes", "holdout")  # TrainConfig fields set by their own options


def apply_overrides(config: "TrainConfig", overrides: list[str]) -> "TrainConfig":
    """`config` with each "field=value" of `overrides` applied (value parsed as the field's type);
    an unknown field, a missing '=' or a value of the wrong type is an InputError naming it."""
    import dataclasses

    from recon_carla_bridge.errors import InputError

    settable = sorted(f.name for f in dataclasses.fields(config)
                      if f.name not in OWN_FLAGS and not dataclasses.is_dataclass(getattr(config, f.name)))
    changes: dict[str, object] = {}
    for item in overrides:
        name, equals, raw = item.partition("=")
        name = name.strip()
        if not equals:
            raise InputError(f"--set {item!r}: expected FIELD=VALUE")
        if name not in settable:
            raise InputError(f"--set {item!r}: unknown or not settable field {name!r}; settable: {', '.join(settable)}")
        current = getattr(config, name)
        kind = type(current) if current is not None else float
        try:
            changes[name] = kind(raw) if kind is not bool else raw.strip().lower() in ("1", "true", "yes", "on")
        except ValueError:
            raise InputError(f"--set {item!r}: {raw!r} is not a valid {kind.__name__} for {name}") from None
    return dataclasses.replace(config, **changes)


def handler(args: argparse.Namespace) -> int:
    """Run the reconstruction; returns the exit code."""
    import dataclasses

    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.log_views import parse_holdout
    from recon_carla_bridge.recon.scene_file import save_scene
    from recon_carla_bridge.recon.train import TrainConfig, train

    if args.iters < 1:
        raise InputError(f"--iters: must be at least 1, got {args.iters}")
    parse_holdout(args.holdout)  # a bad split is an error before the log is read
    log = load_scene_log(args.scene_dir)
    config = TrainConfig(iterations=args.iters, device=args.device, max_minutes=args.max_minutes, seed=args.seed,
                         holdout=args.holdout)
    if args.cap_max is not None:
        config = dataclasses.replace(config, cap_max=args.cap_max)
    config = apply_overrides(config, args.set)
    result = train(log, config)
    scene = result.scene
    scene.metadata.update(
        {
            "held_out_psnr": f"{result.metrics['psnr']:.3f}",
            "held_out_ssim": f"{result.metrics['ssim']:.4f}",
            "iterations": str(result.metrics["iterations"]),
            "train_seconds": str(result.metrics["train_seconds"]),
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
