"""Per-view level of detail of a scene's background for many low-resolution cameras (the RL vector's batched render).

A 64 x 32 camera (focal ~32 px) sees a metre 30 m away as about one pixel, yet every camera of a batch used to draw
each of the background's ~200k Gaussians. A `ViewLod` cuts the background into `CELL_M` columns of the ground plane
(cells) and keeps each cell at several levels: the given background (level 0) and `splat_lod.merge_voxels` of it
at coarser voxels (`COARSE_VOXELS_M`). For each camera a cell is

* dropped when its box (its Gaussians' centres +- `EXTENT_SIGMA` of their largest scale, at every level) lies
  wholly outside the camera's frustum widened by `MARGIN_PX` pixels (the rasterizers dilate footprints and clamp
  the Jacobian at the image border, so a Gaussian just outside can still touch the border pixels), or
* drawn at the coarsest level whose voxel spans at most `pixel_share` of a pixel at the cell's nearest point
  (the same rule `splat_lod.level_for` applies at a fixed reference distance, here at each cell's own distance).

Gaussians too large for a cell box (`LARGE_M`) sit in coarser cells of their own (`LARGE_CELL_M`), culled alike, with
coarser levels of their own (`LARGE_VOXELS_M`). The selection is a pure function of the camera: the images of a
view do not depend on the other views of its batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import HIDDEN_OPACITY_LOGIT, GaussianSet
from recon_carla_bridge.scene.splat_lod import merge_voxels

CELL_M = 4.0  # side of a cell (ground plane, world x and y)
COARSE_VOXELS_M = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # the coarser levels (those finer than level 0's voxel are skipped)
PIXEL_SHARE = 1.0  # a level is used where its voxel spans at most this share of a pixel (28 dB+ at 64 x 32)
EXTENT_SIGMA = 3.33  # a Gaussian's reach in its largest standard deviations (the rasterizers' cut-off)
LARGE_M = 2.0  # a Gaussian whose reach exceeds this is never merged and lies in a cell of `LARGE_CELL_M` of its own
LARGE_CELL_M = 16.0
LARGE_VOXELS_M = (0.8, 1.6, 3.2, 6.4, 12.8)  # their coarser levels
MARGIN_PX = 4.0  # the frustum test's widening, in pixels on each side


@dataclass(frozen=True)
class BackgroundSelection:
    """Rows of `ViewLod.pool` per view: `index` [B, M] (view b's first `lengths[b]` entries are its own rows, the rest
    the pool's transparent padding row)."""

    index: torch.Tensor
    lengths: list[int]


class ViewLod:
    """A background's cells at several levels of detail, and each camera's choice of them (see the module)."""

    def __init__(self, background: GaussianSet, slots: torch.Tensor, base_voxel: float | None,
                 voxels: tuple[float, ...] = COARSE_VOXELS_M) -> None:
        """`background`: level 0 (the set a camera of this resolution draws without a per-view level), with its
        palette slots; `base_voxel`: the voxel it was merged at (None: not merged)."""
        device = background.means.device
        finest = 0.0 if base_voxel is None else float(base_voxel)
        self.voxels = (finest, *[v for v in voxels if v > finest])
        reach = EXTENT_SIGMA * torch.exp(background.log_scales.detach().cpu()).max(dim=1).values
        large = reach > LARGE_M
        small_index = torch.nonzero(~large).flatten()
        small = background.to("cpu").select(small_index)
        cpu_slots = slots.detach().cpu()
        large_index = torch.nonzero(large).flatten()
        large_set = background.to("cpu").select(large_index)
        # (Gaussians, slots, voxel, next coarser voxel, cell side, large): each kind of cell its own ladder of levels
        groups: list[tuple[GaussianSet, torch.Tensor, float, float, float, bool]] = []
        for source, source_slots, ladder, side, is_large in (
                (small, cpu_slots[small_index], self.voxels, CELL_M, False),
                (large_set, cpu_slots[large_index], (0.0, *LARGE_VOXELS_M), LARGE_CELL_M, True)):
            for level, voxel in enumerate(ladder):
                coarser = ladder[level + 1] if level + 1 < len(ladder) else float("inf")
                merged = source if level == 0 else merge_voxels(source, voxel)
                slots_here = source_slots if level == 0 else _slots_of(merged, source, source_slots)
                groups.append((merged, slots_here, voxel if level else 0.0, coarser, side, is_large))
        pieces_sets, pieces_slots, starts, sizes, cells, piece_voxel, piece_coarser = [], [], [], [], [], [], []
        cell_ids: dict[tuple[int, int, int], int] = {}
        low, high = [], []
        offset = 0
        for gaussians, group_slots, voxel, coarser, side, is_large in groups:
            if gaussians.count == 0:
                continue
            means = gaussians.means.double().numpy()
            keys = np.floor(means[:, :2] / side).astype(np.int64)
            unique, group = np.unique(keys, axis=0, return_inverse=True)
            group = group.reshape(-1)
            order = np.argsort(group, kind="stable")
            counts = np.bincount(group, minlength=len(unique))
            reach_g = EXTENT_SIGMA * np.exp(gaussians.log_scales.double().numpy()).max(axis=1)
            lo, hi = means - reach_g[:, None], means + reach_g[:, None]
            begin = 0
            for g, (kx, ky) in enumerate(unique.tolist()):
                rows = order[begin:begin + counts[g]]
                begin += counts[g]
                cell = cell_ids.setdefault((int(is_large), kx, ky), len(cell_ids))
                if cell == len(low):
                    low.append(np.full(3, np.inf))
                    high.append(np.full(3, -np.inf))
                low[cell] = np.minimum(low[cell], lo[rows].min(axis=0))
                high[cell] = np.maximum(high[cell], hi[rows].max(axis=0))
                index = torch.from_numpy(rows)
                pieces_sets.append(gaussians.select(index))
                pieces_slots.append(group_slots[index])
                starts.append(offset)
                sizes.append(len(rows))
                cells.append(cell)
                piece_voxel.append(voxel)
                piece_coarser.append(coarser)
                offset += len(rows)
        padding = GaussianSet(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 0.0, 0.0]]), torch.full((1, 3), -10.0),
                              torch.full((1,), HIDDEN_OPACITY_LOGIT), torch.zeros(1, *background.sh.shape[1:]),
                              background.semantic[:1].cpu())
        pieces_sets.append(padding)
        pieces_slots.append(cpu_slots[:1])
        self.pool = GaussianSet.concat(pieces_sets).to(device)  # every piece's rows, then the padding row
        self.pool_slots = torch.cat(pieces_slots).to(device)
        self.padding_row = offset
        self.piece_start = torch.tensor(starts, dtype=torch.int64, device=device)
        self.piece_size = torch.tensor(sizes, dtype=torch.int64, device=device)
        self.piece_cell = torch.tensor(cells, dtype=torch.int64, device=device)
        self.piece_voxel = torch.tensor(piece_voxel, dtype=torch.float32, device=device)  # 0: level 0
        self.piece_coarser = torch.tensor(piece_coarser, dtype=torch.float32, device=device)  # its cell's next level
        self.cell_low = torch.tensor(np.array(low), dtype=torch.float32, device=device).reshape(-1, 3)
        self.cell_high = torch.tensor(np.array(high), dtype=torch.float32, device=device).reshape(-1, 3)
        self.full_count = background.count

    @property
    def cells(self) -> int:
        """Number of cells (those of the large Gaussians included)."""
        return int(self.cell_low.shape[0])

    def allowed_voxels(self, cameras: CameraBatch, pixel_share: float = PIXEL_SHARE) -> torch.Tensor:
        """[B, cells]: the largest voxel (m) each camera may draw each cell merged at, -1 where the cell is outside
        its frustum (`pixel_share` 0: every cell in the frustum at level 0)."""
        device = self.cell_low.device
        world_from_camera = cameras.world_from_camera.to(device=device, dtype=torch.float32)
        rotation, centre = world_from_camera[:, :3, :3], world_from_camera[:, :3, 3]
        K = cameras.K.to(device=device, dtype=torch.float32)
        bounds = (self.cell_low, self.cell_high)
        corners = torch.stack([torch.stack([bounds[(i >> axis) & 1][:, axis] for axis in range(3)], dim=1)
                               for i in range(8)], dim=1)  # [cells, 8, 3]
        # camera-frame corners: R^T (corner - centre), [B, cells, 8, 3]
        local = torch.einsum("bji,bckj->bcki", rotation, corners[None] - centre[:, None, None, :])
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        fx, fy, cx, cy = (K[:, 0, 0, None, None], K[:, 1, 1, None, None], K[:, 0, 2, None, None], K[:, 1, 2, None, None])
        width, height, m = float(cameras.width), float(cameras.height), MARGIN_PX
        outside = ((z <= 0).all(-1) | (fx * x - (width - cx + m) * z > 0).all(-1) | (fx * x + (cx + m) * z < 0).all(-1)
                   | (fy * y - (height - cy + m) * z > 0).all(-1) | (fy * y + (cy + m) * z < 0).all(-1))
        nearest = torch.maximum(torch.maximum(self.cell_low[None] - centre[:, None], centre[:, None] - self.cell_high[None]),
                                torch.zeros((), device=device))
        distance = nearest.norm(dim=-1)  # [B, cells]
        focal = torch.maximum(K[:, 0, 0], K[:, 1, 1])[:, None]
        allowed = pixel_share * distance / focal
        return torch.where(outside, torch.full_like(allowed, -1.0), allowed)

    def chosen(self, cameras: CameraBatch, pixel_share: float = PIXEL_SHARE) -> torch.Tensor:
        """[B, pieces] bool: the pieces (a cell at one level) each camera draws: of each cell in its frustum the
        coarsest level allowed (`allowed_voxels`)."""
        allowed = self.allowed_voxels(cameras, pixel_share)[:, self.piece_cell]  # [B, P]
        return (self.piece_voxel[None] <= allowed) & (allowed < self.piece_coarser[None])

    def select(self, cameras: CameraBatch, pixel_share: float = PIXEL_SHARE) -> BackgroundSelection:
        """The pool rows each camera draws (see `BackgroundSelection`): its visible cells'
        rows at their levels (`chosen`), in piece order."""
        device = self.piece_start.device
        chosen = self.chosen(cameras, pixel_share)  # [B, P]
        count = chosen.shape[0]
        view_of, piece_of = torch.nonzero(chosen, as_tuple=True)  # view-major, pieces in order
        sizes = self.piece_size[piece_of]
        lengths = torch.bincount(view_of, weights=sizes.to(torch.float64), minlength=count).to(torch.int64)
        rows = max(int(lengths.max()) if count else 0, 1)
        before = torch.cumsum(sizes, 0) - sizes
        firsts = torch.searchsorted(view_of, torch.arange(count, device=device))
        within = before - before[firsts.clamp_max(max(len(view_of) - 1, 0))[view_of]] if len(view_of) else before
        item = torch.repeat_interleave(torch.arange(len(piece_of), device=device), sizes)
        local = torch.arange(item.numel(), device=device) - before[item]
        index = torch.full((count * rows,), self.padding_row, dtype=torch.int64, device=device)
        index[view_of[item] * rows + within[item] + local] = self.piece_start[piece_of][item] + local
        return BackgroundSelection(index.reshape(count, rows), [int(n) for n in lengths.tolist()])


def _slots_of(merged: GaussianSet, source: GaussianSet, source_slots: torch.Tensor) -> torch.Tensor:
    """Palette slots of merged Gaussians: the slot of a source Gaussian of the same semantic tag (slots follow tags)."""
    table = {int(tag): int(slot) for tag, slot in zip(source.semantic.tolist(), source_slots.tolist())}
    return torch.tensor([table[int(tag)] for tag in merged.semantic.tolist()], dtype=source_slots.dtype)


MAX_CACHED = 4
_CACHE: dict[tuple[int, float | None], tuple[GaussianSet, ViewLod]] = {}


def cached_view_lod(background: GaussianSet, slots: torch.Tensor, base_voxel: float | None) -> ViewLod:
    """`ViewLod(background, slots, base_voxel)`, built once per background object (the renderers of one scene
    share it)."""
    key = (id(background), base_voxel)
    held = _CACHE.get(key)
    if held is None or held[0] is not background:
        if len(_CACHE) >= MAX_CACHED:
            _CACHE.pop(next(iter(_CACHE)))
        held = (background, ViewLod(background, slots, base_voxel))
        _CACHE[key] = held
    return held[1]
