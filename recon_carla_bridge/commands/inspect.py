"""`recon-carla inspect SCENE_DIR`: draw a SceneLog as PNGs (bird's-eye view, strip of annotated frames)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `inspect` sub-command."""
    parser = subparsers.add_parser(
        "inspect",
        help="draw a SceneLog: BEV (ego path, tracks, lanes) and frames with projected boxes and LiDAR",
        description="Validate a SceneLog folder and write bev.png and frames.png.",
    )
    parser.add_argument("scene_dir", type=Path, help="SceneLog folder")
    parser.add_argument("--out", type=Path, default=None, help="folder for the PNGs (default: SCENE_DIR_inspect beside it)")
    parser.add_argument("--frames", type=int, default=4, help="frames in the strip (default 4)")
    parser.add_argument("--camera", default=None, help="camera to draw (default: the first)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Load (validating) the scene and write the PNGs; exit 2 naming the bad file or field."""
    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.ingest.plots import plot_bev, plot_frame_strip
    from recon_carla_bridge.ingest.scenelog import load_scene_log

    try:
        log = load_scene_log(args.scene_dir)
        if args.camera is not None and args.camera not in log.cameras:
            raise InputError(f"{args.scene_dir}: no camera {args.camera!r} (has {', '.join(log.cameras) or 'none'})")
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = args.out or args.scene_dir.parent / f"{args.scene_dir.name}_inspect"
    out.mkdir(parents=True, exist_ok=True)
    try:  # images and LiDAR scans are decoded only now: a corrupt one is bad input too
        written = [plot_bev(log, out / "bev.png")]
        if log.cameras:
            written.append(plot_frame_strip(log, out / "frames.png", count=args.frames, camera=args.camera))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    moving = sum(t.moving for t in log.tracks)
    print(f"{log.name}: {len(log.frames)} frames, {len(log.tracks)} tracks ({moving} moving), cameras {', '.join(log.cameras)}")
    for path in written:
        print(f"wrote {path}")
    return 0
