"""`recon-carla report results.json`: one HTML page with scores, per-route infractions, videos and plots."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` sub-command."""
    parser = subparsers.add_parser("report", help="HTML report of an evaluation's results JSON")
    parser.add_argument("results", type=Path, help="results JSON written by `recon-carla evaluate`")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <results>_report/)")
    parser.add_argument("--no-video", action="store_true", help="skip the per-route MP4s (faster)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Build the report; 2 on bad input."""
    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.report.html import build_report

    try:
        index = build_report(args.results, args.out, videos=not args.no_video)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrecon-carla: report interrupted; the results file is unchanged", file=sys.stderr)
        return 130
    print(f"Report written to {index}")
    return 0
