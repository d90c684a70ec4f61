"""Every vehicle of a reconstructed scene's world is drawn by its cameras, where the simulation puts it.

On the bundled KITTI scene, rendered by the CPU rasterizer at a quarter of the logged camera's size:
vehicles the log did not have take the look of a reconstructed vehicle of their size (one look drawn as
many times as needed), and a logged vehicle a scenario moves is drawn at its new place.
"""
from __future__ import annotations

import math

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.scene.scene_world import ego_start_transform, logged_camera_transform

WIDTH, HEIGHT = 310, 94
VEHICLE_TAGS = (14, 15, 16, 18, 19)  # car, truck, bus, motorcycle, bicycle
WINDOW = 4  # pixels each side of a projected box centre


@pytest.fixture
def world() -> carla.World:
    world = recon_carla_bridge.Client(scene="kitti").get_world()
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    return world


def _ego_camera(world: carla.World) -> tuple[carla.Sensor, list]:
    library = world.get_blueprint_library()
    ego = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), ego_start_transform(world.scene_bundle))
    _, mount, fov, _, _ = logged_camera_transform(world.scene_bundle)
    blueprint = library.find("sensor.camera.semantic_segmentation")
    blueprint.set_attribute("image_size_x", str(WIDTH))
    blueprint.set_attribute("image_size_y", str(HEIGHT))
    blueprint.set_attribute("fov", str(fov))
    camera = world.spawn_actor(blueprint, mount, attach_to=ego)
    images: list = []
    camera.listen(images.append)
    return camera, images


def _vehicle_pixels(image: carla.Image) -> np.ndarray:
    tags = np.frombuffer(image.raw_data, dtype=np.uint8).reshape(image.height, image.width, 4)[..., 2]
    return np.isin(tags, VEHICLE_TAGS)


def _pixel_of(camera: carla.Sensor, point: carla.Location) -> tuple[int, int]:
    """(column, row) where the camera sees a world point (CARLA cameras look along their +x)."""
    local = np.linalg.inv(np.array(camera.get_transform().get_matrix())) @ np.array([point.x, point.y, point.z, 1.0])
    focal = WIDTH / (2.0 * math.tan(math.radians(float(camera.attributes["fov"])) / 2.0))
    return int(round(WIDTH / 2 + focal * local[1] / local[0])), int(round(HEIGHT / 2 - focal * local[2] / local[0]))


def _box_centre(actor: carla.Actor) -> carla.Location:
    transform = actor.get_transform()
    return transform.transform(carla.Location(actor.bounding_box.location))


def _seen_at(mask: np.ndarray, pixel: tuple[int, int]) -> int:
    column, row = pixel
    assert 0 <= column < WIDTH and 0 <= row < HEIGHT, f"{pixel} is outside the image"
    return int(mask[max(row - WINDOW, 0):row + WINDOW + 1, max(column - WINDOW, 0):column + WINDOW + 1].sum())


def _remove_logged_vehicles(world: carla.World, keep: str = "") -> None:
    for actor in world.get_actors().filter("vehicle.*"):
        if actor.attributes["role_name"].startswith("log_") and actor.attributes["role_name"] != keep:
            actor.destroy()


def test_three_spawned_vehicles_all_appear_in_the_camera_image(world: carla.World) -> None:
    _remove_logged_vehicles(world)
    camera, images = _ego_camera(world)
    world.tick()
    empty = _vehicle_pixels(images[-1])
    start = world.get_map().get_waypoint(ego_start_transform(world.scene_bundle).location)
    places = [start.next(8.0)[0], start.get_left_lane().next(14.0)[0], start.get_right_lane().next(20.0)[0]]
    blueprint = world.get_blueprint_library().find("vehicle.audi.a2")  # three of one size: one look, three times
    spawned = [world.spawn_actor(blueprint, carla.Transform(w.transform.location + carla.Location(z=0.3), w.transform.rotation))
               for w in places]
    world.tick()
    drawn = _vehicle_pixels(images[-1])
    for vehicle in spawned:
        pixel = _pixel_of(camera, _box_centre(vehicle))
        assert _seen_at(empty, pixel) == 0, f"vehicle pixels at {pixel} before {vehicle.type_id} was spawned"
        assert _seen_at(drawn, pixel) >= (2 * WINDOW + 1) ** 2 // 3, f"{vehicle.type_id} at {pixel} is not drawn"


def test_a_logged_vehicle_taken_over_and_moved_3_m_is_drawn_at_its_new_place(world: carla.World) -> None:
    _remove_logged_vehicles(world, keep="log_vehicle_002")  # a reconstructed car 15 m ahead, one lane left
    camera, images = _ego_camera(world)
    world.tick()
    car = next(a for a in world.get_actors().filter("vehicle.*") if a.attributes["role_name"] == "log_vehicle_002")
    before_pixel = _pixel_of(camera, _box_centre(car))
    assert _seen_at(_vehicle_pixels(images[-1]), before_pixel) >= (2 * WINDOW + 1) ** 2 // 2  # drawn where logged
    transform = car.get_transform()
    moved = carla.Location(transform.location.x, transform.location.y + 3.0, transform.location.z)  # 3 m right
    car.set_transform(carla.Transform(moved, transform.rotation))
    world.tick()
    after = _vehicle_pixels(images[-1])
    after_pixel = _pixel_of(camera, _box_centre(car))
    assert after_pixel[0] - before_pixel[0] > 2 * WINDOW  # the new place is elsewhere in the image
    assert _seen_at(after, after_pixel) >= (2 * WINDOW + 1) ** 2 // 2  # drawn at its new place
    assert _seen_at(after, before_pixel) < (2 * WINDOW + 1) ** 2 // 4  # and gone from the old one
    assert world.simulation.is_replayed(car.id) is False
