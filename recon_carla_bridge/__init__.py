"""recon_carla_bridge: train and test CARLA agents in reconstructed real driving scenes, no server needed.

`recon_carla_bridge.Client` is a drop-in for `carla.Client`. It is imported lazily so that the
reconstruction and restoration subpackages stay importable where `carla` is not installed.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from recon_carla_bridge.scene.scene_world import Client

        return Client
    raise AttributeError(f"module 'recon_carla_bridge' has no attribute {name!r}")
