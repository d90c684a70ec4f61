"""Image losses and metrics: SSIM (11x11 Gaussian window, σ = 1.5) and PSNR, on [H, W, 3] tensors in [0, 1]."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(image: torch.Tensor, target: torch.Tensor, window_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM (scalar, differentiable) of images [H, W, C] or [B, H, W, C] in [0, 1] (valid-region convolution)."""
    x = image if image.ndim == 4 else image[None]
    y = target if target.ndim == 4 else target[None]
    x, y = x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2)
    channels = x.shape[1]
    w = _window(window_size, sigma, channels, x)
    mu_x = F.conv2d(x, w, groups=channels)
    mu_y = F.conv2d(y, w, groups=channels)
    sxx = F.conv2d(x * x, w, groups=channels) - mu_x**2
    syy = F.conv2d(y * y, w, groups=channels) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=channels) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return value.mean()


def psnr(image: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR [dB] of two images in [0, 1] (any equal shapes)."""
    mse = float(torch.mean((image.float() - target.float()) ** 2))
    return float("inf") if mse == 0 else -10.0 * math.log10(mse)
