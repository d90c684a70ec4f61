"""Camera sensors of a reconstructed scene: CARLA layouts, poses, batching, moved actors.

A tiny synthetic scene is written as a scene bundle (Gaussian road plane, a red wall 60 m ahead, one
blue logged car 15 m ahead in the ego's lane) on the bundled StraightRoad map, then opened through the
public API: `recon_carla_bridge.Client(scene=folder)`.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import carla
import numpy as np
import pytest
import torch

import recon_carla_bridge
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR
from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet, SkyModel, rgb_to_sh_dc
from recon_carla_bridge.recon.scene_file import save_scene
from recon_carla_bridge.sensors.camera_encoding import decode_depth

WIDTH, HEIGHT, FOV = 96, 48, 90.0
EGO_X, LANE_Y = 5.0, -1.75  # scene frame: lane -1 of StraightRoad (CARLA y = +1.75)
CAR_X = 20.0
WALL_X = 60.0
CAMERA_HEIGHT = 1.5


def _cloud(points: np.ndarray, rgb: tuple[float, float, float], tag: int, scale: float) -> GaussianSet:
    n = len(points)
    return GaussianSet(
        means=torch.as_tensor(points, dtype=torch.float32),
        quats=torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        log_scales=torch.full((n, 3), math.log(scale)),
        opacity_logits=torch.full((n,), 4.0),
        sh=rgb_to_sh_dc(torch.tensor(rgb)).reshape(1, 1, 3).repeat(n, 1, 1),
        semantic=torch.full((n,), tag, dtype=torch.int64),
    )


def _write_scene(root: Path) -> Path:
    rng = np.random.default_rng(0)
    gx, gy = np.meshgrid(np.arange(0.0, 62.0, 0.5), np.arange(-8.0, 8.01, 0.5))
    ground = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)
    wy, wz = np.meshgrid(np.arange(-12.0, 12.01, 0.4), np.arange(0.0, 8.01, 0.4))
    wall = np.stack([np.full(wy.size, WALL_X), wy.ravel(), wz.ravel()], axis=1)
    background = GaussianSet.concat([_cloud(ground, (0.4, 0.4, 0.4), 1, 0.3), _cloud(wall, (0.8, 0.1, 0.1), 3, 0.25)])
    body = rng.uniform([-2.0, -0.9, -0.75], [2.0, 0.9, 0.75], size=(1500, 3))
    pose = np.eye(4)
    pose[:3, 3] = [CAR_X, LANE_Y, 0.75]
    car = ActorAsset("car0", "vehicle", torch.tensor([4.0, 1.8, 1.5]), False, _cloud(body, (0.1, 0.2, 0.9), 14, 0.2),
                     torch.tensor([0, 1]), torch.as_tensor(np.stack([pose, pose]), dtype=torch.float32))
    save_scene(GaussianScene(background, {"car0": car}, SkyModel.uniform((0.5, 0.7, 1.0), 8, 16), {"name": "synthetic"}),
               root / "scene.gs")
    shutil.copyfile(BUNDLED_MAPS_DIR / "StraightRoad.xodr", root / "road.xodr")
    ego = np.eye(4)
    ego[:3, 3] = [EGO_X, LANE_Y, 0.0]
    mount = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, CAMERA_HEIGHT], [0.0, 0.0, 0.0, 1.0]])
    focal = WIDTH / (2 * math.tan(math.radians(FOV) / 2))
    bundle = {
        "format": "recon_carla_bridge.scene_bundle", "version": 1, "name": "synthetic",
        "timestamps": [0.0, 0.1], "world_from_ego": [ego.tolist(), ego.tolist()],
        "cameras": {"front": {"K": [[focal, 0, WIDTH / 2], [0, focal, HEIGHT / 2], [0, 0, 1]], "width": WIDTH,
                              "height": HEIGHT, "ego_from_camera": mount.tolist()}},
        "ego_size": [4.8, 2.0, 1.5],
    }
    (root / "bundle.json").write_text(json.dumps(bundle))
    return root


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_scene(tmp_path_factory.mktemp("synthetic_scene"))


@pytest.fixture
def scene_world(scene_dir: Path) -> carla.World:
    world = recon_carla_bridge.Client(scene=scene_dir).get_world()
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    return world


def _ego(world: carla.World) -> carla.Vehicle:
    from recon_carla_bridge.scene.scene_world import ego_start_transform

    return world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                             ego_start_transform(world.scene_bundle))


def _camera(world: carla.World, parent: carla.Actor, kind: str = "rgb") -> tuple[carla.Sensor, list]:
    from recon_carla_bridge.scene.scene_world import logged_camera_transform

    _, mount, fov, width, height = logged_camera_transform(world.scene_bundle)
    bp = world.get_blueprint_library().find(f"sensor.camera.{kind}")
    bp.set_attribute("image_size_x", str(width))
    bp.set_attribute("image_size_y", str(height))
    bp.set_attribute("fov", str(fov))
    sensor = world.spawn_actor(bp, mount, attach_to=parent)
    images: list = []
    sensor.listen(images.append)
    return sensor, images


def _tick(world: carla.World) -> int:
    """Tick and wait for the cameras' images (on CUDA they arrive from the sensor thread, as in CARLA)."""
    frame = world.tick()
    world.simulation.flush_sensor_data()
    return frame


def _array(image: carla.Image) -> np.ndarray:
    return np.frombuffer(image.raw_data, dtype=np.uint8).reshape(image.height, image.width, 4)


def test_the_logged_actor_is_spawned_and_replayed(scene_world: carla.World) -> None:
    vehicles = scene_world.get_actors().filter("vehicle.*")
    assert len(vehicles) == 1
    car = vehicles[0]
    assert car.attributes["role_name"] == "log_car0"
    assert car.get_location().x == pytest.approx(CAR_X, abs=0.01)
    assert car.get_location().y == pytest.approx(-LANE_Y, abs=0.01)  # CARLA flips y
    assert car.bounding_box.extent.x == pytest.approx(2.0)


def test_rgb_depth_semantic_have_carla_layouts(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    _, rgb = _camera(scene_world, ego, "rgb")
    _, depth = _camera(scene_world, ego, "depth")
    _, semantic = _camera(scene_world, ego, "semantic_segmentation")
    frame = _tick(scene_world)
    for images in (rgb, depth, semantic):
        assert len(images) == 1 and images[0].frame == frame
        assert isinstance(images[0], carla.Image)
        assert (images[0].width, images[0].height) == (WIDTH, HEIGHT)
        assert images[0].fov == pytest.approx(FOV, abs=1e-3)
        assert np.all(_array(images[0])[..., 3] == 255)  # BGRA, opaque
    tags = _array(semantic[0])[..., 2]  # tag in the red channel
    assert set(np.unique(tags)) <= {1, 3, 11, 14}
    centre_row, centre_col = HEIGHT // 2, WIDTH // 2
    assert tags[centre_row + 1, centre_col] == 14  # the car straight ahead
    assert tags[-1, centre_col] == 1  # road under the camera
    assert tags[0, centre_col] == 11  # sky above the wall
    colour = _array(rgb[0])[centre_row + 1, centre_col]
    assert colour[0] > colour[2] + 60  # blue car: B (index 0) well above R (index 2)
    metres = decode_depth(_array(depth[0]))
    car_distance = CAR_X - 2.0 - (EGO_X + 0.0)  # rear bumper from the camera (mounted over the ego origin)
    assert metres[centre_row + 1, centre_col] == pytest.approx(car_distance, abs=1.0)
    assert metres[0, centre_col] == pytest.approx(1000.0, abs=0.01)  # sky saturates at 1000 m
    wall_rows = tags == 3
    assert wall_rows.any()
    assert np.median(metres[wall_rows]) == pytest.approx(WALL_X - EGO_X, abs=3.0)


def test_rendering_is_deterministic(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    _, images = _camera(scene_world, ego)
    _tick(scene_world)
    ego.set_simulate_physics(False)
    _tick(scene_world)
    first, second = _array(images[0]), _array(images[1])
    assert np.array_equal(first, second)


def test_camera_moves_with_the_ego(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    _, depth = _camera(scene_world, ego, "depth")
    _, semantic = _camera(scene_world, ego, "semantic_segmentation")
    _tick(scene_world)
    start = ego.get_transform()
    moved = carla.Transform(carla.Location(start.location.x + 10.0, start.location.y + 3.5, start.location.z), start.rotation)
    ego.set_transform(moved)  # one lane over (CARLA +y), 10 m closer to the wall
    _tick(scene_world)
    before, after = decode_depth(_array(depth[0])), decode_depth(_array(depth[1]))
    wall_before = np.median(before[_array(semantic[0])[..., 2] == 3])
    wall_after = np.median(after[_array(semantic[1])[..., 2] == 3])
    assert wall_before - wall_after == pytest.approx(10.0, abs=1.5)
    assert _array(semantic[1])[HEIGHT // 2 + 1, WIDTH // 2, 2] != 14  # the car is no longer dead ahead


def test_a_moved_actor_is_drawn_at_its_new_place_without_a_ghost(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    _, semantic = _camera(scene_world, ego, "semantic_segmentation")
    _tick(scene_world)
    car = [a for a in scene_world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "log_car0"][0]
    before = _array(semantic[0])[..., 2] == 14
    transform = car.get_transform()
    car.set_transform(carla.Transform(carla.Location(transform.location.x, transform.location.y - 3.0,
                                                     transform.location.z), transform.rotation))  # 3 m to the left
    _tick(scene_world)
    after = _array(semantic[1])[..., 2] == 14
    columns_before = np.nonzero(before.any(axis=0))[0]
    columns_after = np.nonzero(after.any(axis=0))[0]
    assert columns_after.mean() < columns_before.mean() - 6  # drawn further left in the image
    # nothing of the car is left where it stood: those pixels now see road/wall/sky
    assert (before & after).sum() < 0.2 * before.sum()
    assert scene_world.simulation.is_replayed(car.id) is False  # the scenario took it over


def test_cameras_of_one_tick_render_in_one_batch(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    backend = scene_world.simulation.camera_backend
    calls: list[int] = []
    entry = "launch" if backend.asynchronous else "render"  # the GPU path launches, the CPU path renders
    original = getattr(backend, entry)

    def counting(sim: object, requests: list):
        calls.append(len(requests))
        return original(sim, requests)

    setattr(backend, entry, counting)
    streams = [_camera(scene_world, ego, kind)[1] for kind in ("rgb", "rgb", "depth", "semantic_segmentation")]
    _tick(scene_world)
    assert calls == [4]
    assert all(len(images) == 1 for images in streams)


def test_asynchronous_backend_delivers_in_order_from_a_worker_thread(scene_world: carla.World) -> None:
    """The GPU path (launch now, deliver from the sensor thread), run with the CPU renderer."""
    import threading

    ego = _ego(scene_world)
    scene_world.simulation.camera_backend.asynchronous = False
    sync_camera, sync_images = _camera(scene_world, ego)
    scene_world.tick()
    reference = _array(sync_images[-1]).copy()
    sync_camera.destroy()
    backend = scene_world.simulation.camera_backend
    backend.asynchronous = True
    camera, images = _camera(scene_world, ego)
    threads: list[str] = []
    camera.listen(lambda image: (threads.append(threading.current_thread().name), images.append(image)))
    ticks = [scene_world.tick() for _ in range(3)]
    camera.destroy()  # the last tick's image arrives before the sensor goes
    assert [image.frame for image in images] == ticks
    assert all(name.startswith("recon-sensor-delivery") for name in threads)
    assert np.array_equal(_array(images[0]), reference)  # the ego is parked: same pixels as the synchronous path


def test_a_failed_asynchronous_render_raises_at_the_next_tick(scene_world: carla.World) -> None:
    ego = _ego(scene_world)
    backend = scene_world.simulation.camera_backend
    backend.asynchronous = True
    _camera(scene_world, ego)

    def broken(sim: object, requests: list):
        def collect() -> list:
            raise RuntimeError("render failed on the device")
        return collect

    backend.launch = broken  # type: ignore[method-assign]
    scene_world.tick()
    with pytest.raises(RuntimeError, match="render failed on the device"):
        scene_world.tick()
