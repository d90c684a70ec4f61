"""Cameras of a scene whose bundle names a restorer: rgb images come back refined (CARLA's BGRA layout), a camera
with enable_restorer=false gets the plain splat, and a bundle whose restorer is missing fails clearly unless the
world is opened splat-only."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import carla
import numpy as np
import pytest
import torch

import recon_carla_bridge
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_SCENE_DIR
from recon_carla_bridge.restore import Restorer
from recon_carla_bridge.restore.config import RestorerConfig
from recon_carla_bridge.scene.scene_world import ego_start_transform, logged_camera_transform, open_scene_world

WIDTH, HEIGHT = 96, 30


@pytest.fixture
def scene_with_restorer(tmp_path: Path) -> Path:
    """The bundled KITTI scene with a (random, non-identity) restorer named in its bundle.json."""
    folder = tmp_path / "kitti_restored"
    shutil.copytree(BUNDLED_SCENE_DIR, folder)
    restorer = Restorer(RestorerConfig(64, 20, block_out_channels=(8, 16), norm_num_groups=4))
    with torch.no_grad():
        restorer.unet.conv_out.bias.copy_(torch.tensor([0.3, -0.3, 0.1]))  # shifts colours: visibly not the splat
    restorer.save(folder / "restorer")
    document = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps(dict(document, restorer="restorer")))
    return folder


def _rgb_camera(world: carla.World, ego: carla.Actor, restore: bool) -> list:
    library = world.get_blueprint_library()
    _, mount, fov, _, _ = logged_camera_transform(world.scene_bundle)
    blueprint = library.find("sensor.camera.rgb")
    blueprint.set_attribute("image_size_x", str(WIDTH))
    blueprint.set_attribute("image_size_y", str(HEIGHT))
    blueprint.set_attribute("fov", str(fov))
    blueprint.set_attribute("enable_restorer", "true" if restore else "false")
    images: list = []
    world.spawn_actor(blueprint, mount, attach_to=ego).listen(images.append)
    return images


def test_a_camera_applies_the_scene_restorer(scene_with_restorer: Path) -> None:
    world = recon_carla_bridge.Client(scene=str(scene_with_restorer)).get_world()
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"), ego_start_transform(world.scene_bundle))
    restored, plain = _rgb_camera(world, ego, True), _rgb_camera(world, ego, False)
    for _ in range(2):
        world.tick()
    assert len(restored) == 2 and len(plain) == 2
    image = restored[-1]
    assert isinstance(image, carla.Image) and (image.width, image.height) == (WIDTH, HEIGHT)
    bgra = np.frombuffer(image.raw_data, dtype=np.uint8).reshape(HEIGHT, WIDTH, 4)
    splat = np.frombuffer(plain[-1].raw_data, dtype=np.uint8).reshape(HEIGHT, WIDTH, 4)
    assert (bgra[..., 3] == 255).all()
    difference = bgra[..., :3].astype(int) - splat[..., :3].astype(int)
    # the restorer's bias raised red (BGRA index 2) and lowered green (index 1) over the whole frame
    assert difference[..., 2].mean() > 20 and difference[..., 1].mean() < -20


def test_a_missing_restorer_is_a_clear_error_unless_splat_only(scene_with_restorer: Path) -> None:
    shutil.rmtree(scene_with_restorer / "restorer")
    with pytest.raises(InputError, match="restorer file missing"):
        open_scene_world(scene_with_restorer)
    world = open_scene_world(scene_with_restorer, use_restorer=False)
    assert world.simulation.camera_backend.restorer is None
