"""Small rigid-body helpers on torch tensors (quaternions are w, x, y, z)."""
from __future__ import annotations

import torch


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices of (not necessarily unit) quaternions [..., 4] (w, x, y, z)."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(quats.shape[:-1] + (3, 3))


def rotmat_to_quat(rotation: torch.Tensor) -> torch.Tensor:
    """[..., 4] unit quaternions (w >= 0) of rotation matrices [..., 3, 3]."""
    m = rotation
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = torch.stack(
        [
            torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
        ],
        dim=-2,
    )  # [..., 4 candidates, 4]
    diagonal = torch.stack([trace, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = diagonal.argmax(-1, keepdim=True)[..., None].expand(diagonal.shape[:-1] + (1, 4))
    quat = torch.nn.functional.normalize(candidates.gather(-2, best).squeeze(-2), dim=-1)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a ⊗ b of quaternions [..., 4] (rotation b first, then a)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def yaw_pose(center: torch.Tensor, yaw: torch.Tensor) -> torch.Tensor:
    """[..., 4, 4] poses translated by `center` [..., 3] and rotated by `yaw` [...] rad about z."""
    cos, sin = torch.cos(yaw), torch.sin(yaw)
    zero, one = torch.zeros_like(yaw), torch.ones_like(yaw)
    rows = [
        torch.stack([cos, -sin, zero, center[..., 0]], -1),
        torch.stack([sin, cos, zero, center[..., 1]], -1),
        torch.stack([zero, zero, one, center[..., 2]], -1),
        torch.stack([zero, zero, zero, one], -1),
    ]
    return torch.stack(rows, dim=-2)


def transform_points(pose: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Points [N, 3] mapped by the rigid transform `pose` [4, 4]."""
    return points @ pose[:3, :3].T + pose[:3, 3]
