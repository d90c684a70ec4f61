"""Readers of driving-log formats; each turns a source folder or file into a RawLog."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from recon_carla_bridge.ingest.rawlog import RawLog

# format name -> "module:function"; modules import lazily so one format's dependencies never block another.
READERS: dict[str, str] = {
    "kitti": "recon_carla_bridge.ingest.readers.kitti:read_kitti",
    "nuscenes": "recon_carla_bridge.ingest.readers.nuscenes:read_nuscenes",
    "dgp": "recon_carla_bridge.ingest.readers.dgp:read_dgp",
    "waymo": "recon_carla_bridge.ingest.readers.waymo:read_waymo",
}


def get_reader(name: str) -> Callable[[Path], RawLog]:
    """The reader function of a format name (KeyError lists the known ones)."""
    if name not in READERS:
        raise KeyError(f"unknown log format {name!r}; known: {', '.join(READERS)}")
    module_name, _, function = READERS[name].partition(":")
    return getattr(importlib.import_module(module_name), function)
