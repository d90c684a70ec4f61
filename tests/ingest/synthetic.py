"""Synthetic LiDAR point clouds for the detector and tracker tests: a flat ground and box-shaped vehicles."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.scenelog import pose_from_xyz_yaw


def ground_plane(rng: np.random.Generator) -> np.ndarray:
    """(40000, 3) points of a flat ground (2 cm noise) over 60 m x 60 m around the origin."""
    xy = rng.uniform(-30, 30, size=(40000, 2))
    return np.c_[xy, rng.normal(0, 0.02, len(xy))]


def car_surface(
    center_xy: tuple[float, float],
    yaw: float,
    rng: np.random.Generator,
    size: tuple[float, float, float] = (4.4, 1.8, 1.5),
    count: int = 1500,
) -> np.ndarray:
    """(count, 3) points on the four sides and roof of a box of `size` (length, width, height) standing on
    the ground at `center_xy`, its length along `yaw`."""
    length, width, height = size
    faces = []
    for _ in range(count):
        side = rng.integers(5)
        u, v = rng.uniform(-0.5, 0.5, 2)
        z = rng.uniform(0.35, height)
        if side == 0:
            p = (length / 2, u * width, z)
        elif side == 1:
            p = (-length / 2, u * width, z)
        elif side == 2:
            p = (u * length, width / 2, z)
        elif side == 3:
            p = (u * length, -width / 2, z)
        else:
            p = (u * length, v * width, height)
        faces.append(p)
    local = np.array(faces)
    world = local @ pose_from_xyz_yaw(np.zeros(3), yaw)[:3, :3].T
    world[:, :2] += center_xy
    return world
