"""Rigid-transform helpers used by training: small corrections and their inverses."""
from __future__ import annotations

import math

import torch

from recon_carla_bridge.recon.geometry import invert_rigid, small_pose


def test_zero_correction_is_identity_and_gradients_are_finite_there() -> None:
    correction = torch.zeros(6, requires_grad=True)
    pose = small_pose(correction)
    assert torch.allclose(pose, torch.eye(4))
    (pose[:3, :3] @ torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert bool(torch.isfinite(correction.grad).all())


def test_rotation_vector_turns_about_its_axis_by_its_length() -> None:
    pose = small_pose(torch.tensor([0.5, -1.0, 2.0, 0.0, 0.0, math.pi / 2]))
    assert torch.allclose(pose[:3, :3] @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert torch.allclose(pose[:3, 3], torch.tensor([0.5, -1.0, 2.0]))
    assert torch.allclose(pose[3], torch.tensor([0.0, 0.0, 0.0, 1.0]))


def test_invert_rigid_undoes_the_pose() -> None:
    poses = small_pose(torch.randn(5, 6, generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(invert_rigid(poses) @ poses, torch.eye(4).expand(5, 4, 4), atol=1e-5)
    assert torch.allclose(invert_rigid(poses), torch.linalg.inv(poses), atol=1e-5)


def test_rodrigues_matches_the_matrix_exponential() -> None:
    vectors = torch.cat([torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), torch.full((1, 3), 1e-5)])
    poses = small_pose(torch.cat([torch.zeros(7, 3), vectors], dim=1))
    x, y, z = vectors.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(-1, 3, 3)
    assert torch.allclose(poses[:, :3, :3], torch.linalg.matrix_exp(skew), atol=1e-5)
