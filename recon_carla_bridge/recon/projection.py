"""EWA projection of 3D Gaussians to one pinhole image, in differentiable torch (gsplat's maths).

It follows gsplat 1.5.3's `fully_fused_projection` for pinhole cameras: camera-space covariance
R Σ Rᵀ, the perspective Jacobian with gsplat's 1.3x field-of-view clamp, a low-pass `eps2d` added to
the 2D covariance, an opacity-aware bounding box (extent sqrt(2 ln(o / (1/255))), at most 3.33 σ),
and the same culling (near plane, non-positive determinant, opacity below 1/255, boxes off-image).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from recon_carla_bridge.recon.gaussians import GaussianSet, eval_sh
from recon_carla_bridge.recon.geometry import quat_to_rotmat

ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
TRANSMITTANCE_CUTOFF = 1e-4
NEAR_PLANE = 0.01
EPS2D = 0.3
MAX_EXTEND = 3.33


@dataclass(frozen=True)
class Projected:
    """Gaussians of one set as seen by one camera (culled ones have `valid` False).

    Attributes:
        means2d: [N, 2] pixel coordinates of the centres (pixel centres at integer + 0.5).
        conics: [N, 3] (a, b, c) of the inverse 2D covariance [[a, b], [b, c]] (low-pass included).
        depths: [N] camera z [m].
        radii: [N, 2] int64 half-extent of the bounding box in x and y [px]; 0 where culled.
        opacities: [N] peak opacity in (0, 1).
        colors: [N, 3] view-dependent colour from the SH coefficients.
        valid: [N] bool, False where culled.
    """

    means2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    radii: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor
    valid: torch.Tensor


def project(
    gaussians: GaussianSet,
    camera_from_world: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    eps2d: float = EPS2D,
    near_plane: float = NEAR_PLANE,
) -> Projected:
    """Project `gaussians` (world frame) with view matrix `camera_from_world` [4, 4] and intrinsics `K` [3, 3]."""
    rotation, translation = camera_from_world[:3, :3], camera_from_world[:3, 3]
    means_c = gaussians.means @ rotation.T + translation  # [N, 3]
    x, y, z = means_c.unbind(-1)
    z_safe = torch.where(z > near_plane, z, torch.ones_like(z))

    scales = torch.exp(gaussians.log_scales)
    rot = quat_to_rotmat(gaussians.quats)  # [N, 3, 3]
    m = rot * scales[:, None, :]
    covar = m @ m.transpose(1, 2)  # [N, 3, 3] world
    covar_c = rotation @ covar @ rotation.T  # [N, 3, 3] camera

    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
    lim_x_pos, lim_x_neg = (width - cx) / fx + 0.3 * tan_fovx, cx / fx + 0.3 * tan_fovx
    lim_y_pos, lim_y_neg = (height - cy) / fy + 0.3 * tan_fovy, cy / fy + 0.3 * tan_fovy
    tx = z_safe * torch.minimum(lim_x_pos, torch.maximum(-lim_x_neg, x / z_safe))
    ty = z_safe * torch.minimum(lim_y_pos, torch.maximum(-lim_y_neg, y / z_safe))
    zeros = torch.zeros_like(z)
    jacobian = torch.stack(
        [
            torch.stack([fx / z_safe, zeros, -fx * tx / z_safe**2], -1),
            torch.stack([zeros, fy / z_safe, -fy * ty / z_safe**2], -1),
        ],
        dim=-2,
    )  # [N, 2, 3]
    cov2d = jacobian @ covar_c @ jacobian.transpose(1, 2)  # [N, 2, 2]
    a = cov2d[:, 0, 0] + eps2d
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + eps2d
    det = a * c - b * b
    det_safe = torch.where(det > 0, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)

    opacities = torch.sigmoid(gaussians.opacity_logits)
    with torch.no_grad():
        extend = torch.sqrt(2.0 * torch.log(torch.clamp_min(opacities / ALPHA_THRESHOLD, 1.0))).clamp(max=MAX_EXTEND)
        radius_x = torch.ceil(extend * torch.sqrt(torch.clamp_min(a, 0.0)))
        radius_y = torch.ceil(extend * torch.sqrt(torch.clamp_min(c, 0.0)))
        mx, my = means2d[:, 0], means2d[:, 1]
        valid = (
            (z >= near_plane)
            & (det > 0)
            & (opacities >= ALPHA_THRESHOLD)
            & ((radius_x > 0) | (radius_y > 0))
            & (mx + radius_x > 0)
            & (mx - radius_x < width)
            & (my + radius_y > 0)
            & (my - radius_y < height)
        )
        radii = torch.stack([radius_x, radius_y], dim=-1).to(torch.int64) * valid[:, None]

    camera_position = -rotation.T @ translation
    colors = eval_sh(gaussians.sh, gaussians.means - camera_position)
    return Projected(means2d, conics, z, radii, opacities, colors, valid)
