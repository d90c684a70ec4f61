"""GaussianScene: background Gaussians in the world, one Gaussian set per actor in its box frame, a sky.

Shapes use N for a set's Gaussian count and K = (sh_degree + 1)^2 spherical-harmonic coefficients
(sh_degree is 0 or 1: degree-1 coefficients rotate as vectors, so an actor's colours stay right when
the simulator turns it). The frames are the SceneLog's: world right-handed, z up, metres; a box frame
has its origin at the box centre and x along the box length.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Union

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.geometry import quat_multiply, rotmat_to_quat
from recon_carla_bridge.recon.transfer import to_device

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.recon.semantics import SemanticPalette

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
MAX_SH_DEGREE = 1


@dataclass(frozen=True)
class GaussianSet:
    """N anisotropic 3D Gaussians in one frame of reference.

    Attributes:
        means: [N, 3] float32 centres [m].
        quats: [N, 4] float32 orientations (w, x, y, z), not necessarily unit.
        log_scales: [N, 3] float32 log of the standard deviations [log m].
        opacity_logits: [N] float32 logit of the peak opacity.
        sh: [N, K, 3] float32 spherical-harmonic colour coefficients (gsplat's convention:
            colour = SH(dir) + 0.5, clamped at 0).
        semantic: [N] int64 CARLA tags (`semantics.CarlaTag`).
    """

    means: torch.Tensor
    quats: torch.Tensor
    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    sh: torch.Tensor
    semantic: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expected = {
            "means": (self.means, (n, 3)),
            "quats": (self.quats, (n, 4)),
            "log_scales": (self.log_scales, (n, 3)),
            "opacity_logits": (self.opacity_logits, (n,)),
            "semantic": (self.semantic, (n,)),
        }
        for name, (tensor, shape) in expected.items():
            if tuple(tensor.shape) != shape:
                raise InputError(f"GaussianSet.{name}: expected shape {shape}, got {tuple(tensor.shape)}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise InputError(f"GaussianSet.sh: expected [{n}, K, 3], got {tuple(self.sh.shape)}")
        if self.sh.shape[1] not in (1, 4):
            raise InputError(f"GaussianSet.sh: K must be 1 or 4 (SH degree 0 or 1), got {self.sh.shape[1]}")

    @property
    def count(self) -> int:
        """N."""
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """0 or 1."""
        return math.isqrt(self.sh.shape[1]) - 1

    @staticmethod
    def empty(sh_degree: int = 1, device: str | torch.device = "cpu") -> GaussianSet:
        """A set with no Gaussians."""
        k = (sh_degree + 1) ** 2
        zeros = torch.zeros
        return GaussianSet(
            zeros(0, 3, device=device), zeros(0, 4, device=device), zeros(0, 3, device=device),
            zeros(0, device=device), zeros(0, k, 3, device=device), zeros(0, dtype=torch.int64, device=device),
        )

    def to(self, device: str | torch.device) -> GaussianSet:
        """The same set on another device."""
        return GaussianSet(*(getattr(self, f).to(device) for f in _FIELDS))

    def with_sh_degree(self, degree: int) -> GaussianSet:
        """The set with SH coefficients truncated or zero-padded to `degree`."""
        k = (degree + 1) ** 2
        sh = self.sh[:, :k]
        if sh.shape[1] < k:
            sh = torch.cat([sh, sh.new_zeros(sh.shape[0], k - sh.shape[1], 3)], dim=1)
        return GaussianSet(self.means, self.quats, self.log_scales, self.opacity_logits, sh, self.semantic)

    def select(self, index: torch.Tensor) -> GaussianSet:
        """Subset by a boolean mask or integer index [M]."""
        return GaussianSet(*(getattr(self, f)[index] for f in _FIELDS))

    def transformed(self, pose: torch.Tensor) -> GaussianSet:
        """The set moved by the rigid transform `pose` [4, 4] (new frame <- this frame)."""
        pose = pose.to(self.means)
        rotation, translation = pose[:3, :3], pose[:3, 3]
        means = self.means @ rotation.T + translation
        quats = quat_multiply(rotmat_to_quat(rotation).expand_as(self.quats), self.quats)
        sh = self.sh
        if sh.shape[1] == 4:
            sh = torch.cat([sh[:, :1], rotate_sh_band1(sh[:, 1:], rotation)], dim=1)
        return GaussianSet(means, quats, self.log_scales, self.opacity_logits, sh, self.semantic)

    @staticmethod
    def concat(sets: list[GaussianSet]) -> GaussianSet:
        """All Gaussians of `sets` (same SH degree) in one set."""
        if not sets:
            raise InputError("GaussianSet.concat: no sets given")
        return GaussianSet(*(torch.cat([getattr(s, f) for s in sets]) for f in _FIELDS))


_FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh", "semantic")


def rotate_sh_band1(band1: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Degree-1 SH coefficients [N, 3, 3] (coefficients x colour) after rotating the frame by `rotation` ([3, 3] or [N, 3, 3]).

    Band 1 evaluates to -C1 * (y*c1 - z*c2 + x*c3) = C1 * (a . d) with a = (-c3, -c1, c2): a rotates as a vector.
    """
    a = torch.stack([-band1[:, 2], -band1[:, 0], band1[:, 1]], dim=1)  # [N, 3 (xyz), 3 colour]
    a = torch.matmul(rotation.to(band1), a)  # rotation [3, 3] or one per Gaussian [N, 3, 3]
    return torch.stack([-a[:, 1], a[:, 2], -a[:, 0]], dim=1)


def eval_sh(sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Colours [..., N, 3] = clamp_min(SH(dirs) + 0.5, 0) of coefficients [N, K, 3] along unit-or-not dirs [..., N, 3]."""
    colour = SH_C0 * sh[:, 0]
    if sh.shape[1] == 4:
        d = torch.nn.functional.normalize(dirs, dim=-1)
        x, y, z = d[..., 0:1], d[..., 1:2], d[..., 2:3]
        colour = colour + SH_C1 * (-y * sh[:, 1] + z * sh[:, 2] - x * sh[:, 3])
    else:  # degree 0: the same colour along every direction, still one per direction given
        colour = colour.expand(dirs.shape)
    return torch.clamp_min(colour + 0.5, 0.0)


def rgb_to_sh_dc(rgb: torch.Tensor) -> torch.Tensor:
    """DC coefficient [..., 3] giving colour `rgb` [..., 3] (the inverse of eval_sh at degree 0)."""
    return (rgb - 0.5) / SH_C0


@dataclass(frozen=True)
class SkyModel:
    """Sky (and anything beyond the Gaussians) as an equirectangular texture over world directions.

    Attributes:
        texture: [Hs, Ws, 3] float32 colours in [0, 1]; column u spans azimuth atan2(y, x) from -pi to pi,
            row v spans elevation from +90 deg (top) to -90 deg (bottom).
    """

    texture: torch.Tensor

    def __post_init__(self) -> None:
        if self.texture.ndim != 3 or self.texture.shape[2] != 3 or min(self.texture.shape[:2]) < 1:
            raise InputError(f"SkyModel.texture: expected [Hs, Ws, 3], got {tuple(self.texture.shape)}")

    def sample(self, dirs: torch.Tensor) -> torch.Tensor:
        """Sky colours [..., 3] along world directions [..., 3]."""
        return sample_sky_texture(self.texture.to(dirs.device), dirs)

    @staticmethod
    def uniform(rgb: tuple[float, float, float], height: int = 64, width: int = 256) -> SkyModel:
        """A sky of one colour."""
        return SkyModel(torch.tensor(rgb, dtype=torch.float32).expand(height, width, 3).clone())


def sample_sky_texture(texture: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup [..., 3] of an equirectangular texture [Hs, Ws, 3] along directions [..., 3] (differentiable)."""
    d = torch.nn.functional.normalize(dirs.reshape(-1, 3), dim=-1)
    u = torch.atan2(d[:, 1], d[:, 0]) / math.pi
    v = -torch.asin(d[:, 2].clamp(-1.0, 1.0)) / (math.pi / 2)
    grid = torch.stack([u, v], dim=-1)[None, None]  # [1, 1, P, 2]
    image = texture.permute(2, 0, 1)[None]  # [1, 3, Hs, Ws]
    out = torch.nn.functional.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0].T.reshape(dirs.shape)


@dataclass(frozen=True)
class ActorAsset:
    """One actor track's Gaussians, in its box frame, and its (refined) logged trajectory.

    Attributes:
        track_id: the SceneLog track id.
        category: SceneLog category ("vehicle", "pedestrian", "cyclist", "unknown").
        size: [3] float32 box length, width, height [m].
        moving: whether the actor moved in the log.
        gaussians: Gaussians in the box frame (origin at the box centre, x along the length, z up).
        frame_indices: [F] int64 log frames the actor was seen in.
        world_from_box: [F, 4, 4] float32 pose in each of those frames (the log's, refined by training).
    """

    track_id: str
    category: str
    size: torch.Tensor
    moving: bool
    gaussians: GaussianSet
    frame_indices: torch.Tensor
    world_from_box: torch.Tensor

    def pose_at(self, frame_index: int) -> torch.Tensor | None:
        """[4, 4] logged pose in `frame_index`, or None when the actor was not seen then."""
        hits = (self.frame_indices == frame_index).nonzero()
        return None if hits.numel() == 0 else self.world_from_box[int(hits[0, 0])]


@dataclass(frozen=True)
class GaussianScene:
    """A reconstructed scene.

    Attributes:
        background: static Gaussians in the world frame.
        actors: track id -> actor asset (Gaussians in the box frame).
        sky: the sky model.
        metadata: free-form strings (scene name, source, training command, metrics).
        ego_poses: [F, 4, 4] world_from_ego of every log frame as the reconstruction refined it (the log's
            poses corrected by photometric pose refinement; frames without an image interpolated), or None:
            the log's own poses are the scene's.
    """

    background: GaussianSet
    actors: dict[str, ActorAsset]
    sky: SkyModel
    metadata: dict[str, str] = field(default_factory=dict)
    ego_poses: torch.Tensor | None = None

    @property
    def sh_degree(self) -> int:
        """SH degree of the background (actors share it)."""
        return self.background.sh_degree

    @cached_property
    def actor_pack(self) -> tuple[GaussianSet, torch.Tensor, tuple[str, ...]]:
        """Every actor's Gaussians in one set (box frames), the owning actor's index [M], and the track ids."""
        ids = tuple(self.actors)
        if not ids:
            return GaussianSet.empty(self.sh_degree, self.background.means.device), torch.zeros(0, dtype=torch.int64), ids
        sets = [self.actors[i].gaussians for i in ids]
        owner = torch.cat([torch.full((s.count,), k, dtype=torch.int64) for k, s in enumerate(sets)])
        return GaussianSet.concat(sets), owner.to(self.background.means.device), ids

    @cached_property
    def actor_offsets(self) -> list[int]:
        """First `actor_pack` row of each actor, in `actor_pack` order, then the pack's length (A + 1 values)."""
        counts = [self.actors[track_id].gaussians.count for track_id in self.actors]
        return [0, *itertools.accumulate(counts)]

    @cached_property
    def semantic_slots(self) -> tuple["SemanticPalette", torch.Tensor]:
        """The palette of the scene's tags and the slot of every Gaussian [N + M], background then actor pack
        (the order of `compose_world`, so a composed set of n Gaussians takes the first n), computed once:
        finding them per frame would wait for the GPU twice."""
        from recon_carla_bridge.recon.semantics import SemanticPalette

        tags = torch.cat([self.background.semantic, self.actor_pack[0].semantic])
        palette = SemanticPalette.for_tags(tags)
        return palette, palette.slots_of(tags)

    def gaussian_count(self) -> int:
        """Total number of Gaussians (background and every actor)."""
        return self.background.count + sum(a.gaussians.count for a in self.actors.values())

    def camera_pose(self, frame_index: int, logged_world_from_camera: np.ndarray | torch.Tensor,
                    ego_from_camera: np.ndarray | torch.Tensor) -> torch.Tensor:
        """[4, 4] float64 world_from_camera of a logged camera at log frame `frame_index`: mounted on the
        scene's refined ego pose when it has them (`ego_poses`), else the logged pose itself. InputError for
        a frame the refined trajectory does not have (the scene was trained on another log)."""
        if self.ego_poses is None:
            return torch.as_tensor(logged_world_from_camera, dtype=torch.float64).cpu()
        if not 0 <= frame_index < len(self.ego_poses):
            raise InputError(f"log frame {frame_index}: the scene's refined ego trajectory has {len(self.ego_poses)} "
                             "frames (was it trained on this log?)")
        return self.ego_poses[frame_index].double().cpu() @ torch.as_tensor(ego_from_camera, dtype=torch.float64).cpu()

    def logged_actor_poses(self, frame_index: int) -> dict[str, torch.Tensor]:
        """track id -> [4, 4] world_from_box for every actor seen in log frame `frame_index`."""
        poses = {}
        for track_id, actor in self.actors.items():
            pose = actor.pose_at(frame_index)
            if pose is not None:
                poses[track_id] = pose
        return poses


SHADOW_SKIRT_HEIGHT_M = 0.3  # a shadow skirt reaches this far above (and below) the box floor


def outside_actor_box(means: torch.Tensor, size: torch.Tensor, scale: float, margin: float,
                      skirt: float = 0.0) -> torch.Tensor:
    """[N] bool: box-frame centres [N, 3] outside the box of `size` ([3], or [N, 3] per Gaussian) grown
    by `scale` and `margin` metres, and outside its shadow skirt: the road around the box, `skirt`
    metres wide and within SHADOW_SKIRT_HEIGHT_M of the box floor, where the actor may paint the shadow
    it carries along (the one test of training's containment and the load-time pruning)."""
    half = size.to(means) / 2.0
    outside = (means.abs() > half * scale + margin).any(dim=-1)
    if skirt <= 0.0:
        return outside
    return outside & ~in_shadow_skirt(means, size, skirt)


def in_shadow_skirt(means: torch.Tensor, size: torch.Tensor, skirt: float) -> torch.Tensor:
    """[N] bool: box-frame centres [N, 3] on the road around the box of `size` ([3] or [N, 3]), at most
    `skirt` metres from its footprint and SHADOW_SKIRT_HEIGHT_M from its floor."""
    half = size.to(means) / 2.0
    footprint = (means[..., :2].abs() <= half[..., :2] + skirt).all(dim=-1)
    return footprint & ((means[..., 2] + half[..., 2]).abs() <= SHADOW_SKIRT_HEIGHT_M) & (skirt > 0.0)


def prune_actor_outliers(scene: GaussianScene, scale: float = 1.25, margin: float = 0.2,
                         skirt: float = 1.5) -> tuple[GaussianScene, int]:
    """Drop actor Gaussians whose centres lie outside their box (grown by `scale` and `margin` metres)
    and its shadow skirt (`skirt` m of road around it, see `outside_actor_box`).

    Training can park Gaussians of an actor far from it (to explain background or another actor seen
    through it); they move with the actor in simulation and draw ghosts. Returns (scene, number dropped).
    """
    actors = {}
    dropped = 0
    for track_id, actor in scene.actors.items():
        gaussians = actor.gaussians
        if gaussians.count:
            keep = ~outside_actor_box(gaussians.means, actor.size, scale, margin, skirt)
            dropped += int((~keep).sum())
            gaussians = gaussians.select(keep)
        actors[track_id] = ActorAsset(actor.track_id, actor.category, actor.size, actor.moving, gaussians,
                                      actor.frame_indices, actor.world_from_box)
    return dataclasses.replace(scene, actors=actors, metadata=dict(scene.metadata)), dropped


def prune_background_in_actor_boxes(scene: GaussianScene, scale: float = 1.1, clearance: float = 0.3) -> tuple[GaussianScene, int]:
    """Drop background Gaussians inside any actor's box at any logged frame (above `clearance` m from the
    box floor, so the road under the actor stays).

    A vehicle that stood still for part of the log can be baked into the background; once the simulator
    moves it (or the ego drives to where it stood) that copy shows as a ghost. Returns (scene, dropped).
    """
    background = scene.background
    if background.count == 0:
        return scene, 0
    inside = torch.zeros(background.count, dtype=torch.bool, device=background.means.device)
    all_means = background.means
    for actor in scene.actors.values():
        poses = actor.world_from_box.to(all_means)
        if poses.shape[0] == 0:
            continue
        half = actor.size.to(all_means) / 2.0
        reach = float(torch.linalg.norm(half * scale))  # no point of any box lies further from its centre
        low, high = poses[:, :3, 3].min(dim=0).values - reach, poses[:, :3, 3].max(dim=0).values + reach
        near = torch.nonzero(((all_means >= low) & (all_means <= high)).all(dim=1)).flatten()  # the track's reach
        means = all_means[near]
        hit = torch.zeros(len(near), dtype=torch.bool, device=all_means.device)
        chunk = max(1, 4_000_000 // max(len(near), 1))  # poses per batch: a few million point tests at once
        for first in range(0, poses.shape[0], chunk):
            batch = poses[first:first + chunk]  # [P, 4, 4]
            local = torch.einsum("pnk,pkj->pnj", means[None] - batch[:, None, :3, 3], batch[:, :3, :3])  # box frames
            within = (local[..., 0].abs() <= half[0] * scale) & (local[..., 1].abs() <= half[1] * scale)
            within &= (local[..., 2] >= -half[2] + clearance) & (local[..., 2] <= half[2] * scale)
            hit |= within.any(dim=0)
        inside[near[hit]] = True
    kept = dataclasses.replace(scene, background=background.select(~inside), metadata=dict(scene.metadata))
    return kept, int(inside.sum())


HIDDEN_OPACITY_LOGIT = -30.0  # an actor that is not drawn: opacity ~1e-13, below every rasterizer's cut-off


ActorInstances = Union[Mapping[str, Union[torch.Tensor, np.ndarray]], Sequence[tuple[str, Union[torch.Tensor, np.ndarray]]]]


def compose_world(scene: GaussianScene, actor_poses: ActorInstances) -> GaussianSet:
    """Background plus each actor instance in `actor_poses` in the world frame (see `compose_instances`)."""
    return compose_instances(scene, actor_poses)[0]


def compose_instances(scene: GaussianScene, actor_poses: ActorInstances) -> tuple[GaussianSet, torch.Tensor | None]:
    """Background plus every actor instance (track id -> [4, 4] world_from_box, as a mapping or as a sequence
    of (track id, pose) pairs in which a track may appear any number of times), in the world frame.

    The set always holds the background and then every actor's Gaussians in `actor_pack` order (actors not
    named are made transparent, so nothing here waits for the GPU); the second and later instances of a
    track follow as copies of its Gaussians. Returns the set and the `actor_pack` rows those copies came
    from ([E] on the scene's device), or None when there are none. An unknown track id or a non-finite pose
    is an InputError. All instances move in one batch; the poses go to the device in one copy.
    """
    items = list(actor_poses.items()) if isinstance(actor_poses, Mapping) else list(actor_poses)
    if not items:
        return scene.background, None
    pack, owner, ids = scene.actor_pack
    index_of = {track_id: k for k, track_id in enumerate(ids)}
    poses = torch.eye(4).repeat(len(ids), 1, 1)
    drawn = torch.zeros(len(ids), dtype=torch.bool)
    copies: list[tuple[int, torch.Tensor]] = []  # (actor index, pose) of every instance after a track's first
    for track_id, pose in items:
        if track_id not in index_of:
            raise InputError(f"actor_poses: unknown track id {track_id!r}")
        pose_t = torch.as_tensor(pose, dtype=torch.float32).cpu()
        if tuple(pose_t.shape) != (4, 4) or not bool(torch.isfinite(pose_t).all()):
            raise InputError(f"actor_poses[{track_id!r}]: expected a finite 4x4 matrix")
        k = index_of[track_id]
        if drawn[k]:
            copies.append((k, pose_t))
            continue
        poses[k] = pose_t
        drawn[k] = True
    device = scene.background.means.device
    per_actor = to_device(torch.cat([poses.reshape(len(ids), 16), drawn[:, None].to(torch.float32)], dim=1), device)
    stacked, visible = per_actor[:, :16].reshape(-1, 4, 4), per_actor[owner, 16] > 0.5
    moved = place_gaussians(pack, stacked, owner)
    moved = dataclasses.replace(
        moved, opacity_logits=torch.where(visible, moved.opacity_logits, torch.full_like(moved.opacity_logits, HIDDEN_OPACITY_LOGIT)))
    if not copies:
        return GaussianSet.concat([scene.background, moved]), None
    offsets = scene.actor_offsets
    rows = torch.cat([torch.arange(offsets[k], offsets[k + 1]) for k, _ in copies])
    instance = torch.cat([torch.full((offsets[k + 1] - offsets[k],), j, dtype=torch.int64) for j, (k, _) in enumerate(copies)])
    copy_poses = torch.stack([pose for _, pose in copies])
    rows, instance, copy_poses = (to_device(t, device) for t in (rows, instance, copy_poses))
    placed = place_gaussians(pack.select(rows), copy_poses, instance)
    return GaussianSet.concat([scene.background, moved, placed]), rows


def place_gaussians(gaussians: GaussianSet, poses: torch.Tensor, owner: torch.Tensor) -> GaussianSet:
    """Box-frame Gaussians [M] moved into the world by their owner's pose (`poses` [A, 4, 4], `owner` [M])."""
    rotation = poses[owner, :3, :3]  # [M, 3, 3]
    means = torch.matmul(rotation, gaussians.means[:, :, None])[:, :, 0] + poses[owner, :3, 3]
    quats = quat_multiply(rotmat_to_quat(poses[:, :3, :3])[owner], gaussians.quats)
    sh = gaussians.sh
    if sh.shape[1] == 4:
        sh = torch.cat([sh[:, :1], rotate_sh_band1(sh[:, 1:], rotation)], dim=1)
    return GaussianSet(means, quats, gaussians.log_scales, gaussians.opacity_logits, sh, gaussians.semantic)
