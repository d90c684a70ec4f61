"""The slow, obvious renderer: every pixel against every Gaussian, dense tensors, no tiles.

It defines what the fast rasterizers must produce (gsplat's compositing rule): Gaussians in
increasing depth; alpha = min(0.999, o · exp(-σ)) with σ = ½ dᵀ Σ⁻¹ d and d from the pixel centre;
alphas below 1/255 (or σ < 0) are skipped; front-to-back accumulation stops before the Gaussian that
would bring transmittance to 1e-4 or below. Pure torch, so it is differentiable (the CPU training
path uses it on tiny images) and deterministic. Memory is O(H·W·N): small cases only.
"""
from __future__ import annotations

import torch

from recon_carla_bridge.recon.projection import (
    ALPHA_THRESHOLD,
    MAX_ALPHA,
    TRANSMITTANCE_CUTOFF,
    Projected,
)


def composite_reference(projected: Projected, features: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha-composite per-Gaussian `features` [N, D] over an image.

    Returns:
        accumulated features [H, W, D] (Σ wᵢ fᵢ) and alpha [H, W] (Σ wᵢ = 1 - final transmittance).
    """
    index = projected.valid.nonzero().squeeze(1)
    index = index[torch.argsort(projected.depths[index], stable=True)]  # front to back
    means2d = projected.means2d[index]  # [M, 2]
    conics = projected.conics[index]  # [M, 3]
    opacities = projected.opacities[index]  # [M]
    feats = features[index]  # [M, D]

    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=means2d.dtype, device=means2d.device) + 0.5,
        torch.arange(width, dtype=means2d.dtype, device=means2d.device) + 0.5,
        indexing="ij",
    )
    dx = means2d[None, :, 0] - xs.reshape(-1, 1)  # [P, M]
    dy = means2d[None, :, 1] - ys.reshape(-1, 1)
    sigma = 0.5 * (conics[:, 0] * dx * dx + conics[:, 2] * dy * dy) + conics[:, 1] * dx * dy
    alpha = torch.clamp_max(opacities * torch.exp(-sigma), MAX_ALPHA)
    alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_THRESHOLD), alpha, torch.zeros_like(alpha))
    transmittance_after = torch.cumprod(1.0 - alpha, dim=1)  # [P, M]
    transmittance_before = torch.cat([torch.ones_like(alpha[:, :1]), transmittance_after[:, :-1]], dim=1)
    included = transmittance_after > TRANSMITTANCE_CUTOFF  # a prefix of each row
    weights = alpha * transmittance_before * included  # [P, M]
    image = (weights @ feats).reshape(height, width, -1)
    alpha_image = weights.sum(dim=1).reshape(height, width)
    return image, alpha_image
