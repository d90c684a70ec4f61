"""`recon-carla scenes`: the scenes that open by name (bundled, and the user's in $RECON_CARLA_SCENE_DIRS)."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `scenes` sub-command."""
    parser = subparsers.add_parser(
        "scenes", help="list the reconstructed scenes that open by name (load_world, --scene, town=)",
        description="Bundled scenes and the user's (each sub-folder of $RECON_CARLA_SCENE_DIRS holding scene.gs "
        "and bundle.json): name, logged drive length and frames, Gaussians, held-out PSNR/SSIM as simulated.")
    parser.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    from recon_carla_bridge.scene.catalogue import catalogue

    entries = catalogue()
    if args.json:
        print(json.dumps([{**entry.__dict__, "folder": str(entry.folder)} for entry in entries], indent=1))
        return 0
    print(f"{'name':<14} {'kind':<8} {'drive':>8} {'frames':>6} {'time':>6} {'Gaussians':>10} {'held-out PSNR/SSIM':>18}  folder")
    for e in entries:
        gaussians = f"{e.gaussians:,}" if e.gaussians is not None else "?"
        score = f"{e.held_out_psnr:.2f} dB" if e.held_out_psnr is not None else "?"
        if e.held_out_ssim is not None:
            score += f" / {e.held_out_ssim:.3f}"
        print(f"{e.name:<14} {'bundled' if e.bundled else 'user':<8} {e.drive_length_m:7.1f}m {e.frames:>6} "
              f"{e.duration_s:5.1f}s {gaussians:>10} {score:>18}  {e.folder}")
    if not entries:
        print("no scenes found")
    return 0
