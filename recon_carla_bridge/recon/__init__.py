"""Reconstruction: GaussianScene (background + per-actor Gaussians + sky), rendering, training.

Importable without `carla` and without `gsplat` (gsplat is imported only by the CUDA backend and the
trainer). The simulator's camera sensors need:

    from recon_carla_bridge.recon import (
        CameraBatch, carla_to_opencv_world_from_camera, intrinsics_from_fov, load_scene, render,
    )
"""
from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera, intrinsics_from_fov
from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet, SkyModel, compose_world
from recon_carla_bridge.recon.render import SKY_DEPTH, RenderOutput, choose_backend, render
from recon_carla_bridge.recon.scene_file import FORMAT_VERSION, load_scene, save_scene
from recon_carla_bridge.recon.semantics import CarlaTag

__all__ = [
    "FORMAT_VERSION",
    "SKY_DEPTH",
    "ActorAsset",
    "CameraBatch",
    "CarlaTag",
    "GaussianScene",
    "GaussianSet",
    "RenderOutput",
    "SkyModel",
    "carla_to_opencv_world_from_camera",
    "choose_backend",
    "compose_world",
    "intrinsics_from_fov",
    "load_scene",
    "render",
    "save_scene",
]
