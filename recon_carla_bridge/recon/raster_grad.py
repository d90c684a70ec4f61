"""The differentiable CPU rasterizer: gsplat's tiled compositing and its backward pass, compiled with numba.

Training on the CPU splits the work as gsplat does on CUDA: the EWA projection (`projection.project`,
torch) gives each Gaussian its 2D centre, conic and opacity with autograd through means, quaternions
and scales; this module alpha-composites per-Gaussian features over the image and, in the backward
pass, returns the gradients of the loss w.r.t. those 2D quantities and the features. Torch's autograd
carries them on through the projection and the SH colours.

Forward, per 16x16 tile (one tile per numba task): each pixel walks the tile's Gaussians front to back
under the compositing rule of `raster_reference` (alpha = min(0.999, o·exp(-σ)), alphas under 1/255 or
σ < 0 skipped, stop before the Gaussian that would bring transmittance to 1e-4 or below) and keeps its
final transmittance and the end of its list. Backward walks the same list back to front, recovering each
transmittance by division (gsplat's scheme):
    C = Σᵢ fᵢ αᵢ Tᵢ  →  ∂C/∂αᵢ = Tᵢ (fᵢ - Sᵢ), Sᵢ = colour composited behind i;
    A = 1 - Π(1 - αᵢ) →  ∂A/∂αᵢ = T_final / (1 - αᵢ);
    αᵢ = o·exp(-σ), σ = ½(a dx² + c dy²) + b dx dy, d = centre - pixel centre (no gradient where clamped).
Each (tile, Gaussian) pair of the tile lists gets its own gradient row, so tiles never write to the same
memory; the rows are summed per Gaussian afterwards. Deterministic for a given thread count and input.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from recon_carla_bridge.recon.projection import (
    ALPHA_THRESHOLD,
    MAX_ALPHA,
    TRANSMITTANCE_CUTOFF,
    Projected,
)
from recon_carla_bridge.recon.raster_cpu import TILE, front_to_back, kernels as forward_kernels

_KERNELS: dict[str, object] = {}
GEOMETRY_COLUMNS = 6  # gradient rows: mean x, mean y, conic a, b, c, opacity, then the features


def _build_kernels() -> dict[str, object]:
    import numba

    @numba.njit(parallel=True, cache=True)
    def forward_kernel(means2d, conics, opacities, features, offsets, flat, tiles_x, width, height, tile,
                       alpha_threshold, max_alpha, t_cutoff, out_image, out_alpha, out_last):  # pragma: no cover
        dims = features.shape[1]
        for t in numba.prange(offsets.shape[0] - 1):
            tx0 = (t % tiles_x) * tile
            ty0 = (t // tiles_x) * tile
            start, end = offsets[t], offsets[t + 1]
            acc = np.zeros(dims, dtype=np.float64)
            for yy in range(ty0, min(ty0 + tile, height)):
                for xx in range(tx0, min(tx0 + tile, width)):
                    px, py = xx + 0.5, yy + 0.5
                    trans = 1.0
                    last = start
                    acc[:] = 0.0
                    for i in range(start, end):
                        g = flat[i]
                        dx, dy = means2d[g, 0] - px, means2d[g, 1] - py
                        sigma = 0.5 * (conics[g, 0] * dx * dx + conics[g, 2] * dy * dy) + conics[g, 1] * dx * dy
                        if sigma < 0.0:
                            continue
                        alpha = min(max_alpha, opacities[g] * math.exp(-sigma))
                        if alpha < alpha_threshold:
                            continue
                        next_t = trans * (1.0 - alpha)
                        if next_t <= t_cutoff:
                            break
                        w = alpha * trans
                        for d in range(dims):
                            acc[d] += w * features[g, d]
                        trans = next_t
                        last = i + 1
                    for d in range(dims):
                        out_image[yy, xx, d] = acc[d]
                    out_alpha[yy, xx] = 1.0 - trans
                    out_last[yy, xx] = last

    @numba.njit(parallel=True, cache=True)
    def backward_kernel(means2d, conics, opacities, features, offsets, flat, tiles_x, width, height, tile,
                        alpha_threshold, max_alpha, out_alpha, out_last, grad_image, grad_alpha,
                        grad_rows):  # pragma: no cover
        dims = features.shape[1]
        for t in numba.prange(offsets.shape[0] - 1):
            tx0 = (t % tiles_x) * tile
            ty0 = (t // tiles_x) * tile
            start = offsets[t]
            behind = np.zeros(dims, dtype=np.float64)
            for yy in range(ty0, min(ty0 + tile, height)):
                for xx in range(tx0, min(tx0 + tile, width)):
                    px, py = xx + 0.5, yy + 0.5
                    t_final = 1.0 - np.float64(out_alpha[yy, xx])
                    trans = t_final
                    d_alpha_out = grad_alpha[yy, xx]
                    behind[:] = 0.0
                    for i in range(out_last[yy, xx] - 1, start - 1, -1):
                        g = flat[i]
                        dx, dy = means2d[g, 0] - px, means2d[g, 1] - py
                        ca, cb, cc = conics[g, 0], conics[g, 1], conics[g, 2]
                        sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                        if sigma < 0.0:
                            continue
                        falloff = math.exp(-sigma)
                        raw = opacities[g] * falloff
                        alpha = min(max_alpha, raw)
                        if alpha < alpha_threshold:
                            continue
                        one_minus = 1.0 - alpha
                        trans = trans / one_minus  # transmittance in front of g
                        w = alpha * trans
                        d_alpha = d_alpha_out * t_final / one_minus
                        for d in range(dims):
                            dc = grad_image[yy, xx, d]
                            grad_rows[i, GEOMETRY_COLUMNS + d] += w * dc
                            d_alpha += trans * (features[g, d] - behind[d]) * dc
                            behind[d] = alpha * features[g, d] + one_minus * behind[d]
                        if raw > max_alpha:
                            continue  # clamped: alpha does not depend on the Gaussian here
                        d_sigma = -d_alpha * alpha
                        grad_rows[i, 0] += d_sigma * (ca * dx + cb * dy)
                        grad_rows[i, 1] += d_sigma * (cc * dy + cb * dx)
                        grad_rows[i, 2] += d_sigma * 0.5 * dx * dx
                        grad_rows[i, 3] += d_sigma * dx * dy
                        grad_rows[i, 4] += d_sigma * 0.5 * dy * dy
                        grad_rows[i, 5] += d_alpha * falloff

    @numba.njit(cache=True)
    def sum_rows(flat, grad_rows, count):  # pragma: no cover
        out = np.zeros((count, grad_rows.shape[1]), dtype=np.float64)
        for i in range(flat.shape[0]):
            g = flat[i]
            for c in range(grad_rows.shape[1]):
                out[g, c] += grad_rows[i, c]
        return out

    return {"forward": forward_kernel, "backward": backward_kernel, "sum_rows": sum_rows}


def kernels() -> dict[str, object]:
    """The compiled numba kernels of this module (compiled, or loaded from numba's cache, on first use)."""
    if not _KERNELS:
        _KERNELS.update(_build_kernels())
    return _KERNELS


def _numpy32(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())


class _CompositeCpu(torch.autograd.Function):
    """Autograd wrapper of the forward and backward kernels over depth-sorted, visible Gaussians."""

    @staticmethod
    def forward(ctx, means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, features: torch.Tensor,
                radii: torch.Tensor, depths: torch.Tensor, width: int, height: int):  # noqa: D102
        count = int(means2d.shape[0])
        order = front_to_back(np.arange(count), _numpy32(depths))
        arrays = [np.ascontiguousarray(_numpy32(x)[order]) for x in (means2d, conics, opacities, features)]
        radii_sorted = np.ascontiguousarray(radii.detach().cpu().numpy().astype(np.float32)[order])
        tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
        offsets, flat = forward_kernels()["bin"](arrays[0], radii_sorted, tiles_x, tiles_y, TILE)
        dims = arrays[3].shape[1]
        image = np.empty((height, width, dims), dtype=np.float32)
        alpha = np.empty((height, width), dtype=np.float32)
        last = np.empty((height, width), dtype=np.int64)
        kernels()["forward"](*arrays, offsets, flat, tiles_x, width, height, TILE, ALPHA_THRESHOLD, MAX_ALPHA,
                             TRANSMITTANCE_CUTOFF, image, alpha, last)
        ctx.saved = (arrays, order, offsets, flat, tiles_x, width, height, alpha, last)
        ctx.mark_non_differentiable(radii, depths)
        device, dtype = means2d.device, means2d.dtype
        return torch.from_numpy(image).to(device, dtype), torch.from_numpy(alpha).to(device, dtype)

    @staticmethod
    def backward(ctx, grad_image: torch.Tensor, grad_alpha: torch.Tensor):  # noqa: D102
        arrays, order, offsets, flat, tiles_x, width, height, alpha, last = ctx.saved
        count, dims = arrays[0].shape[0], arrays[3].shape[1]
        grad_rows = np.zeros((flat.shape[0], GEOMETRY_COLUMNS + dims), dtype=np.float64)
        ks = kernels()
        ks["backward"](*arrays, offsets, flat, tiles_x, width, height, TILE, ALPHA_THRESHOLD, MAX_ALPHA, alpha, last,
                       _numpy32(grad_image), _numpy32(grad_alpha), grad_rows)
        sums = np.empty((count, GEOMETRY_COLUMNS + dims), dtype=np.float64)
        sums[order] = ks["sum_rows"](flat, grad_rows, count)  # back to the caller's order
        grads = torch.from_numpy(sums).to(grad_image.device, grad_image.dtype)
        return grads[:, 0:2], grads[:, 2:5], grads[:, 5], grads[:, GEOMETRY_COLUMNS:], None, None, None, None


def composite_cpu(projected: Projected, features: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Alpha-composite per-Gaussian `features` [N, D] over an image, differentiably, with the numba kernels.

    Same contract as `raster_reference.composite_reference` (gradients flow to `projected.means2d`,
    `.conics`, `.opacities` and to `features`), but tiled and early-terminating: O(H·W·depth complexity).
    Gaussians are binned to tiles by `projected.radii`, as gsplat does.

    Returns:
        accumulated features [H, W, D] (Σ wᵢ fᵢ) and alpha [H, W] (Σ wᵢ = 1 - final transmittance).
    """
    index = projected.valid.nonzero().squeeze(1)
    return _CompositeCpu.apply(
        projected.means2d[index], projected.conics[index], projected.opacities[index], features[index],
        projected.radii[index], projected.depths[index], int(width), int(height),
    )
