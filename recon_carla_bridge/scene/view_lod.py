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
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import HIDDEN_OPACITY_LOGIT, GaussianSet
from recon_carla_bridge.scene.splat_lod import merge_voxels

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.gaussians import GaussianScene
    from recon_carla_bridge.recon.semantics import SemanticPalette

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
        outside = outside_frustum(local, K[:, None], cameras.width, cameras.height)
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


def outside_frustum(local_corners: torch.Tensor, K: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """[...] bool: boxes whose 8 corners (camera frame, OpenCV axes, [..., 8, 3]) all lie behind the camera or beyond
    one side of the image widened by `MARGIN_PX` (intrinsics `K` [..., 3, 3], broadcast against the boxes)."""
    x, y, z = local_corners[..., 0], local_corners[..., 1], local_corners[..., 2]
    fx, fy, cx, cy = K[..., 0, 0, None], K[..., 1, 1, None], K[..., 0, 2, None], K[..., 1, 2, None]
    w, h, m = float(width), float(height), MARGIN_PX
    return ((z <= 0).all(-1) | (fx * x - (w - cx + m) * z > 0).all(-1) | (fx * x + (cx + m) * z < 0).all(-1)
            | (fy * y - (h - cy + m) * z > 0).all(-1) | (fy * y + (cy + m) * z < 0).all(-1))


class ActorLevels:
    """Every actor of a scene (box frame) at the levels of a `ViewLod` ladder, and each drawn vehicle's level: culled
    when its box lies outside the camera's frustum, else the coarsest level whose voxel spans at most `pixel_share`
    of a pixel at the box's nearest point (the background cells' rule)."""

    def __init__(self, pack: GaussianSet, offsets: Sequence[int], sources: Sequence[GaussianSet],
                 voxels: tuple[float, ...], palette: "SemanticPalette") -> None:
        """`pack`, `offsets`: level 0 (`GaussianScene.actor_pack` and `actor_offsets` of the renderer's scene);
        `sources`: each actor's Gaussians (box frame, `actor_pack` order) that the coarser `voxels[1:]` merge."""
        device = pack.means.device
        tracks = len(sources)
        self.voxels = voxels
        sets, starts, sizes = [pack.to("cpu")], [list(offsets[:-1])], [list(np.diff(offsets))]
        offset = pack.count
        for voxel in voxels[1:]:
            merged = [merge_voxels(source.to("cpu"), voxel) for source in sources]
            starts.append(list(offset + np.cumsum([0, *[m.count for m in merged[:-1]]])) if merged else [])
            sizes.append([m.count for m in merged])
            offset += sum(m.count for m in merged)
            sets.extend(merged)
        whole = GaussianSet.concat(sets)
        self.pack = whole.to(device)  # every level's actors, level-major
        self.slots = palette.slots_of(whole.semantic).to(device)
        self.starts = np.asarray(starts, dtype=np.int64).reshape(len(voxels), tracks)  # [L, T]
        self.sizes = np.asarray(sizes, dtype=np.int64).reshape(len(voxels), tracks)
        low, high = np.full((tracks, 3), np.inf), np.full((tracks, 3), -np.inf)
        for level in range(len(voxels)):
            for k in range(tracks):
                rows = slice(int(self.starts[level, k]), int(self.starts[level, k] + self.sizes[level, k]))
                if self.sizes[level, k] == 0:
                    continue
                means = whole.means[rows].double().numpy()
                reach = EXTENT_SIGMA * np.exp(whole.log_scales[rows].double().numpy()).max(axis=1)
                low[k] = np.minimum(low[k], (means - reach[:, None]).min(axis=0))
                high[k] = np.maximum(high[k], (means + reach[:, None]).max(axis=0))
        self.box_low, self.box_high = low, high  # [T, 3] each actor's reach in its box frame, every level

    def levels(self, tracks: np.ndarray, poses: np.ndarray, world_from_camera: np.ndarray, K: np.ndarray,
               width: int, height: int, pixel_share: float = PIXEL_SHARE) -> np.ndarray:
        """[I] int64: the level of each vehicle (track index `tracks` [I], world_from_box `poses` [I, 4, 4], seen by
        the camera `world_from_camera` [I, 4, 4] OpenCV axes with intrinsics `K` [I, 3, 3]), -1 where culled."""
        if len(tracks) == 0:
            return np.zeros(0, dtype=np.int64)
        low, high = self.box_low[tracks], self.box_high[tracks]  # [I, 3]
        empty = ~np.isfinite(low).all(axis=1)
        low, high = np.where(empty[:, None], 0.0, low), np.where(empty[:, None], 0.0, high)
        bits = np.array([[(i >> axis) & 1 for axis in range(3)] for i in range(8)], dtype=bool)  # [8, 3]
        corners = np.where(bits[None], high[:, None], low[:, None])  # [I, 8, 3] box frame
        world = np.einsum("iab,ikb->ika", poses[:, :3, :3], corners) + poses[:, None, :3, 3]
        rotation, centre = world_from_camera[:, :3, :3], world_from_camera[:, :3, 3]
        local = np.einsum("iba,ikb->ika", rotation, world - centre[:, None])
        outside = outside_frustum(torch.from_numpy(local), torch.from_numpy(K), width, height).numpy() | empty
        in_box = np.einsum("iba,ib->ia", poses[:, :3, :3], centre - poses[:, :3, 3])  # the camera in each box frame
        distance = np.linalg.norm(np.maximum(np.maximum(low - in_box, in_box - high), 0.0), axis=1)
        allowed = pixel_share * distance / np.maximum(K[:, 0, 0], K[:, 1, 1])
        level = (np.asarray(self.voxels[1:])[None] <= allowed[:, None]).sum(axis=1)
        return np.where(outside, -1, level).astype(np.int64)


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


_ACTOR_CACHE: dict[tuple[int, tuple[float, ...]], tuple[object, ActorLevels]] = {}


def cached_actor_levels(scene: "GaussianScene", source: "GaussianScene", voxels: tuple[float, ...]) -> ActorLevels:
    """`ActorLevels` of `scene` (level 0: its actor pack) with the coarser `voxels[1:]` merged from `source`'s actors
    (the unmerged scene), built once per scene object and ladder."""
    key = (id(scene), tuple(voxels))
    held = _ACTOR_CACHE.get(key)
    if held is None or held[0] is not scene:
        if len(_ACTOR_CACHE) >= MAX_CACHED:
            _ACTOR_CACHE.pop(next(iter(_ACTOR_CACHE)))
        pack, _, ids = scene.actor_pack
        palette = scene.semantic_slots[0]
        held = (scene, ActorLevels(pack, scene.actor_offsets, [source.actors[i].gaussians for i in ids], voxels, palette))
        _ACTOR_CACHE[key] = held
    return held[1]
