"""The differentiable CPU rasterizer: gsplat's tiled compositing and its backward pass, compiled with numba.

Training on the CPU splits the work as gsplat does on CUDA: the EWA projection (`projection.project`,
torch) gives each Gaussian its 2D centre, conic and opacity with autograd through means, quaternions
and scales; this module alpha-composites per-Gaussian features over the image and, in the backward
pass, returns the gradients of the loss w.r.t. those 2D quantities and the features. Torch's autograd
carries them on through the projection and the SH colours.

Forward, per 16x16 tile (one tile per numba task): the tile's Gaussians, front to back, are splatted on
the pixels of their ellipse σ <= ln(255·o) (row spans, as `raster_cpu`) under the compositing rule of
`raster_reference` (alpha = min(0.999, o·exp(-σ)), alphas under 1/255 or σ < 0 skipped, a pixel stops
before the Gaussian that would bring its transmittance to 1e-4 or below); each pixel keeps its final
transmittance and the end of its list. Backward walks the same list back to front, recovering each
pixel's transmittance by division (gsplat's scheme):
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
            tw, th = min(tile, width - tx0), min(tile, height - ty0)
            start = offsets[t]
            trans = np.ones(tile * tile, dtype=np.float64)
            done = np.zeros(tile * tile, dtype=np.bool_)
            acc = np.zeros((tile * tile, dims), dtype=np.float64)
            last = np.full(tile * tile, start, dtype=np.int64)
            active = tw * th
            for i in range(start, offsets[t + 1]):
                g = flat[i]
                ca, cb, cc, opacity = conics[g, 0], conics[g, 1], conics[g, 2], opacities[g]
                log_limit = math.log(255.0 * opacity)
                base = means2d[g, 0] - tx0 - 0.5
                for yy in range(th):
                    dy = means2d[g, 1] - (ty0 + yy + 0.5)
                    # the columns (dx = base - column) that can lie in the ellipse sigma <= ln(255 o), widened by
                    # one each side; the per-pixel test stays the exact rule (inlined: a jitted helper called
                    # from these closures would defeat numba's cache)
                    qb = cb * dy
                    disc = qb * qb - ca * (cc * dy * dy - 2.0 * log_limit)
                    if disc < 0.0:
                        continue
                    root = math.sqrt(disc)
                    first = max(0, int(math.floor(base - (root - qb) / ca)) - 1)
                    final = min(tw - 1, int(math.ceil(base + (root + qb) / ca)) + 1)
                    for xx in range(first, final + 1):
                        p = yy * tile + xx
                        if done[p]:
                            continue
                        dx = base - xx
                        sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                        if sigma < 0.0 or sigma > log_limit:
                            continue
                        alpha = min(max_alpha, opacity * math.exp(-sigma))
                        if alpha < alpha_threshold:
                            continue
                        next_t = trans[p] * (1.0 - alpha)
                        if next_t <= t_cutoff:
                            done[p] = True
                            active -= 1
                            continue
                        w = alpha * trans[p]
                        for d in range(dims):
                            acc[p, d] += w * features[g, d]
                        trans[p] = next_t
                        last[p] = i + 1
                if active == 0:
                    break
            for yy in range(th):
                for xx in range(tw):
                    p = yy * tile + xx
                    for d in range(dims):
                        out_image[ty0 + yy, tx0 + xx, d] = acc[p, d]
                    out_alpha[ty0 + yy, tx0 + xx] = 1.0 - trans[p]
                    out_last[ty0 + yy, tx0 + xx] = last[p]

    @numba.njit(parallel=True, cache=True)
    def backward_kernel(means2d, conics, opacities, features, offsets, flat, tiles_x, width, height, tile,
                        alpha_threshold, max_alpha, out_alpha, out_last, grad_image, grad_alpha,
                        grad_rows):  # pragma: no cover
        dims = features.shape[1]
        for t in numba.prange(offsets.shape[0] - 1):
            tx0 = (t % tiles_x) * tile
            ty0 = (t // tiles_x) * tile
            tw, th = min(tile, width - tx0), min(tile, height - ty0)
            start = offsets[t]
            size = tile * tile
            t_final = np.ones(size, dtype=np.float64)
            last = np.full(size, start, dtype=np.int64)
            d_image = np.zeros((size, dims), dtype=np.float64)
            d_out_alpha = np.zeros(size, dtype=np.float64)
            end = start
            for yy in range(th):
                for xx in range(tw):
                    p = yy * tile + xx
                    t_final[p] = 1.0 - np.float64(out_alpha[ty0 + yy, tx0 + xx])
                    last[p] = out_last[ty0 + yy, tx0 + xx]
                    end = max(end, last[p])
                    d_out_alpha[p] = grad_alpha[ty0 + yy, tx0 + xx]
                    for d in range(dims):
                        d_image[p, d] = grad_image[ty0 + yy, tx0 + xx, d]
            trans = t_final.copy()  # walking back: the transmittance in front of the current Gaussian
            behind = np.zeros((size, dims), dtype=np.float64)  # what is composited behind it
            grad_features = np.zeros(dims, dtype=np.float64)
            for i in range(end - 1, start - 1, -1):
                g = flat[i]
                ca, cb, cc, opacity = conics[g, 0], conics[g, 1], conics[g, 2], opacities[g]
                log_limit = math.log(255.0 * opacity)
                base = means2d[g, 0] - tx0 - 0.5
                g_mx = g_my = g_a = g_b = g_c = g_o = 0.0
                grad_features[:] = 0.0
                for yy in range(th):
                    dy = means2d[g, 1] - (ty0 + yy + 0.5)
                    # the columns (dx = base - column) that can lie in the ellipse sigma <= ln(255 o), widened by
                    # one each side; the per-pixel test stays the exact rule (inlined: a jitted helper called
                    # from these closures would defeat numba's cache)
                    qb = cb * dy
                    disc = qb * qb - ca * (cc * dy * dy - 2.0 * log_limit)
                    if disc < 0.0:
                        continue
                    root = math.sqrt(disc)
                    first = max(0, int(math.floor(base - (root - qb) / ca)) - 1)
                    final = min(tw - 1, int(math.ceil(base + (root + qb) / ca)) + 1)
                    for xx in range(first, final + 1):
                        p = yy * tile + xx
                        if i >= last[p]:
                            continue
                        dx = base - xx
                        sigma = 0.5 * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                        if sigma < 0.0 or sigma > log_limit:
                            continue
                        falloff = math.exp(-sigma)
                        alpha = min(max_alpha, opacity * falloff)
                        if alpha < alpha_threshold:
                            continue
                        one_minus = 1.0 - alpha
                        trans[p] /= one_minus
                        w = alpha * trans[p]
                        d_alpha = d_out_alpha[p] * t_final[p] / one_minus
                        for d in range(dims):
                            dc = d_image[p, d]
                            grad_features[d] += w * dc
                            d_alpha += trans[p] * (features[g, d] - behind[p, d]) * dc
                            behind[p, d] = alpha * features[g, d] + one_minus * behind[p, d]
                        if opacity * falloff > max_alpha:
                            continue  # clamped: alpha does not depend on the Gaussian here
                        d_sigma = -d_alpha * alpha
                        g_mx += d_sigma * (ca * dx + cb * dy)
                        g_my += d_sigma * (cc * dy + cb * dx)
                        g_a += d_sigma * 0.5 * dx * dx
                        g_b += d_sigma * dx * dy
                        g_c += d_sigma * 0.5 * dy * dy
                        g_o += d_alpha * falloff
                grad_rows[i, 0], grad_rows[i, 1], grad_rows[i, 2] = g_mx, g_my, g_a
                grad_rows[i, 3], grad_rows[i, 4], grad_rows[i, 5] = g_b, g_c, g_o
                for d in range(dims):
                    grad_rows[i, GEOMETRY_COLUMNS + d] = grad_features[d]

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
