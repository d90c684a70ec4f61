"""`recon-carla demo`: the main job on the bundled scene (see recon_carla_bridge.demo)."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` sub-command."""
    parser = subparsers.add_parser(
        "demo", help="drive BasicAgent through the bundled reconstructed KITTI scene; write video, BEV and metrics")
    parser.add_argument("--config", default=None, help="YAML config (default: built-in defaults, as configs/demo.yaml)")
    parser.add_argument("--scene", default=None, help="bundled scene name or scene folder")
    parser.add_argument("--duration", dest="duration_s", type=float, default=None, help="simulated seconds")
    parser.add_argument("--out", dest="out_dir", default=None, help="output folder")
    parser.add_argument("--render-backend", dest="render_backend", choices=("auto", "cpu", "gsplat"), default=None)
    parser.add_argument("--camera-scale", dest="camera_scale", type=float, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=handle)


def check_demo_config(config: object) -> None:
    """InputError naming the setting when the demo cannot run with it (before anything is loaded)."""
    from recon_carla_bridge.errors import InputError

    for name in ("duration_s", "world_hz", "camera_hz", "camera_scale"):
        value = getattr(config, name)
        if not value > 0:
            flag = {"duration_s": "--duration", "camera_scale": "--camera-scale"}.get(name, name)
            raise InputError(f"{flag} must be > 0, got {value}")
    if config.render_backend == "gsplat":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--render-backend gsplat needs a CUDA GPU, and torch sees none here; use "
                             "--render-backend cpu (or auto, which picks gsplat only where CUDA is available)")


def handle(args: argparse.Namespace) -> int:
    """Run the demo and print where its outputs are."""
    from recon_carla_bridge.config import load_config
    from recon_carla_bridge.demo import DemoConfig, run_demo
    from recon_carla_bridge.errors import ReconCarlaError

    overrides = {k: getattr(args, k) for k in ("scene", "duration_s", "out_dir", "render_backend", "camera_scale")}
    try:
        config = load_config(DemoConfig, args.config, overrides)
        check_demo_config(config)
        result = run_demo(config, progress=not args.quiet)
    except ReconCarlaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"video": result.video, "bev": result.bev_plot, "metrics": result.metrics_file}, indent=2))
    summary = {k: result.metrics[k] for k in ("distance_m", "mean_speed_mps", "camera_frames", "lane_invasions")}
    print("summary:", json.dumps(summary), "collisions:", len(result.metrics["collisions"]))
    return 0
