"""Road network: centreline geometry, lane evidence, OpenDRIVE written with scenariogeneration into carla.Map."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack, GeoReference
from recon_carla_bridge.roadnet.centerline import fit_centerline
from recon_carla_bridge.roadnet.evidence import estimate_lane_layout
from recon_carla_bridge.roadnet.scene_road import build_scene_road


def straight_track(track_id: str, lateral: float, direction: float, moving: bool = True) -> ActorTrack:
    boxes = [ActorBox(i, np.array([direction * i * 1.0, lateral, 0.8]), 0.0 if direction > 0 else np.pi) for i in range(10)]
    return ActorTrack(track_id, "vehicle", np.array([4.5, 1.8, 1.5]), moving, boxes)


def test_centerline_follows_a_curved_path() -> None:
    s = np.linspace(0, 30, 31)
    radius = 50.0
    positions = np.c_[radius * np.sin(s / radius), radius * (1 - np.cos(s / radius))]
    line = fit_centerline(positions, s / radius, extension=20.0, segment_length=10.0)
    _, lateral, _ = line.project(positions)
    assert np.abs(lateral).max() < 0.05
    assert np.isclose(line.length, 70.0, atol=0.5)
    offset = line.offset(3.0)
    _, lateral, _ = offset.project(positions)
    assert np.allclose(lateral, -3.0, atol=0.05)


def test_lane_layout_from_neighbours() -> None:
    positions = np.c_[np.linspace(0, 10, 11), np.zeros(11)]
    line = fit_centerline(positions, np.zeros(11), 30.0, 20.0)
    tracks = [straight_track("a", 3.4, 1), straight_track("b", -3.4, 1, moving=False), straight_track("c", 6.8, -1), straight_track("d", 10.2, -1)]
    layout = estimate_lane_layout(tracks, line)
    assert np.isclose(layout.lane_width, 3.4)
    assert (layout.same_left, layout.same_right, layout.opposite) == (1, 1, 2)


def test_scene_road_loads_in_carla_with_ego_in_lane() -> None:
    positions = np.c_[np.linspace(0, 20, 21), 0.01 * np.linspace(0, 20, 21) ** 2, np.zeros(21)]
    yaws = np.arctan(0.02 * positions[:, 0])
    tracks = [straight_track("a", 3.5, 1), straight_track("c", 7.0, -1)]
    road = build_scene_road("unit", positions, yaws, tracks, GeoReference(49.0, 8.4, 0.0, "test"))
    assert road.lane_check.fraction == 1.0
    assert set(road.lane_check.lane_ids) == {-2}  # lane -1 is the one to the ego's left
    assert "<geoReference>" in road.xodr and "lat_0=49.0" in road.xodr
    import carla

    carla_map = carla.Map("unit", road.xodr)
    location = carla_map.transform_to_geolocation(carla.Location(0, 0, 0))
    assert abs(location.latitude - 49.0) < 1e-6 and abs(location.longitude - 8.4) < 1e-6
