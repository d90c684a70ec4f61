"""Level of detail for low-resolution cameras: a reconstructed scene with its Gaussians merged per voxel.

A 64 x 32 camera (focal length ~32 px) sees a 5 cm Gaussian 8 m away as a twentieth of a pixel, yet the CPU
rasterizer projects, sorts and bins each of the scene's hundreds of thousands of Gaussians for it. A level of
`voxel` metres groups the Gaussians no larger than the voxel by (voxel of their centre, semantic tag) - the background in the world frame,
each actor in its box frame - and replaces each group by one Gaussian that matches the group's first two moments:
mean and covariance of the opacity-and-area-weighted mixture, colour (SH coefficients, linear in colour) the
weighted mean, peak opacity the group's covered area over the merged footprint (capped at the opacity of the
group composited, 1 - prod(1 - o_i)). A group of one Gaussian, and any Gaussian larger than the voxel, is kept as
it is.

`level_for(focal_px)` picks, per camera, the coarsest level whose voxel covers at most `PIXEL_SHARE` of a pixel
`REFERENCE_DISTANCE_M` in front of the camera; cameras of ordinary resolution get none (the full scene).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from recon_carla_bridge.recon.gaussians import GaussianScene, GaussianSet

VOXELS_M = (0.05, 0.1)  # the levels, finest first
REFERENCE_DISTANCE_M = 6.0  # where a level's voxel is compared with a pixel's footprint
MAX_CACHED_SCENES = 4
PIXEL_SHARE = 0.5  # a level is used when its voxel spans at most this share of a pixel at the reference distance


def level_for(focal_px: float) -> float | None:
    """The voxel (m) of the coarsest level a camera of focal length `focal_px` pixels may use; None: full detail."""
    footprint = REFERENCE_DISTANCE_M / max(focal_px, 1e-9)  # metres one pixel spans at the reference distance
    usable = [voxel for voxel in VOXELS_M if voxel <= PIXEL_SHARE * footprint]
    return max(usable) if usable else None


def focal_of(width: int, fov_deg: float) -> float:
    """The focal length in pixels of a CARLA camera (f = w / (2 tan(fov / 2)))."""
    return width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))


def _rotation_matrices(quats: np.ndarray) -> np.ndarray:
    q = quats / np.linalg.norm(quats, axis=1, keepdims=True)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                     np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                     np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], axis=1)


def _quats_of(rotation: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of proper rotation matrices [M, 3, 3] (Shepperd's method, per the largest diagonal term)."""
    m = rotation
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    candidates = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(candidates, axis=1)
    q = np.empty((len(m), 4))
    for case in range(4):
        rows = pick == case
        if not rows.any():
            continue
        r = m[rows]
        if case == 0:
            s = np.sqrt(1.0 + trace[rows]) * 2.0
            q[rows] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                                (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
        elif case == 1:
            s = np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]) * 2.0
            q[rows] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                                (r[:, 0, 2] + r[:, 2, 0]) / s], axis=1)
        elif case == 2:
            s = np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2]) * 2.0
            q[rows] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s,
                                (r[:, 1, 2] + r[:, 2, 1]) / s], axis=1)
        else:
            s = np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1]) * 2.0
            q[rows] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                                (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], axis=1)
    return q


def merge_voxels(gaussians: GaussianSet, voxel: float) -> GaussianSet:
    """The set with its Gaussians merged per (voxel of `voxel` m, semantic tag), moment-matched (module docstring)."""
    if gaussians.count == 0:
        return gaussians
    device = gaussians.means.device
    means = gaussians.means.detach().cpu().double().numpy()
    scales = np.exp(gaussians.log_scales.detach().cpu().double().numpy())
    opacity = 1.0 / (1.0 + np.exp(-gaussians.opacity_logits.detach().cpu().double().numpy()))
    sh = gaussians.sh.detach().cpu().double().numpy()
    semantic = gaussians.semantic.detach().cpu().numpy()
    cells = np.floor(means / voxel).astype(np.int64)
    keys = np.concatenate([cells, semantic[:, None].astype(np.int64)], axis=1)
    large = scales.max(axis=1) > voxel  # larger than the voxel: kept alone (a group of its own)
    keys = np.concatenate([keys, np.where(large, np.arange(len(keys)), -1)[:, None]], axis=1)
    _, group, sizes = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    count = len(sizes)
    ordered = np.sort(scales, axis=1)
    area = ordered[:, 1] * ordered[:, 2]  # the Gaussian seen face-on (its two largest axes)
    weight = opacity * area + 1e-20
    total = np.bincount(group, weight, minlength=count)
    share = weight / total[group]
    mean = np.stack([np.bincount(group, share * means[:, i], minlength=count) for i in range(3)], axis=1)
    rotation = _rotation_matrices(gaussians.quats.detach().cpu().double().numpy())
    offset = means - mean[group]
    covariance_each = np.einsum("nij,nj,nkj->nik", rotation, scales * scales, rotation) + offset[:, :, None] * offset[:, None, :]
    covariance = np.zeros((count, 3, 3))
    np.add.at(covariance, group, share[:, None, None] * covariance_each)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvectors[np.linalg.det(eigenvectors) < 0, :, 0] *= -1.0  # a proper rotation
    merged_scales = np.sqrt(np.clip(eigenvalues, 1e-12, None))
    merged_area = merged_scales[:, 1] * merged_scales[:, 2]
    covered = np.bincount(group, opacity * area, minlength=count)
    composited = 1.0 - np.exp(np.bincount(group, np.log1p(-np.clip(opacity, 0.0, 1.0 - 1e-7)), minlength=count))
    merged_opacity = np.clip(np.minimum(covered / np.maximum(merged_area, 1e-20), composited), 1e-6, 1.0 - 1e-6)
    merged_sh = np.zeros((count, sh.shape[1], 3))
    np.add.at(merged_sh, group, share[:, None, None] * sh)
    first = np.full(count, -1, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group))[::-1]  # one member of each group (its tag)
    result = GaussianSet(
        torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(_quats_of(eigenvectors), dtype=torch.float32),
        torch.as_tensor(np.log(merged_scales), dtype=torch.float32),
        torch.as_tensor(np.log(merged_opacity / (1.0 - merged_opacity)), dtype=torch.float32),
        torch.as_tensor(merged_sh, dtype=torch.float32), gaussians.semantic.detach().cpu()[torch.as_tensor(first)])
    single = torch.as_tensor(sizes == 1)
    keep = torch.as_tensor(first)[single]  # groups of one stay exactly as they were
    original = gaussians.to("cpu")
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
        getattr(result, name)[single] = getattr(original, name)[keep].to(torch.float32)
    return result.to(device)


def scene_at_level(scene: GaussianScene, voxel: float) -> GaussianScene:
    """The scene with its background (world frame) and each actor (box frame) merged at `voxel` m; same actors,
    sky and tags."""
    actors = {track_id: dataclasses.replace(asset, gaussians=merge_voxels(asset.gaussians, voxel))
              for track_id, asset in scene.actors.items()}
    return dataclasses.replace(scene, background=merge_voxels(scene.background, voxel), actors=actors)


_LEVELS: dict[int, tuple[object, dict[float, GaussianScene]]] = {}  # id(scene) -> (scene, {voxel: merged scene})


def cached_level(scene: GaussianScene, voxel: float) -> GaussianScene:
    """`scene_at_level`, built once per scene object and level (worlds of one scene share its Gaussians)."""
    held = _LEVELS.get(id(scene))
    if held is None or held[0] is not scene:
        held = (scene, {})
        if len(_LEVELS) >= MAX_CACHED_SCENES:
            _LEVELS.pop(next(iter(_LEVELS)))
        _LEVELS[id(scene)] = held
    levels = held[1]
    if voxel not in levels:
        levels[voxel] = scene_at_level(scene, voxel)
    return levels[voxel]
