"""The fast CPU rasterizer: gsplat's tiled algorithm compiled with numba.

Why numba and not vectorised torch: the cost of splatting is dominated by the per-pixel front-to-back
loop, which gsplat stops as soon as a pixel's transmittance falls under 1e-4. Vectorised torch cannot
stop a pixel early: it has to evaluate every (pixel, Gaussian) pair of a tile, or sort millions of
(pixel, Gaussian) pairs, which on 2 cores is several times slower than this per-pixel loop. Numba
compiles the same loop gsplat's CUDA kernel runs (16x16 tiles, Gaussians binned per tile in depth
order, early termination per pixel), one tile per task, so the result is deterministic.

Pipeline per camera: `_project_kernel` (EWA projection + SH colour, one Gaussian per task) →
depth sort (`front_to_back`) → `_bin_kernel` (counting sort of Gaussians into tiles) → `_raster_kernel`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from recon_carla_bridge.recon.projection import (
    ALPHA_THRESHOLD,
    EPS2D,
    MAX_ALPHA,
    NEAR_PLANE,
    TRANSMITTANCE_CUTOFF,
)

TILE = 16
_KERNELS: dict[str, object] = {}


@dataclass(frozen=True)
class CpuFrame:
    """What the CPU rasterizer returns for one camera.

    Attributes:
        rgb: [H, W, 3] float32 accumulated colour (no sky), Σ wᵢ cᵢ.
        depth_sum: [H, W] float32 Σ wᵢ zᵢ (divide by alpha for the expected depth).
        alpha: [H, W] float32 Σ wᵢ.
        slot: [H, W] int32 palette slot with the largest weight, the sky slot competing with weight 1 - alpha.
    """

    rgb: np.ndarray
    depth_sum: np.ndarray
    alpha: np.ndarray
    slot: np.ndarray


def _build_kernels() -> dict[str, object]:
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False)
    def project_kernel(means, quats, log_scales, opacity_logits, sh, view, K, width, height, eps2d, near,
                       out_packed, out_visible):  # pragma: no cover - compiled
        # out_packed columns: x, y, conic a, b, c, opacity, r, g, b, depth, ln(255 · opacity), radius x, radius y
        n = means.shape[0]
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
        lim_xp, lim_xn = (width - cx) / fx + 0.3 * tan_fovx, cx / fx + 0.3 * tan_fovx
        lim_yp, lim_yn = (height - cy) / fy + 0.3 * tan_fovy, cy / fy + 0.3 * tan_fovy
        # camera centre in the world: -Rᵀ t
        cam = np.zeros(3)
        for i in range(3):
            cam[i] = -(view[0, i] * view[0, 3] + view[1, i] * view[1, 3] + view[2, i] * view[2, 3])
        degree1 = sh.shape[1] == 4
        for g in numba.prange(n):
            out_visible[g] = False
            px, py, pz = means[g, 0], means[g, 1], means[g, 2]
            x = view[0, 0] * px + view[0, 1] * py + view[0, 2] * pz + view[0, 3]
            y = view[1, 0] * px + view[1, 1] * py + view[1, 2] * pz + view[1, 3]
            z = view[2, 0] * px + view[2, 1] * py + view[2, 2] * pz + view[2, 3]
            if z < near:
                continue
            opacity = 1.0 / (1.0 + math.exp(-opacity_logits[g]))
            if opacity < 1.0 / 255.0:
                continue
            qw, qx, qy, qz = quats[g, 0], quats[g, 1], quats[g, 2], quats[g, 3]
            qn = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
            qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
            r00 = 1 - 2 * (qy * qy + qz * qz); r01 = 2 * (qx * qy - qw * qz); r02 = 2 * (qx * qz + qw * qy)
            r10 = 2 * (qx * qy + qw * qz); r11 = 1 - 2 * (qx * qx + qz * qz); r12 = 2 * (qy * qz - qw * qx)
            r20 = 2 * (qx * qz - qw * qy); r21 = 2 * (qy * qz + qw * qx); r22 = 1 - 2 * (qx * qx + qy * qy)
            s0, s1, s2 = math.exp(log_scales[g, 0]), math.exp(log_scales[g, 1]), math.exp(log_scales[g, 2])
            # M = view_R · R_q · S (camera-space square root of the covariance), rows 0..2
            m00 = (view[0, 0] * r00 + view[0, 1] * r10 + view[0, 2] * r20) * s0
            m01 = (view[0, 0] * r01 + view[0, 1] * r11 + view[0, 2] * r21) * s1
            m02 = (view[0, 0] * r02 + view[0, 1] * r12 + view[0, 2] * r22) * s2
            m10 = (view[1, 0] * r00 + view[1, 1] * r10 + view[1, 2] * r20) * s0
            m11 = (view[1, 0] * r01 + view[1, 1] * r11 + view[1, 2] * r21) * s1
            m12 = (view[1, 0] * r02 + view[1, 1] * r12 + view[1, 2] * r22) * s2
            m20 = (view[2, 0] * r00 + view[2, 1] * r10 + view[2, 2] * r20) * s0
            m21 = (view[2, 0] * r01 + view[2, 1] * r11 + view[2, 2] * r21) * s1
            m22 = (view[2, 0] * r02 + view[2, 1] * r12 + view[2, 2] * r22) * s2
            tx = z * min(lim_xp, max(-lim_xn, x / z))
            ty = z * min(lim_yp, max(-lim_yn, y / z))
            # J rows: (fx/z, 0, -fx tx/z²), (0, fy/z, -fy ty/z²); T = J · M (2x3); cov2d = T Tᵀ
            j00, j02 = fx / z, -fx * tx / (z * z)
            j11, j12 = fy / z, -fy * ty / (z * z)
            t00 = j00 * m00 + j02 * m20; t01 = j00 * m01 + j02 * m21; t02 = j00 * m02 + j02 * m22
            t10 = j11 * m10 + j12 * m20; t11 = j11 * m11 + j12 * m21; t12 = j11 * m12 + j12 * m22
            ca = t00 * t00 + t01 * t01 + t02 * t02 + eps2d
            cb = t00 * t10 + t01 * t11 + t02 * t12
            cc = t10 * t10 + t11 * t11 + t12 * t12 + eps2d
            det = ca * cc - cb * cb
            if det <= 0.0:
                continue
            extend = min(3.33, math.sqrt(2.0 * math.log(max(opacity * 255.0, 1.0))))
            rx = math.ceil(extend * math.sqrt(ca))
            ry = math.ceil(extend * math.sqrt(cc))
            if rx <= 0 and ry <= 0:
                continue
            mx = fx * x / z + cx
            my = fy * y / z + cy
            if mx + rx <= 0 or mx - rx >= width or my + ry <= 0 or my - ry >= height:
                continue
            out_visible[g] = True
            out_packed[g, 0], out_packed[g, 1] = mx, my
            out_packed[g, 2], out_packed[g, 3], out_packed[g, 4] = cc / det, -cb / det, ca / det
            out_packed[g, 5] = opacity
            out_packed[g, 9] = z
            out_packed[g, 10] = math.log(255.0 * opacity)
            out_packed[g, 11], out_packed[g, 12] = rx, ry
            dx, dy, dz = px - cam[0], py - cam[1], pz - cam[2]
            dn = math.sqrt(dx * dx + dy * dy + dz * dz)
            if dn > 0:
                dx, dy, dz = dx / dn, dy / dn, dz / dn
            for ch in range(3):
                value = 0.28209479177387814 * sh[g, 0, ch]
                if degree1:
                    value += 0.4886025119029199 * (-dy * sh[g, 1, ch] + dz * sh[g, 2, ch] - dx * sh[g, 3, ch])
                out_packed[g, 6 + ch] = max(value + 0.5, 0.0)

    @numba.njit(cache=True)
    def bin_kernel(centers, radii, tiles_x, tiles_y, tile):  # pragma: no cover - compiled
        # centers [M, 2] and radii [M, 2] (pixels) of Gaussians in depth order
        n = centers.shape[0]
        counts = np.zeros(tiles_x * tiles_y + 1, dtype=np.int64)
        bounds = np.empty((n, 4), dtype=np.int64)
        for g in range(n):
            x0 = max(0, int(math.floor((centers[g, 0] - radii[g, 0]) / tile)))
            x1 = min(tiles_x - 1, int(math.floor((centers[g, 0] + radii[g, 0]) / tile)))
            y0 = max(0, int(math.floor((centers[g, 1] - radii[g, 1]) / tile)))
            y1 = min(tiles_y - 1, int(math.floor((centers[g, 1] + radii[g, 1]) / tile)))
            bounds[g, 0], bounds[g, 1], bounds[g, 2], bounds[g, 3] = x0, x1, y0, y1
            for ty in range(y0, y1 + 1):
                for tx in range(x0, x1 + 1):
                    counts[ty * tiles_x + tx + 1] += 1
        offsets = np.cumsum(counts)
        fill = offsets[:-1].copy()
        flat = np.empty(offsets[-1], dtype=np.int32)
        for g in range(n):  # g is already in depth order, so each tile's list is too
            for ty in range(bounds[g, 2], bounds[g, 3] + 1):
                for tx in range(bounds[g, 0], bounds[g, 1] + 1):
                    t = ty * tiles_x + tx
                    flat[fill[t]] = g
                    fill[t] += 1
        return offsets, flat

    @numba.njit(parallel=True, cache=True, fastmath=True)
    def raster_kernel(packed, slots, offsets, flat, order, tiles_x, width, height, tile, num_slots, sky_slot,
                      alpha_threshold, max_alpha, t_cutoff, out_rgb, out_depth, out_alpha, out_slot):  # pragma: no cover
        # packed columns: x, y, conic a, b, c, opacity, r, g, b, depth, ln(255 · opacity), radius x, radius y
        half, zero, one, two = np.float32(0.5), np.float32(0.0), np.float32(1.0), np.float32(2.0)
        max_alpha, alpha_threshold, t_cutoff = np.float32(max_alpha), np.float32(alpha_threshold), np.float32(t_cutoff)
        for k in numba.prange(order.shape[0]):
            t = order[k]
            tx0 = (t % tiles_x) * tile
            ty0 = (t // tiles_x) * tile
            tw = min(tile, width - tx0)
            th = min(tile, height - ty0)
            size = tile * tile
            trans = np.ones(size, dtype=np.float32)
            done = np.zeros(size, dtype=np.bool_)
            acc = np.zeros((size, 4), dtype=np.float32)
            weights = np.zeros((size, num_slots), dtype=np.float32)
            active = tw * th
            for i in range(offsets[t], offsets[t + 1]):
                g = flat[i]
                mx, my = packed[g, 0], packed[g, 1]
                rx, ry = packed[g, 11], packed[g, 12]
                # the pixels whose centre lies in the Gaussian's box (alpha < 1/255 everywhere else)
                x0 = max(0, int(math.ceil(mx - rx - half)) - tx0)
                x1 = min(tw - 1, int(math.floor(mx + rx - half)) - tx0)
                y0 = max(0, int(math.ceil(my - ry - half)) - ty0)
                y1 = min(th - 1, int(math.floor(my + ry - half)) - ty0)
                if x0 > x1 or y0 > y1:
                    continue
                ca, cb, cc, opacity = packed[g, 2], packed[g, 3], packed[g, 4], packed[g, 5]
                cr, cg, cbl, depth, log_limit = packed[g, 6], packed[g, 7], packed[g, 8], packed[g, 9], packed[g, 10]
                slot = slots[g]
                for yy in range(y0, y1 + 1):
                    dy = my - (ty0 + yy + half)
                    # columns of this row inside the ellipse sigma <= ln(255 o), widened by one pixel each side
                    # (the per-pixel test below stays the exact rule)
                    qb = cb * dy
                    disc = qb * qb - ca * (cc * dy * dy - two * log_limit)
                    if disc < zero:
                        continue
                    root = math.sqrt(disc)
                    base = mx - tx0 - half
                    xa = max(x0, int(math.floor(base - (root - qb) / ca)) - 1)
                    xb = min(x1, int(math.ceil(base + (root + qb) / ca)) + 1)
                    row = yy * tile
                    for xx in range(xa, xb + 1):
                        p = row + xx
                        if done[p]:
                            continue
                        dx = mx - (tx0 + xx + half)
                        sigma = half * (ca * dx * dx + cc * dy * dy) + cb * dx * dy
                        if sigma < zero or sigma > log_limit:
                            continue
                        alpha = min(max_alpha, opacity * math.exp(-sigma))
                        if alpha < alpha_threshold:
                            continue
                        next_t = trans[p] * (one - alpha)
                        if next_t <= t_cutoff:
                            done[p] = True
                            active -= 1
                            continue
                        w = alpha * trans[p]
                        acc[p, 0] += w * cr
                        acc[p, 1] += w * cg
                        acc[p, 2] += w * cbl
                        acc[p, 3] += w * depth
                        weights[p, slot] += w
                        trans[p] = next_t
                if active == 0:
                    break
            for yy in range(th):
                for xx in range(tw):
                    p = yy * tile + xx
                    py_, px_ = ty0 + yy, tx0 + xx
                    out_rgb[py_, px_, 0] = acc[p, 0]
                    out_rgb[py_, px_, 1] = acc[p, 1]
                    out_rgb[py_, px_, 2] = acc[p, 2]
                    out_depth[py_, px_] = acc[p, 3]
                    out_alpha[py_, px_] = one - trans[p]
                    weights[p, sky_slot] += trans[p]
                    best = 0
                    for s in range(1, num_slots):
                        if weights[p, s] > weights[p, best]:
                            best = s
                    out_slot[py_, px_] = best

    return {"project": project_kernel, "bin": bin_kernel, "raster": raster_kernel}


def kernels() -> dict[str, object]:
    """The compiled numba kernels (compiled, or loaded from numba's cache, on first use)."""
    if not _KERNELS:
        _KERNELS.update(_build_kernels())
    return _KERNELS


def set_threads(threads: int) -> None:
    """Use `threads` CPU threads for the numba kernels (capped at numba's maximum)."""
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def _tile_order(count: int) -> np.ndarray:
    """A fixed shuffle of the tiles, so that the threads' static split gets equal shares of busy tiles."""
    return np.random.default_rng(0).permutation(count)


def _as_f32(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())


def front_to_back(index: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """`index` ([M] int) sorted by `depths[index]` (float32, all > 0), ties in index order: one sort of
    64-bit keys (the depth's bits, which order like the depth for positive floats, then the index), about
    twice as fast as numpy's stable argsort of the depths."""
    keys = (depths[index].view(np.uint32).astype(np.uint64) << np.uint64(32)) | index.astype(np.uint64)
    keys.sort()
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


def rasterize_cpu(
    means: torch.Tensor,
    quats: torch.Tensor,
    log_scales: torch.Tensor,
    opacity_logits: torch.Tensor,
    sh: torch.Tensor,
    slots: torch.Tensor,
    camera_from_world: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    num_slots: int,
    sky_slot: int,
    eps2d: float = EPS2D,
) -> CpuFrame:
    """Render one camera on the CPU.

    Args:
        means, quats, log_scales, opacity_logits, sh: world-frame Gaussians ([N, 3], [N, 4], [N, 3], [N], [N, K, 3]).
        slots: [N] palette slot of each Gaussian's semantic tag.
        camera_from_world: [4, 4] view matrix; K: [3, 3] intrinsics.
        width, height: image size; num_slots: palette size; sky_slot: palette slot of Sky.
    """
    ks = kernels()
    n = int(means.shape[0])
    packed = np.empty((n, 13), dtype=np.float32)
    visible = np.empty(n, dtype=np.bool_)
    ks["project"](
        _as_f32(means), _as_f32(quats), _as_f32(log_scales), _as_f32(opacity_logits), _as_f32(sh),
        camera_from_world.detach().to("cpu", torch.float64).numpy(), K.detach().to("cpu", torch.float64).numpy(),
        float(width), float(height), float(eps2d), float(NEAR_PLANE), packed, visible,
    )
    index = front_to_back(np.flatnonzero(visible), packed[:, 9])
    packed = packed[index]  # [M, 13] in depth order
    slot_array = slots.detach().cpu().numpy().astype(np.int64)[index]
    tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
    offsets, flat = ks["bin"](np.ascontiguousarray(packed[:, :2]), np.ascontiguousarray(packed[:, 11:13]), tiles_x, tiles_y, TILE)
    order = _tile_order(tiles_x * tiles_y)
    rgb = np.empty((height, width, 3), dtype=np.float32)
    depth_sum = np.empty((height, width), dtype=np.float32)
    alpha = np.empty((height, width), dtype=np.float32)
    slot = np.empty((height, width), dtype=np.int32)
    ks["raster"](
        packed, slot_array, offsets, flat, order, tiles_x, width, height, TILE, int(num_slots), int(sky_slot),
        ALPHA_THRESHOLD, MAX_ALPHA, TRANSMITTANCE_CUTOFF, rgb, depth_sum, alpha, slot,
    )
    return CpuFrame(rgb, depth_sum, alpha, slot)

