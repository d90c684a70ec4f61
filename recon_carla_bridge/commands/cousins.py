"""`recon-carla cousins`: the Cousin Trajectory Generator on a scene's logged drive (or a lane drive in a CARLA
town): checked cousins as route XML (--out) and the distribution report (--report DIR: ctg_<town>.png/.json)."""
from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cousins` sub-command."""
    parser = subparsers.add_parser(
        "cousins", help="CTG: cousins of a logged drive (lane changes, speeds, extensions, turns), routes and report",
        description="Cousins of the scene's logged ego trajectory, each checked for kinematic feasibility, drivable "
        "lanes and collisions with the logged actors; --out writes the accepted ones as route XML, --report the "
        "distribution report (curvature, lateral offset, speed, heading change before and after).")
    add_arguments(parser)
    parser.set_defaults(func=handle)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `recon-carla cousins` (and of this module's command line)."""
    parser.add_argument("town", help="a reconstructed scene's name (e.g. kitti) or a CARLA town (with --start)")
    parser.add_argument("--out", default="", help="route XML to write")
    parser.add_argument("--report", default="", help="folder for the distribution report ctg_<town>.png/.json")
    parser.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"),
                        help="in a CARLA town: where the stand-in log (a lane drive) starts")
    parser.add_argument("--speed", type=float, default=8.0, help="m/s of the stand-in log in a CARLA town")
    parser.add_argument("--seconds", type=float, default=8.0, help="s of the stand-in log in a CARLA town")


def handle(args: argparse.Namespace) -> int:
    """Run the generator; 2 on bad input."""
    from recon_carla_bridge.adversary.cousins_world import run
    from recon_carla_bridge.errors import InputError

    try:
        return run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
