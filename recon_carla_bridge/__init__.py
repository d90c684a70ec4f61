"""recon_carla_bridge: train and test CARLA agents in reconstructed real driving scenes, no server needed.

`recon_carla_bridge.Client` is a drop-in for `carla.Client`. It is imported lazily so that the
reconstruction and restoration subpackages stay importable where `carla` is not installed.
"""
from __future__ import annotations

import os
from typing import Any

# OpenMP threads that spin after a parallel region (libgomp's default) starve the next library's threads: after
# a numba CPU render, the restorer's torch convolutions ran ~8x slower on 2 cores (0.6 s -> 5-6 s per 310x94
# frame). Passive waiting costs the rasterizer nothing measurable. Read when the OpenMP runtime loads, so it is set
# here, before torch or numba are imported through this package; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from recon_carla_bridge.scene.scene_world import Client

        return Client
    raise AttributeError(f"module 'recon_carla_bridge' has no attribute {name!r}")
