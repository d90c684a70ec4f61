"""The schematic camera on the real Town01: road under the horizon, boxes where they stand, CARLA encodings."""
from __future__ import annotations

import carla
import numpy as np
import pytest

from recon_carla_bridge.scene.scene_world import load_place_map as load_map
from recon_carla_bridge.schematic import (
    ActorBox,
    CameraView,
    SchematicScene,
    render_schematic,
)
from recon_carla_bridge.schematic.backend import signal_boxes_at
from recon_carla_bridge.schematic.render import BOX_RGB, RGB_PALETTE
from recon_carla_bridge.schematic.scene import ROAD

WIDTH, HEIGHT, FOV = 320, 160, 90.0
# On Town01's road 12 (westbound lane at y = 195.15), 25 m before the junction at x ≈ 101, looking west.
CAMERA = carla.Transform(carla.Location(126.0, 195.15, 2.0), carla.Rotation(yaw=180.0))


@pytest.fixture(scope="module")
def scene(shared_data) -> SchematicScene:
    return SchematicScene.from_map(load_map("Town01"))


def _view() -> CameraView:
    return CameraView(np.array(CAMERA.get_matrix()), WIDTH, HEIGHT, FOV)


def _project(x: float, y: float, z: float) -> tuple[int, int]:
    """Pixel (column, row) of a world point in the test camera (pinhole, CARLA camera axes)."""
    local = np.linalg.inv(np.array(CAMERA.get_matrix())) @ np.array([x, y, z, 1.0])
    focal = WIDTH / (2.0 * np.tan(np.radians(FOV) / 2.0))
    return int(WIDTH / 2 + focal * local[1] / local[0]), int(HEIGHT / 2 - focal * local[2] / local[0])


def _car_ahead(distance: float) -> ActorBox:
    return ActorBox(np.array([CAMERA.location.x - distance, 195.15, 0.75]), np.array([0.0, 180.0, 0.0]),
                    np.array([2.4, 1.0, 0.75]), "vehicle")


def test_rgb_shows_the_road_ahead_sky_above_and_a_car_where_it_stands(scene):
    image = render_schematic(scene, _view(), [_car_ahead(12.0)], "rgb")
    assert image.shape == (HEIGHT, WIDTH, 4) and image.dtype == np.uint8 and (image[..., 3] == 255).all()
    rgb = image[..., 2::-1]  # BGRA -> RGB
    u, v = _project(CAMERA.location.x - 5.0, 195.15 - 1.0, 0.0)  # the lane surface 5 m ahead
    assert tuple(rgb[v, u]) == RGB_PALETTE[ROAD]
    assert rgb[2, WIDTH // 2, 2] > rgb[2, WIDTH // 2, 0]  # sky at the top: blue over red
    u, v = _project(CAMERA.location.x - 12.0 + 2.4, 195.15, 0.75)  # the rear face of the car
    assert tuple(rgb[v, u]) == BOX_RGB["vehicle"]


def test_semantic_and_depth_follow_carla_encodings(scene):
    boxes = [_car_ahead(12.0)]
    semantic = render_schematic(scene, _view(), boxes, "semantic")
    depth = render_schematic(scene, _view(), boxes, "depth")
    u, v = _project(CAMERA.location.x - 12.0 + 2.4, 195.15, 0.75)
    assert semantic[v, u, 2] == 14 and semantic[2, WIDTH // 2, 2] == 11  # car, sky (CARLA 0.9.14+ tags)
    road_u, road_v = _project(CAMERA.location.x - 5.0, 195.15 - 1.0, 0.0)
    assert semantic[road_v, road_u, 2] == 1
    b, g, r = (depth[v, u, k].astype(np.float64) for k in range(3))
    metres = (r + g * 256 + b * 256 ** 2) / (256 ** 3 - 1) * 1000.0
    assert metres == pytest.approx(12.0 - 2.4, abs=0.5)  # the rear face's depth along the optical axis


def test_traffic_light_head_shows_its_state(scene):
    base = np.array([CAMERA.location.x - 20.0, 195.15 - 3.0, 0.0])
    for state in ("Red", "Green"):
        image = render_schematic(scene, _view(), signal_boxes_at(base, 0.0, True, state), "rgb")[..., 2::-1]
        u, v = _project(base[0], base[1], 5.0)
        assert tuple(image[v, u]) == BOX_RGB[f"light_{state.lower()}"]
