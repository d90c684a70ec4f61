"""SE(3) maths and pose interpolation."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.odometry import fill_poses
from recon_carla_bridge.ingest.scenelog import pose_from_xyz_yaw
from recon_carla_bridge.ingest.se3 import interpolate_pose, quaternion_to_rotation, se3_exp, se3_log, yaw_of
from recon_carla_bridge.ingest.world_frame import normalise_poses


def test_exp_log_inverse() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        twist = rng.normal(size=6) * [2, 2, 2, 0.8, 0.8, 0.8]
        assert np.allclose(se3_log(se3_exp(twist)), twist, atol=1e-8)


def test_interpolation_follows_an_arc() -> None:
    a = pose_from_xyz_yaw(np.zeros(3), 0.0)
    b = pose_from_xyz_yaw(np.array([10.0, 10.0, 0.0]), np.pi / 2)  # quarter circle of radius 10
    middle = interpolate_pose(a, b, 0.5)
    assert np.allclose(middle[:3, 3], [10 * np.sin(np.pi / 4), 10 - 10 * np.cos(np.pi / 4), 0], atol=1e-9)
    assert np.isclose(yaw_of(middle), np.pi / 4)
    assert np.allclose(interpolate_pose(a, b, 0.0), a) and np.allclose(interpolate_pose(a, b, 1.0), b)


def test_fill_poses_interpolates_and_extrapolates() -> None:
    known = {0: pose_from_xyz_yaw(np.zeros(3), 0.0), 2: pose_from_xyz_yaw(np.array([2.0, 0, 0]), 0.0)}
    poses = fill_poses(np.array([0.0, 0.1, 0.2, 0.3]), known)
    assert np.allclose([p[0, 3] for p in poses], [0, 1, 2, 3])


def test_normalised_world_starts_at_origin_along_x() -> None:
    start = pose_from_xyz_yaw(np.array([100.0, -50.0, 3.0]), 2.0)
    later = start @ pose_from_xyz_yaw(np.array([5.0, 0, 0]), 0.0)
    poses, _ = normalise_poses([start, later])
    assert np.allclose(poses[0], np.eye(4)) and np.allclose(poses[1][:3, 3], [5, 0, 0])


def test_quaternion_rotation() -> None:
    half = np.sqrt(0.5)
    assert np.allclose(quaternion_to_rotation(half, 0, 0, half), [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
