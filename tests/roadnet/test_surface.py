"""Carriageways from the LiDAR ground: a divided road on a small synthetic ground map, to OpenDRIVE."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.scenelog import GeoReference
from recon_carla_bridge.roadnet.carriageways import layout_from_surface
from recon_carla_bridge.roadnet.centerline import fit_centerline
from recon_carla_bridge.roadnet.scene_road import RoadNetConfig, build_scene_road, road_line
from recon_carla_bridge.roadnet.surface import on_carriageway, surface_along_path

ASPHALT, GRASS, PAINT = 0.15, 0.35, 0.6
EGO_T = 0.0  # the ego drives the left lane: its carriageway spans t in [-5.25, 1.75]


def _divided_road_cells(length: float = 100.0, cell: float = 0.25) -> np.ndarray:
    """(C, 4) ground cells x, y, z, reflectance of a straight divided road along x: the ego's carriageway
    (two lanes, a dashed line between them), a 10 m grass median, a 6.5 m oncoming carriageway, grass."""
    xs, ys = np.meshgrid(np.arange(-10.0, length + 10.0, cell), np.arange(-12.0, 28.0, cell), indexing="ij")
    xs, ys = xs.ravel(), ys.ravel()
    reflectance = np.full(xs.shape, GRASS)
    reflectance[(ys > -5.25) & (ys < 1.75)] = ASPHALT
    reflectance[(ys > 11.75) & (ys < 18.25)] = ASPHALT
    dashes = (np.abs(ys + 1.75) < 0.125) & ((xs % 9.0) < 3.0)
    reflectance[dashes] = PAINT
    return np.c_[xs, ys, np.zeros_like(xs), reflectance]


def _ego_path(length: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(0.0, length, 1.0)
    return np.c_[x, np.full_like(x, EGO_T), np.zeros_like(x)], np.zeros_like(x)


def test_finds_both_carriageways_and_the_median() -> None:
    positions, yaws = _ego_path()
    line = fit_centerline(positions[:, :2], yaws, 80.0, 20.0)
    surface = surface_along_path(positions, _divided_road_cells(), line)
    assert surface.found and surface.has_opposite
    assert abs(np.nanmedian(surface.right) + 5.25) <= 0.3 and abs(np.nanmedian(surface.left) - 1.75) <= 0.3
    assert abs(np.nanmedian(surface.opposite_right) - 11.75) <= 0.3 and abs(np.nanmedian(surface.opposite_left) - 18.25) <= 0.3
    layout = layout_from_surface(surface, [])
    assert (layout.same_left, layout.same_right, layout.opposite) == (0, 1, 2)
    assert 9.5 <= layout.median_width <= 10.5 and 3.3 <= layout.lane_width <= 3.7
    # the grass median and the verge are not carriageway
    on = on_carriageway(surface, line, np.array([[50.0, -3.0], [50.0, 6.0], [50.0, 15.0], [50.0, -8.0]]), margin=0.0)
    assert on.tolist() == [True, False, True, False]


def test_no_surface_without_dark_ground() -> None:
    positions, yaws = _ego_path()
    cells = _divided_road_cells()
    cells[:, 3] = GRASS
    line = fit_centerline(positions[:, :2], yaws, 80.0, 20.0)
    assert not surface_along_path(positions, cells, line).found


def test_divided_road_opendrive_in_carla() -> None:
    positions, yaws = _ego_path()
    config = RoadNetConfig()
    surface = surface_along_path(positions, _divided_road_cells(), road_line(positions, yaws, config))
    road = build_scene_road("divided", positions, yaws, [], GeoReference(49.0, 8.4, 115.0, "test"), config, surface)
    assert road.layout.driving_lanes == 4 and road.lane_check.fraction == 1.0
    assert set(road.lane_check.lane_ids) == {-1}
    assert 'type="median"' in road.xodr
