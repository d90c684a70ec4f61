"""One differentiable rasterization entry for training: gsplat on CUDA, the numba CPU rasterizer otherwise.

`rasterize_features` takes world-frame Gaussians with per-Gaussian features and returns the composited
features, the expected depth and the alpha of one camera, with gradients w.r.t. every input. The
backends share the camera model and compositing rule (`raster_reference`):
  "gsplat"     gsplat.rasterization (CUDA);
  "cpu"        `projection.project` (torch) + `raster_grad.composite_cpu` (numba forward and backward);
  "reference"  `projection.project` + `raster_reference.composite_reference` (dense torch, tiny images).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.projection import EPS2D, MAX_EXTEND, NEAR_PLANE

TRAIN_BACKENDS = ("gsplat", "cpu", "reference")


class RasterOutput(NamedTuple):
    """One camera's differentiable render.

    Attributes:
        features: [H, W, D] Σ wᵢ fᵢ (no background).
        depth: [H, W] expected z-depth Σ wᵢ zᵢ / Σ wᵢ [m].
        alpha: [H, W] Σ wᵢ.
        info: gsplat's info dict on CUDA, empty on the CPU.
    """

    features: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor
    info: dict[str, Any]


def train_backend(device: torch.device) -> str:
    """The rasterizer training uses on `device`: gsplat on CUDA, the numba CPU rasterizer otherwise."""
    return "gsplat" if device.type == "cuda" else "cpu"


@torch.no_grad()
def may_touch_image(means: torch.Tensor, log_scales: torch.Tensor, camera_from_world: torch.Tensor, K: torch.Tensor,
                    width: int, height: int) -> torch.Tensor:
    """[N] bool, a superset of the Gaussians `projection.project` keeps: in front of the near plane, with the
    centre within the image grown by a bound on the footprint's radius (3.33 x the largest scale x the
    perspective Jacobian's largest gain, plus the low-pass filter's). Culling the rest before projecting
    saves the CPU path the projection and autograd of the Gaussians behind or beside the camera."""
    cam = means @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    z = cam[:, 2]
    depth = z.clamp_min(NEAR_PLANE)
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    # the Jacobian clamps x/z and y/z to 1.3x the half field of view, so its gain is at most f/z · sqrt(1 + lim²)
    lim_x = max(width - cx, cx) / fx + 0.15 * width / fx
    lim_y = max(height - cy, cy) / fy + 0.15 * height / fy
    gain = max(fx, fy) / depth * math.sqrt(1.0 + lim_x**2 + lim_y**2)
    radius = MAX_EXTEND * (torch.exp(log_scales.max(dim=1).values) * gain + math.sqrt(EPS2D)) + 1.0
    u, v = fx * cam[:, 0] / depth + cx, fy * cam[:, 1] / depth + cy
    return (z >= NEAR_PLANE) & (u + radius > 0) & (u - radius < width) & (v + radius > 0) & (v - radius < height)


def rasterize_features(
    means: torch.Tensor,
    quats: torch.Tensor,
    log_scales: torch.Tensor,
    opacities: torch.Tensor,
    features: torch.Tensor,
    camera_from_world: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    backend: str,
) -> RasterOutput:
    """Render `features` [N, D] of Gaussians (means [N, 3], quats [N, 4], log_scales [N, 3], opacities [N] in
    [0, 1]) with view matrix `camera_from_world` [4, 4] and intrinsics `K` [3, 3] at width x height."""
    if backend == "gsplat":
        from gsplat import rasterization

        image, alphas, info = rasterization(
            means, quats, torch.exp(log_scales), opacities, features[None], camera_from_world[None], K[None],
            width, height, render_mode="RGB+ED", packed=False,
        )
        return RasterOutput(image[0, ..., :-1], image[0, ..., -1], alphas[0, ..., 0], info)
    if backend not in TRAIN_BACKENDS:
        raise InputError(f"training rasterizer: expected one of {TRAIN_BACKENDS}, got {backend!r}")
    from recon_carla_bridge.recon.gaussians import GaussianSet
    from recon_carla_bridge.recon.projection import project

    logits = torch.logit(opacities.clamp(1e-6, 1 - 1e-6))
    no_colour = torch.zeros(means.shape[0], 1, 3, dtype=means.dtype, device=means.device)
    no_tag = torch.zeros(means.shape[0], dtype=torch.int64, device=means.device)
    projected = project(GaussianSet(means, quats, log_scales, logits, no_colour, no_tag), camera_from_world, K, width, height)
    with_depth = torch.cat([features, projected.depths[:, None]], dim=1)
    if backend == "cpu":
        from recon_carla_bridge.recon.raster_grad import composite_cpu as composite
    else:
        from recon_carla_bridge.recon.raster_reference import composite_reference as composite
    image, alpha = composite(projected, with_depth, width, height)
    return RasterOutput(image[..., :-1], image[..., -1] / alpha.clamp_min(1e-10), alpha, {})
