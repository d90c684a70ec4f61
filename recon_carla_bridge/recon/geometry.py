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


def small_pose(correction: torch.Tensor) -> torch.Tensor:
    """[..., 4, 4] rigid transform of a correction [..., 6]: translation (x, y, z) then rotation vector.

    Rodrigues' formula R = I + a K + b K² (K the skew matrix of the rotation vector, θ its length,
    a = sin θ / θ, b = (1 - cos θ) / θ²) with Taylor terms below 1e-3 rad, so it is exact and
    differentiable at zero (torch.linalg.matrix_exp would do the same at ~100x the cost).
    """
    translation, rotvec = correction[..., :3], correction[..., 3:]
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(rotvec.shape[:-1] + (3, 3))
    theta_sq = (rotvec * rotvec).sum(-1)
    small = theta_sq < 1e-6
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta_sq), theta_sq))
    a = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0, (1.0 - torch.cos(theta)) / (theta * theta))
    eye = torch.eye(3, dtype=correction.dtype, device=correction.device)
    rotation = eye + a[..., None, None] * skew + b[..., None, None] * (skew @ skew)
    top = torch.cat([rotation, translation[..., None]], dim=-1)
    bottom = torch.zeros(correction.shape[:-1] + (1, 4), dtype=correction.dtype, device=correction.device)
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def invert_rigid(pose: torch.Tensor) -> torch.Tensor:
    """[..., 4, 4] inverse of rigid transforms [..., 4, 4] (R^T, -R^T t), differentiable."""
    rotation_t = pose[..., :3, :3].transpose(-1, -2)
    translation = -(rotation_t @ pose[..., :3, 3:4])
    top = torch.cat([rotation_t, translation], dim=-1)
    return torch.cat([top, pose[..., 3:4, :]], dim=-2)
