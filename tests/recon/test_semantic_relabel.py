"""Semantic tags of trained background Gaussians: the road by the ego path's height, markings from LiDAR."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.recon.init_scene import InitConfig, classify_background
from recon_carla_bridge.recon.semantics import CarlaTag


def test_trained_gaussians_near_the_road_follow_the_ego_paths_ground() -> None:
    path = np.array([[x, 0.0, 0.0] for x in np.arange(0.0, 40.0, 1.0)])
    xyz = np.array([
        [10.0, 0.5, 0.05],  # on the road surface
        [10.0, 0.6, -0.6],  # sunk under it (drawn through it)
        [10.2, 0.5, 5.5],  # a bridge over the road: not road, whatever lies below it in its cell
        [10.2, 0.4, 5.4],
        [20.0, -1.0, 0.02],  # a road marking the LiDAR saw
        [30.0, 2.0, 1.2],  # a car-high thing beside the road
    ])
    rgb = np.full((len(xyz), 3), 0.4)
    lines = np.array([[20.1, -1.0, 0.0]])
    tags = classify_background(xyz, rgb, None, path, InitConfig(), road_lines=lines)
    assert tags.tolist() == [int(CarlaTag.ROADS), int(CarlaTag.ROADS), int(CarlaTag.BUILDING), int(CarlaTag.BUILDING),
                             int(CarlaTag.ROAD_LINE), int(CarlaTag.BUILDING)]
    without_lines = classify_background(xyz, np.full((len(xyz), 3), 0.95), None, path, InitConfig())
    assert int(CarlaTag.ROAD_LINE) not in without_lines.tolist()  # a bright trained Gaussian is no marking
