"""From a reconstructed scene folder to a world: the bundle (what a scene ships), the frame conversions
between the log's world frame and CARLA's, the world of a scene (road network, logged traffic replayed,
Gaussian cameras through `splat_backend`), the one map loader of towns and scenes, and
`recon_carla_bridge.Client` (the server-less client over both).

    scene folder ──bundle.load_scene_bundle──► SceneBundle ──scene_world.open_scene_world──► World
                                                               (scene_map, TrackReplay, SplatBackend)

The names below are imported on first use, so `scene.bundle` stays importable where `carla` is not.
"""
from __future__ import annotations

from typing import Any

__all__ = ["BUNDLED_SCENES", "Client", "ego_start_transform", "is_scene", "load_place_map", "logged_camera_transform",
           "open_scene_world", "place_exists"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from recon_carla_bridge.scene import scene_world

        return getattr(scene_world, name)
    raise AttributeError(f"module 'recon_carla_bridge.scene' has no attribute {name!r}")
