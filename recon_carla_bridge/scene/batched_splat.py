"""Many worlds' cameras of one reconstructed scene, rendered in one call (the RL vector env's camera observations).

A `CameraView` is one camera (its CARLA pose) and the vehicles of its own world (track id, world_from_box), as
`SplatBackend.actor_instances` lists them. Each view's Gaussians are what `compose_instances` builds for its world
alone (the background, each drawn track's Gaussians at its pose, then the further instances of a track) less the
transparent Gaussians of the tracks not drawn; the sets are padded with transparent Gaussians to the longest of the batch. On CUDA the sets
are the batch dimension of ONE gsplat rasterization (B sets, one camera each; the actors of one world never reach
another world's camera); on the CPU the numba rasterizer loops over them. Colour only: the sky and the road plane
fill the remaining transmittance (`recon.render.finish`), encoded as the rgb camera's bytes (`encode_on_device`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Sequence

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera, intrinsics_from_fov
from recon_carla_bridge.recon.gaussians import HIDDEN_OPACITY_LOGIT, GaussianSet, eval_sh, place_gaussians
from recon_carla_bridge.recon.render import choose_backend, finish, ground_plane
from recon_carla_bridge.recon.transfer import to_device
from recon_carla_bridge.scene.view_lod import (PIXEL_SHARE, ActorLevels, BackgroundSelection, ViewLod,
                                               cached_actor_levels, cached_view_lod)

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.gaussians import GaussianScene


@dataclass(frozen=True)
class CameraView:
    """One camera of one world: its pose and the vehicles drawn in its world."""

    world_from_camera: np.ndarray  # (4, 4) CARLA frame (carla.Transform.get_matrix), the camera looks along +x
    instances: Sequence[tuple[str, np.ndarray]]  # (track id, (4, 4) SceneLog world_from_box) of every drawn vehicle


class ActorBatch(NamedTuple):
    """The actor part of B views' Gaussian sets (world frame): rows [B, R] with R the longest view's; `lengths[b]`
    rows of view b are its own (see `BatchedSplatRenderer.compose`), the rest transparent padding."""

    gaussians: GaussianSet  # [B * R] rows, view-major
    slots: torch.Tensor  # [B * R] palette slots (the rasterizer's semantic input)
    rows: int  # R
    lengths: list[int]


class BatchedSplatRenderer:
    """RGB images of B views of one scene, width × height pixels, `fov` degrees, in one batch."""

    def __init__(self, scene: "GaussianScene", width: int, height: int, fov: float, backend: str = "auto",
                 tile_size: int = 16, view_lod: bool = False, pixel_share: float | None = None) -> None:
        """`scene` is rendered on its own device: CUDA with backend gsplat, the CPU with backend cpu. `tile_size`:
        gsplat's tiles (pixels a side; the images do not depend on it, the time does). `view_lod`: each view draws
        the background cells in its frustum at a level of detail chosen from their distance (`scene.view_lod`, on
        the level `splat_lod` picks for this resolution on either backend); `pixel_share` overrides its rule
        (0: frustum culling only)."""
        self.backend = choose_backend(backend)
        if self.backend not in ("gsplat", "cpu"):
            raise InputError(f"backend: the batched renderer runs gsplat or cpu, got {self.backend!r}")
        self.device = scene.background.means.device
        if (self.device.type == "cuda") != (self.backend == "gsplat"):
            raise InputError(f"BatchedSplatRenderer: backend {self.backend} needs the scene on "
                             f"{'CUDA' if self.backend == 'gsplat' else 'the CPU'}, it is on {self.device}")
        voxel, source = None, scene
        if self.backend == "cpu" or view_lod:  # the level of detail the world's low-resolution CPU cameras render
            from recon_carla_bridge.scene.splat_lod import cached_level, focal_of, level_for

            voxel = level_for(focal_of(int(width), fov))
            scene = scene if voxel is None else cached_level(scene, voxel)
        self.scene, self.width, self.height, self.tile_size = scene, int(width), int(height), int(tile_size)
        self.intrinsics = intrinsics_from_fov(self.width, self.height, fov)
        pack, owner, ids = scene.actor_pack
        self._pack, self._owner, self._tracks = pack, owner, len(ids)
        self._index_of = {track_id: k for k, track_id in enumerate(ids)}
        self._offsets = scene.actor_offsets
        self._palette, self._all_slots = scene.semantic_slots
        self.ground = ground_plane(scene)
        background = scene.background
        self._background_activated = (torch.exp(background.log_scales), torch.sigmoid(background.opacity_logits))
        self.view_lod: ViewLod | None = None
        self.actor_levels: ActorLevels | None
        if view_lod:
            self.pixel_share = PIXEL_SHARE if pixel_share is None else float(pixel_share)
            self.view_lod = cached_view_lod(background, self._all_slots[:background.count], voxel)
            pool = self.view_lod.pool
            self._pool_activated = (torch.exp(pool.log_scales), torch.sigmoid(pool.opacity_logits))
            self.actor_levels = cached_actor_levels(scene, source, self.view_lod.voxels)
            self._pack, self._actor_slots = self.actor_levels.pack, self.actor_levels.slots
            self._starts, self._sizes = self.actor_levels.starts, self.actor_levels.sizes
        else:
            self.actor_levels = None
            self._actor_slots = self._all_slots[background.count:]
            offsets = np.asarray(self._offsets, dtype=np.int64)
            self._starts, self._sizes = offsets[None, :-1], np.diff(offsets)[None]  # [levels, tracks]: one level

    # ---- composition ------------------------------------------------------------------------------------------
    def compose(self, views: Sequence[CameraView], cameras: CameraBatch | None = None) -> ActorBatch:
        """Every view's actors at their poses (see `ActorBatch`); an unknown track id or a non-finite pose is an
        InputError naming the view. A view's rows are `compose_instances`' without its transparent ones (the
        actors not drawn), which no rasterizer draws: each drawn track's Gaussians in `actor_pack` order, then the
        further instances of a track in the order given. With per-view levels (`view_lod`) and the views'
        `cameras`, a vehicle outside a camera's frustum is left out and the others drawn at their levels
        (`view_lod.ActorLevels`)."""
        instances: list[tuple[int, int, np.ndarray]] = []  # (view, track index, pose) in every view's row order
        for b, view in enumerate(views):
            first: dict[int, np.ndarray] = {}
            further: list[tuple[int, np.ndarray]] = []
            for track_id, pose in view.instances:
                k = self._index_of.get(track_id)
                if k is None:
                    raise InputError(f"views[{b}]: unknown track id {track_id!r}")
                pose = np.asarray(pose, dtype=np.float32)
                if pose.shape != (4, 4) or not np.isfinite(pose).all():
                    raise InputError(f"views[{b}] track {track_id!r}: expected a finite 4x4 world_from_box")
                if k in first:
                    further.append((k, pose))
                else:
                    first[k] = pose
            instances.extend((b, k, first[k]) for k in sorted(first))
            instances.extend((b, k, pose) for k, pose in further)
        view_of = np.array([b for b, _, _ in instances], dtype=np.int64)
        track_of = np.array([k for _, k, _ in instances], dtype=np.int64)
        level_of = np.zeros(len(instances), dtype=np.int64)
        if self.actor_levels is not None and cameras is not None and instances:
            poses = np.stack([pose for _, _, pose in instances]).astype(np.float64)
            world_from_camera = cameras.world_from_camera.detach().cpu().double().numpy()[view_of]
            K = cameras.K.detach().cpu().double().numpy()[view_of]
            level_of = self.actor_levels.levels(track_of, poses, world_from_camera, K, self.width, self.height,
                                                self.pixel_share)
            kept = np.flatnonzero(level_of >= 0)
            instances = [instances[i] for i in kept]
            view_of, track_of, level_of = view_of[kept], track_of[kept], level_of[kept]
        sizes = self._sizes[level_of, track_of]
        lengths = np.bincount(view_of, weights=sizes, minlength=len(views)).astype(np.int64)
        rows = int(max(lengths.max(initial=0), 1))
        # where each instance's rows start in the padded [B, R] layout: its view's row, after the view's earlier ones
        before = np.cumsum(sizes) - sizes
        firsts = np.searchsorted(view_of, np.arange(len(views)))  # instances are grouped by view, in view order
        within = before - before[firsts[view_of]] if len(instances) else before
        device = self.device
        table = np.stack([pose for _, _, pose in instances] + [np.eye(4, dtype=np.float32)])  # + the padding's pose
        per_instance = np.stack([view_of * rows + within, self._starts[level_of, track_of], sizes]) if len(instances) else \
            np.zeros((3, 0), dtype=np.int64)
        table_t = to_device(torch.from_numpy(table), device)
        dest_start, source_start, size_t = to_device(torch.from_numpy(per_instance), device)
        instance_of_row = torch.repeat_interleave(torch.arange(len(instances), device=device), size_t)
        local = torch.arange(instance_of_row.numel(), device=device) - (torch.cumsum(size_t, 0) - size_t)[instance_of_row]
        row_index = torch.zeros(len(views) * rows, dtype=torch.int64, device=device)  # padding: row 0, hidden
        owner = torch.full((len(views) * rows,), len(instances), dtype=torch.int64, device=device)
        destination = dest_start[instance_of_row] + local
        row_index[destination] = source_start[instance_of_row] + local
        owner[destination] = instance_of_row
        placed = place_gaussians(self._pack.select(row_index), table_t, owner)
        hidden = owner == len(instances)
        opacity = torch.where(hidden, torch.full_like(placed.opacity_logits, HIDDEN_OPACITY_LOGIT), placed.opacity_logits)
        placed = GaussianSet(placed.means, placed.quats, placed.log_scales, opacity, placed.sh, placed.semantic)
        slots = self._actor_slots[row_index]
        return ActorBatch(placed, slots, rows, [int(n) for n in lengths])

    def cameras(self, views: Sequence[CameraView]) -> CameraBatch:
        """The views' cameras (OpenCV axes, SceneLog world) on the renderer's device."""
        poses = np.stack([carla_to_opencv_world_from_camera(view.world_from_camera) for view in views])
        return CameraBatch.from_numpy(poses, self.intrinsics, self.width, self.height).to(self.device)

    # ---- rendering -------------------------------------------------------------------------------------------
    def render(self, views: Sequence[CameraView]) -> np.ndarray:
        """(B, H, W, 3) uint8 RGB, one image per view (as the world's rgb camera at that pose would deliver it)."""
        return self.render_on_device(views).cpu().numpy()

    def render_on_device(self, views: Sequence[CameraView]) -> torch.Tensor:
        """`render`'s images as a (B, H, W, 3) uint8 tensor on the renderer's device."""
        if not views:
            return torch.zeros((0, self.height, self.width, 3), dtype=torch.uint8)
        cameras = self.cameras(views)
        actors = self.compose(views, cameras)
        with torch.no_grad():
            selection = None if self.view_lod is None else self.view_lod.select(cameras, self.pixel_share)
            if self.backend == "gsplat":
                rgb, alpha = self._rasterize_gsplat(actors, cameras, selection)
            else:
                rgb, alpha = self._rasterize_cpu(actors, cameras, selection)
            zeros = torch.zeros_like(alpha)
            output = finish(rgb, zeros, alpha, zeros.to(torch.int64), self._palette, self.scene.sky.texture.to(self.device),
                            cameras, self.ground)
            return (torch.nan_to_num(output.rgb).clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)

    def gaussians_per_view(self, views: Sequence[CameraView]) -> list[int]:
        """How many Gaussians each view's set holds (background rows drawn for it and its actors' rows; padding not
        counted)."""
        cameras = self.cameras(views)
        actors = self.compose(views, cameras)
        if self.view_lod is None:
            return [self.scene.background.count + n for n in actors.lengths]
        selection = self.view_lod.select(cameras, self.pixel_share)
        return [n + m for n, m in zip(selection.lengths, actors.lengths)]

    def _rasterize_cpu(self, actors: ActorBatch, cameras: CameraBatch,
                       selection: BackgroundSelection | None) -> tuple[torch.Tensor, torch.Tensor]:
        from recon_carla_bridge.recon.raster_cpu import rasterize_cpu

        background, views = self.scene.background, cameras.camera_from_world()
        background_slots = self._all_slots[:background.count]
        rgb, alpha = [], []
        for b in range(cameras.num_cameras):
            own = slice(b * actors.rows, (b + 1) * actors.rows)
            if selection is not None and self.view_lod is not None:
                rows = selection.index[b, :selection.lengths[b]]
                background, background_slots = self.view_lod.pool.select(rows), self.view_lod.pool_slots[rows]
            world = GaussianSet.concat([background, actors.gaussians.select(torch.arange(own.start, own.stop))])
            slots = torch.cat([background_slots, actors.slots[own]])
            frame = rasterize_cpu(world.means, world.quats, world.log_scales, world.opacity_logits, world.sh, slots,
                                  views[b], cameras.K[b], self.width, self.height, self._palette.size,
                                  self._palette.sky_slot)
            rgb.append(torch.from_numpy(frame.rgb))
            alpha.append(torch.from_numpy(frame.alpha))
        return torch.stack(rgb), torch.stack(alpha)

    def _rasterize_gsplat(self, actors: ActorBatch, cameras: CameraBatch,
                          selection: BackgroundSelection | None) -> tuple[torch.Tensor, torch.Tensor]:
        from gsplat import rasterization

        count, rows = cameras.num_cameras, actors.rows
        placed = actors.gaussians
        campos = cameras.world_from_camera[:, :3, 3]  # [B, 3]
        if selection is None or self.view_lod is None:  # every view draws the whole background
            background = self.scene.background
            scales_bg, opacity_bg = self._background_activated

            def shared(values: torch.Tensor) -> torch.Tensor:
                return values.expand(count, *values.shape)

            colours_bg = eval_sh(background.sh, background.means[None] - campos[:, None])  # [B, N_bg, 3]
        else:  # each view its own rows of the level-of-detail pool
            background, index = self.view_lod.pool, selection.index
            scales_bg, opacity_bg = self._pool_activated

            def shared(values: torch.Tensor) -> torch.Tensor:
                return values[index]

            flat = index.reshape(-1)
            directions = background.means[flat].reshape(*index.shape, 3) - campos[:, None]
            colours_bg = eval_sh(background.sh[flat], directions.reshape(-1, 3)).reshape(*index.shape, 3)

        def stacked(background_values: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
            return torch.cat([shared(background_values), own.reshape(count, rows, *own.shape[1:])], dim=1)

        means = stacked(background.means, placed.means)
        quats = stacked(background.quats, placed.quats)
        scales = stacked(scales_bg, torch.exp(placed.log_scales))
        opacities = stacked(opacity_bg, torch.sigmoid(placed.opacity_logits))
        owner_camera = torch.arange(count, device=self.device).repeat_interleave(rows)
        colours_own = eval_sh(placed.sh, placed.means - campos[owner_camera]).reshape(count, rows, 3)
        colours = torch.cat([colours_bg, colours_own], dim=1)  # [B, N, 3]: one camera per set
        image, alphas, _ = rasterization(means, quats, scales, opacities, colours,
                                         cameras.camera_from_world()[:, None], cameras.K[:, None],
                                         self.width, self.height, render_mode="RGB", packed=False,
                                         tile_size=self.tile_size)
        return image[:, 0], alphas[:, 0, ..., 0]  # [B, H, W, 3], [B, H, W]
