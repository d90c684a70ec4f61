"""CARLA → SceneLog camera pose conversion and the CameraBatch container."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.camera import (
    CameraBatch,
    carla_to_opencv_world_from_camera,
    intrinsics_from_fov,
)


def carla_matrix(x: float, y: float, z: float, yaw_deg: float, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """carla.Transform(Location(x, y, z), Rotation(pitch, yaw, roll)).get_matrix(), written out (UE4 convention)."""
    cy, sy = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    cr, sr = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    return np.array(
        [
            [cp * cy, cy * sp * sr - sy * cr, -cy * sp * cr - sy * sr, x],
            [cp * sy, sy * sp * sr + cy * cr, -sy * sp * cr + cy * sr, y],
            [sp, -cp * sr, cp * cr, z],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def test_yaw_zero_camera_looks_along_x_with_proper_rotation() -> None:
    pose = carla_to_opencv_world_from_camera(carla_matrix(1.0, 2.0, 3.0, 0.0))
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    np.testing.assert_allclose(pose[:3, 2], [1, 0, 0], atol=1e-12)  # optical axis
    np.testing.assert_allclose(pose[:3, 0], [0, -1, 0], atol=1e-12)  # image right = CARLA +y = SceneLog -y
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # image down
    np.testing.assert_allclose(pose[:3, 3], [1.0, -2.0, 3.0])


def test_carla_yaw_right_turn_looks_along_scenelog_minus_y() -> None:
    pose = carla_to_opencv_world_from_camera(carla_matrix(0, 0, 0, 90.0))
    np.testing.assert_allclose(pose[:3, 2], [0, -1, 0], atol=1e-12)


def test_pitch_up_camera_looks_up_and_all_rotations_are_proper() -> None:
    pose = carla_to_opencv_world_from_camera(carla_matrix(0, 0, 0, 0.0, pitch_deg=30.0))
    assert pose[2, 2] == pytest.approx(math.sin(math.radians(30.0)))
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = carla_matrix(*rng.uniform(-50, 50, 3), *rng.uniform(-180, 180, 3))
        rotation = carla_to_opencv_world_from_camera(m)[:3, :3]
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_matches_real_carla_transform() -> None:
    carla = pytest.importorskip("carla")
    transform = carla.Transform(carla.Location(x=3.0, y=-4.0, z=1.5), carla.Rotation(pitch=-10.0, yaw=35.0, roll=5.0))
    ours = carla_matrix(3.0, -4.0, 1.5, 35.0, -10.0, 5.0)
    np.testing.assert_allclose(np.array(transform.get_matrix()), ours, atol=1e-5)


def test_bad_matrix_and_fov_raise_input_error() -> None:
    with pytest.raises(InputError, match="matrix_4x4_carla"):
        carla_to_opencv_world_from_camera(np.eye(3))
    with pytest.raises(InputError):
        intrinsics_from_fov(800, 450, 180.0)
    K = intrinsics_from_fov(800, 450, 90.0)
    assert K[0, 0] == pytest.approx(400.0) and K[1, 2] == pytest.approx(225.0)


def test_camera_batch_validates_and_views_are_inverses() -> None:
    with pytest.raises(InputError, match="world_from_camera"):
        CameraBatch(torch.eye(4), torch.eye(3)[None], 10, 10)
    with pytest.raises(InputError, match="K"):
        CameraBatch(torch.eye(4)[None], torch.eye(3).repeat(2, 1, 1), 10, 10)
    pose = torch.as_tensor(carla_to_opencv_world_from_camera(carla_matrix(1, 2, 3, 40, 10, 5)), dtype=torch.float32)
    batch = CameraBatch(pose[None], torch.eye(3)[None], 8, 6)
    torch.testing.assert_close(batch.camera_from_world()[0] @ pose, torch.eye(4), atol=1e-5, rtol=0)
    centre = batch.ray_directions()[0, 3, 4]  # pixel (4, 3) is the principal point (0, 0) + 0.5 offset ... not exactly
    assert torch.linalg.norm(centre) == pytest.approx(1.0, abs=1e-5)


def test_recon_imports_without_carla_gsplat_or_numba() -> None:
    import subprocess
    import sys

    code = (
        "import sys, recon_carla_bridge.recon, recon_carla_bridge.recon.train, recon_carla_bridge.commands.reconstruct; "
        "bad = [m for m in ('carla', 'gsplat', 'numba') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
