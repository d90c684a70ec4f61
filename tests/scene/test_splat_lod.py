"""Levels of detail for low-resolution CPU cameras (`scene.splat_lod`): fewer Gaussians, an image close to the full
render, chosen per camera resolution, and used by the world's camera sensors."""
from __future__ import annotations

import importlib

import carla
import numpy as np
import pytest
import torch

from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera
from recon_carla_bridge.recon.metrics import psnr
from recon_carla_bridge.scene.scene_world import ego_start_transform, open_scene_world
from recon_carla_bridge.scene.splat_lod import focal_of, level_for, merge_voxels
from recon_carla_bridge.sensors.camera import CameraRequest

render = importlib.import_module("recon_carla_bridge.recon.render").render


def test_levels_follow_the_camera_resolution() -> None:
    assert level_for(focal_of(64, 90.0)) is not None  # 64 x 32: a level
    assert level_for(focal_of(1242, 90.0)) is None  # full resolution: every Gaussian
    assert level_for(focal_of(32, 90.0)) >= level_for(focal_of(64, 90.0))  # coarser pixels, coarser level


def test_merging_keeps_singletons_and_the_mean() -> None:
    from recon_carla_bridge.recon.gaussians import GaussianSet

    means = torch.tensor([[0.01, 0.01, 0.01], [0.03, 0.02, 0.01], [5.0, 5.0, 5.0]])
    scales = torch.log(torch.full((3, 3), 0.01))
    gaussians = GaussianSet(means, torch.tensor([[1.0, 0, 0, 0]] * 3), scales, torch.zeros(3), torch.rand(3, 4, 3) - 0.5,
                            torch.tensor([7, 7, 7]))
    merged = merge_voxels(gaussians, 0.1)
    assert merged.count == 2
    lone = int(torch.argmin((merged.means - means[2]).norm(dim=1)))
    assert torch.allclose(merged.means[lone], means[2]) and torch.allclose(merged.sh[lone], gaussians.sh[2])
    pair = 1 - lone
    assert torch.allclose(merged.means[pair], means[:2].mean(dim=0), atol=1e-6)  # equal weights: the midpoint
    assert torch.exp(merged.log_scales[pair]).max() > 0.01  # the pair's spread widens the merged Gaussian


def test_low_resolution_render_stays_close_to_the_full_render() -> None:
    world = open_scene_world("kitti", render_backend="cpu")
    backend = world.simulation.camera_backend
    world.tick()
    poses = backend.actor_instances(world.simulation.render_snapshot())
    start = ego_start_transform(world.scene_bundle)
    yaw = np.radians(start.rotation.yaw)
    request = None
    scores = []
    for ahead in (1.5, 11.5):  # in the reconstruction and past it
        location = carla.Location(start.location.x + ahead * np.cos(yaw), start.location.y + ahead * np.sin(yaw),
                                  start.location.z + 1.6)
        request = CameraRequest("rgb", 64, 32, 90.0, np.array(carla.Transform(location, start.rotation).get_matrix()))
        cameras = CameraBatch.from_numpy(carla_to_opencv_world_from_camera(request.world_from_camera)[None],
                                         request.intrinsics()[None], 64, 32)
        voxel = backend.level_of(request)
        assert voxel is not None
        full = render(backend.scene, cameras, poses, backend="cpu", ground=backend.ground).rgb[0]
        reduced = render(backend.scene_for(voxel), cameras, poses, backend="cpu", ground=backend.ground).rgb[0]
        scores.append(psnr(reduced, full))
    level = backend.scene_for(backend.level_of(request))
    full_count = backend.scene.background.count + backend.scene.actor_pack[0].count
    assert level.background.count + level.actor_pack[0].count < 0.85 * full_count
    assert min(scores) > 28.0, scores  # dB against the full render
    depth = CameraRequest("depth", 64, 32, 90.0, request.world_from_camera)
    assert backend.level_of(depth) is None  # depth and semantic cameras stay exact
    world_full = open_scene_world("kitti", render_backend="cpu")
    world_full.simulation.camera_backend.lod = False
    assert world_full.simulation.camera_backend.level_of(request) is None


@pytest.mark.parametrize("lod", [True, False])
def test_world_camera_sensor_renders_with_and_without_levels(lod: bool) -> None:
    world = open_scene_world("kitti", render_backend="cpu")
    world.simulation.camera_backend.lod = lod
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.1
    world.apply_settings(settings)
    ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                            ego_start_transform(world.scene_bundle))
    blueprint = world.get_blueprint_library().find("sensor.camera.rgb")
    blueprint.set_attribute("image_size_x", "64")
    blueprint.set_attribute("image_size_y", "32")
    camera = world.spawn_actor(blueprint, carla.Transform(carla.Location(x=1.5, z=1.6)), attach_to=ego)
    images = []
    camera.listen(images.append)
    world.tick()
    assert len(images) == 1
    pixels = np.frombuffer(images[0].raw_data, dtype=np.uint8).reshape(32, 64, 4)
    assert pixels[..., :3].std() > 10  # a scene, not a flat fill
