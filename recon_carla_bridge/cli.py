"""The `recon-carla` command line: one sub-command per module in `recon_carla_bridge.commands`."""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# Sub-command modules, in the order `--help` lists them. Each module exposes
# `register(subparsers) -> None`, adding its parser and setting `func=handler(args) -> int`.
# Modules import their heavy dependencies inside the handler, so `--help` stays fast.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "scenes",
    "scenario",
    "ingest",
    "inspect",
    "reconstruct",
    "train_restorer",
    "evaluate",
    "report",
    "cousins",
    "train",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command that is installed."""
    parser = argparse.ArgumentParser(
        prog="recon-carla",
        description="A server-less CARLA world over reconstructed real driving scenes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"recon_carla_bridge.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"recon_carla_bridge.commands.{name}":
                continue  # not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `recon-carla`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
