"""Training a GaussianScene from a SceneLog (gsplat on CUDA, the numba CPU rasterizer without CUDA).

The algorithm, top to bottom (`train`):
  1. initialise Gaussians from LiDAR (`init_scene.initial_scene`); hold out every 8th frame (or the split
     `holdout` / `train_frames` name); images at the chosen resolution (`resolution_scale`, `width`);
  2. each step, render one training view: actor Gaussians are moved from their box frames by the
     logged box pose composed with a learned per-(actor, frame) correction (x, y, z, yaw); actors not
     seen in that frame are hidden; the sky texture fills the remaining transmittance; the ego pose gets
     a learned per-frame rigid correction in its own frame, shared by the frame's cameras (odometry and
     interpolation errors of the log), and the
     image a learned per-frame affine colour transform (auto exposure and white balance);
  3. loss = 0.8 L1 + 0.2 (1 - SSIM) + depth_weight · |log z_render - log z_lidar| at LiDAR pixels
     + lidar_alpha_weight · (1 - alpha) at LiDAR pixels (the sky may not paint what the LiDAR hit)
     + actor_alpha_weight · (1 - actor coverage) at LiDAR pixels on actors (no ghosts when actors move)
     + MCMC's opacity and scale regularisers + a small penalty on the pose corrections;
  4. Adam steps; the camera corrections lose their slow part (components slower than
     `camera_drift_period` frames, `drift_remover`), so they fix the log's jitter but cannot drift with the scene: the
     scene stays registered to the logged trajectory that the simulator drives; then MCMC densification
     (`densify.GroupedMCMC`) relocates dead Gaussians within their group (background or actors) and adds
     new ones up to cap_max (which bounds the scene file's size), keeping `background_share` of them for
     the background, and perturbs positions;
  5. every `clear_boxes_every` steps, background Gaussians inside actor boxes and actor Gaussians outside
     their own box are made transparent (MCMC moves them elsewhere), and actor Gaussians' scales are
     capped: an actor may only learn itself, and the background may not learn an actor;
  6. every `shadow_every` steps, background Gaussians that sit behind an actor's box in every training
     view that frames them (`shadows.always_behind_actors`: e.g. the road behind a car that drove ahead of
     the ego all along) are made transparent, and on export dropped: they could only learn the car through
     it, and would draw a ghost of it once the simulator moves the car;
  7. evaluate PSNR/SSIM on held-out frames, with every per-frame correction (actors, camera, colour)
     interpolated from the neighbouring training frames — never fitted to a held-out image; export the
     GaussianScene with the refined actor trajectories, the refined ego trajectory (`ego_poses`: the log's
     poses with their corrections, interpolated on frames without a training image) and the mean colour
     transform of the training frames baked into its colours, and evaluate the exported scene again as
     the simulator renders it (the scene's ego and actor trajectories, no per-frame colour).
Rendering goes through `rasterize.rasterize_features`: gsplat on CUDA; on the CPU the torch projection and
the numba tile rasterizer with its backward pass (`raster_grad`), the same model, losses, densification
and export, with MCMC's relocation in torch and no position noise (gsplat's noise kernel is CUDA-only).
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import SceneLog
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
    eval_sh,
    outside_actor_box,
    sample_sky_texture,
)
from recon_carla_bridge.recon.densify import GroupedMCMC
from recon_carla_bridge.recon.geometry import invert_rigid, quat_multiply, rotmat_to_quat, small_pose, yaw_pose
from recon_carla_bridge.recon.init_scene import InitConfig, initial_scene
from recon_carla_bridge.recon.log_views import held_out_split, list_views, scaled_size, scaled_view
from recon_carla_bridge.recon.metrics import psnr, ssim
from recon_carla_bridge.recon.rasterize import may_touch_image, rasterize_features, train_backend
from recon_carla_bridge.recon.semantics import CarlaTag
from recon_carla_bridge.recon.shadows import ShadowView, always_behind_actors, shadow_views
from recon_carla_bridge.recon.train_data import ViewTensors, load_view_tensors

_BACKEND_NAMES = {"gsplat": "gsplat CUDA rasterizer", "cpu": "numba CPU rasterizer", "reference": "reference rasterizer"}
MIN_TRAIN_SIZE = 11  # px: the SSIM window
_SET_KEYS = ("means", "quats", "scales", "opacities", "sh0", "shN")
_IDENTITY_COLOUR = torch.cat([torch.eye(3), torch.zeros(3, 1)], dim=1)  # [3, 4]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of `train`.

    Attributes:
        iterations: optimisation steps.
        device: "cuda" (gsplat) or "cpu" (numba CPU rasterizer; use a reduced resolution).
        max_minutes: stop early after this much wall time (None: no limit).
        cap_max: most Gaussians in the scene (MCMC's cap; bounds the file size).
        ssim_weight: weight of 1 - SSIM against L1.
        depth_weight: weight of the LiDAR log-depth L1 (weighted by the rendered alpha at each return).
        lidar_alpha_weight: weight of 1 - alpha at pixels with a LiDAR return (keeps the sky off solid things).
        actor_alpha_weight: weight of 1 - (actor Gaussians' accumulated weight) at pixels whose LiDAR return
            lies in an actor's box (actors stay opaque, so moving one leaves no ghost behind).
        opacity_reg: MCMC opacity regulariser.
        scale_reg: MCMC scale regulariser.
        pose_reg: weight of the squared actor pose corrections (metres and radians).
        camera_reg: weight of the squared ego pose corrections (metres and radians; "camera" because every
            camera of the frame moves with them).
        colour_reg: weight of the squared deviation of the colour transforms from identity.
        scene_scale: length [m] that scales the position learning rate.
        lr_means, lr_scales, lr_quats, lr_opacities, lr_sh0, lr_shN, lr_sky: Adam learning rates
            (lr_means decays exponentially to 1 % over the run).
        lr_pose_translation, lr_pose_yaw: Adam learning rates of the actor corrections.
        pose_refine_start: step from which actor and ego (camera) corrections are optimised.
        lr_camera_translation, lr_camera_rotation: Adam learning rates of the per-frame ego pose corrections,
            in the ego's frame (0: off).
        lr_colour: Adam learning rate of the per-frame colour transforms (0: off).
        refine_start, refine_every, refine_stop_fraction: MCMC schedule (growth stops at this fraction of
            the run, of its iterations or of its time budget).
        relocate_stop_fraction: dead Gaussians are relocated until this fraction of the run (>= the growth
            stop: the budget stays in use instead of dying under the opacity regulariser).
        noise_lr: MCMC position-noise scale.
        clear_boxes_every: every this many steps, background Gaussians inside an actor's box (at any frame
            the actor was seen) are made transparent, so MCMC moves them elsewhere: the background must not
            learn an actor, or moving the actor would leave a ghost (0 disables).
        background_share: fraction of the Gaussians that densification keeps for the background.
        actor_box_scale, actor_box_margin: actor Gaussians whose centre leaves their box grown by this
            factor plus margin [m] are made transparent (with `clear_boxes_every`).
        actor_max_scale: cap on an actor Gaussian's scale, as a fraction of its box's smaller horizontal size.
        actor_shadow_skirt: actor Gaussians may also sit on the road this many metres around their box (near
            its floor): a moving car's shadow moves with it, and the static background cannot draw it. They
            are tagged as road on export (0 disables).
        camera_drift_period: ego (camera) corrections lose every component slower than this many frames
            (0: keep all).
        shadow_every: every this many steps, and on export, remove background Gaussians behind actors in every
            training view (0 disables).
        shadow_shrink: actor boxes are shrunk by this factor for that test (the road beside a car stays).
        seed: random seed.
        holdout: held-out frames: "every:N", "frames:A-B", "none" or "auto" (every:8, none with `train_frames`);
            see `log_views.held_out_split`.
        train_frames: train only on these frames ("A-B,C"; empty: all); the others are held out (scored).
        resolution_scale: images are trained and scored at this fraction of their size (e.g. 0.5).
        width: train and score at this image width instead (aspect ratio kept; 0: use resolution_scale).
        eval_every_minutes: also score the held-out frames every this many minutes of training, into the
            metrics' "progress" list (0: only at the end).
        init: the LiDAR initialisation settings.
    """

    iterations: int = 30_000
    device: str = "cuda"
    max_minutes: float | None = None
    cap_max: int = 220_000
    ssim_weight: float = 0.2
    depth_weight: float = 0.1
    lidar_alpha_weight: float = 0.1
    actor_alpha_weight: float = 0.2
    opacity_reg: float = 0.01
    scale_reg: float = 0.01
    pose_reg: float = 0.1
    camera_reg: float = 0.1
    colour_reg: float = 0.01
    scene_scale: float = 10.0
    lr_means: float = 1.6e-4
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    lr_opacities: float = 5e-2
    lr_sh0: float = 2.5e-3
    lr_shN: float = 2.5e-3 / 20
    lr_sky: float = 1e-2
    lr_pose_translation: float = 5e-4
    lr_pose_yaw: float = 2e-4
    pose_refine_start: int = 500
    lr_camera_translation: float = 2e-4
    lr_camera_rotation: float = 5e-5
    lr_colour: float = 1e-3
    refine_start: int = 500
    refine_every: int = 100
    refine_stop_fraction: float = 0.8
    relocate_stop_fraction: float = 0.95
    noise_lr: float = 5e5
    clear_boxes_every: int = 100
    background_share: float = 0.6
    actor_box_scale: float = 1.1
    actor_box_margin: float = 0.1
    actor_max_scale: float = 0.25
    actor_shadow_skirt: float = 1.2
    camera_drift_period: float = 16.0
    shadow_every: int = 500
    shadow_shrink: float = 0.9
    seed: int = 0
    holdout: str = "auto"
    train_frames: str = ""
    resolution_scale: float = 1.0
    width: int = 0
    eval_every_minutes: float = 0.0
    init: InitConfig = field(default_factory=InitConfig)


@dataclass(frozen=True)
class TrainResult:
    """What `train` returns.

    Attributes:
        scene: the trained scene (CPU tensors).
        metrics: held-out "psnr", "ssim" (means over views), "train_seconds", "iterations",
            "steps_per_second", "gaussians", "backend", "resolution", "peak_rss_mib", per-view lists
            "psnr_per_view", "ssim_per_view", "held_out_frames", "held_out_distance_m" (to the nearest training
            pose), and "progress" (held-out scores every `eval_every_minutes`).
    """

    scene: GaussianScene
    metrics: dict[str, Any]


@dataclass
class _Model:
    """Trainable state: Gaussian parameters (strategy-managed), sky, actor pose corrections."""

    params: torch.nn.ParameterDict  # means, quats, scales, opacities, sh0, shN, owner, semantic
    sky_logits: torch.nn.Parameter  # [Hs, Ws, 3]
    actor_ids: list[str]
    logged: torch.Tensor  # [A, F, 4, 4] logged world_from_box (identity where absent)
    present: torch.Tensor  # [A, F] bool
    present_cpu: np.ndarray  # (A, F) bool, the same on the host (interpolation looks it up without a GPU wait)
    delta_t: torch.nn.Parameter  # [A, F, 3] box-frame translation corrections [m]
    delta_yaw: torch.nn.Parameter  # [A, F] yaw corrections [rad]
    camera_delta: torch.nn.Parameter  # [F, 6] ego-frame corrections of the ego pose: translation [m], rotation vector [rad]
    colour: torch.nn.Parameter  # [F, 3, 4] affine colour transform per frame (identity | 0 at start)
    actor_cache: tuple[torch.Tensor, int, torch.Tensor, torch.Tensor] | None = None  # ("owner", its version, rows, one-hot)

    def actor_rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices [Na] of the actor Gaussians and their owners one-hot [Na, A], recomputed only when
        densification replaced or edited "owner" (nonzero() waits for the GPU: not run every step).

        Per-Gaussian actor transforms are gathered as one-hot @ per-actor values: the backward of that is
        one small matrix product, where indexing [A] values by [Na] owners has a backward that
        serialises on the few repeated indices (it took half the GPU time of a step)."""
        owner = self.params["owner"]
        cache = self.actor_cache
        if cache is None or cache[0] is not owner or cache[1] != owner._version:  # the cache holds the tensor: no id reuse
            rows = (owner < len(self.actor_ids)).nonzero().squeeze(1)
            onehot = torch.nn.functional.one_hot(owner[rows], len(self.actor_ids)).to(torch.float32)
            self.actor_cache = (owner, owner._version, rows, onehot)
        return self.actor_cache[2], self.actor_cache[3]


class _Corrections(NamedTuple):
    """The per-frame corrections one view is rendered with."""

    actor_t: torch.Tensor  # [A, 3]
    actor_yaw: torch.Tensor  # [A]
    camera: torch.Tensor  # [6]
    colour: torch.Tensor  # [3, 4]


def _build_model(scene: GaussianScene, num_frames: int, device: torch.device) -> _Model:
    actor_ids = list(scene.actors)
    sets = [scene.actors[a].gaussians for a in actor_ids] + [scene.background]
    owner = torch.cat([torch.full((s.count,), i, dtype=torch.int64) for i, s in enumerate(sets)])
    merged = GaussianSet.concat(sets)
    params = torch.nn.ParameterDict(
        {
            "means": torch.nn.Parameter(merged.means.clone()),
            "quats": torch.nn.Parameter(merged.quats.clone()),
            "scales": torch.nn.Parameter(merged.log_scales.clone()),
            "opacities": torch.nn.Parameter(merged.opacity_logits.clone()),
            "sh0": torch.nn.Parameter(merged.sh[:, :1].clone()),
            "shN": torch.nn.Parameter(merged.sh[:, 1:].clone()),
            "owner": torch.nn.Parameter(owner, requires_grad=False),
            "semantic": torch.nn.Parameter(merged.semantic.clone(), requires_grad=False),
        }
    ).to(device)
    count = len(actor_ids)
    logged = torch.eye(4).repeat(count, num_frames, 1, 1)
    present = torch.zeros(count, num_frames, dtype=torch.bool)
    for i, track_id in enumerate(actor_ids):
        actor = scene.actors[track_id]
        logged[i, actor.frame_indices] = actor.world_from_box
        present[i, actor.frame_indices] = True
    texture = scene.sky.texture.clamp(1e-3, 1 - 1e-3)
    return _Model(
        params=params,
        sky_logits=torch.nn.Parameter(torch.logit(texture).to(device)),
        actor_ids=actor_ids,
        logged=logged.to(device),
        present=present.to(device),
        present_cpu=present.numpy(),
        delta_t=torch.nn.Parameter(torch.zeros(count, num_frames, 3, device=device)),
        delta_yaw=torch.nn.Parameter(torch.zeros(count, num_frames, device=device)),
        camera_delta=torch.nn.Parameter(torch.zeros(num_frames, 6, device=device)),
        colour=torch.nn.Parameter(_IDENTITY_COLOUR.to(device).repeat(num_frames, 1, 1)),
    )


def _actor_boxes(scene: GaussianScene, ground_slice: float, device: torch.device, max_poses: int = 24) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per actor: box_from_world poses [P, 4, 4] (at most `max_poses`, spread over the track) and the
    half-size [3] of the box above its ground slice, with the box centre shifted up by half the slice."""
    boxes = []
    for actor in scene.actors.values():
        poses = actor.world_from_box
        if poses.shape[0] == 0:
            continue
        poses = poses[torch.linspace(0, poses.shape[0] - 1, min(max_poses, poses.shape[0])).round().long()]
        lift = torch.eye(4).repeat(poses.shape[0], 1, 1)
        lift[:, 2, 3] = ground_slice / 2
        half = actor.size / 2 - torch.tensor([0.0, 0.0, ground_slice / 2])
        boxes.append((torch.linalg.inv(poses @ lift).to(device), half.to(device)))
    return boxes


@torch.no_grad()
def _clear_actor_boxes(model: _Model, boxes: list[tuple[torch.Tensor, torch.Tensor]]) -> int:
    """Make background Gaussians inside any actor box transparent; returns how many."""
    p = model.params
    background = (p["owner"] == len(model.actor_ids)).nonzero().squeeze(1)
    means = p["means"][background]
    inside = torch.zeros(len(background), dtype=torch.bool, device=means.device)
    for box_from_world, half in boxes:
        local = torch.einsum("pij,nj->pni", box_from_world[:, :3, :3], means) + box_from_world[:, None, :3, 3]
        inside |= (local.abs() <= half).all(dim=-1).any(dim=0)
    p["opacities"].data[background[inside]] = -12.0
    return int(inside.sum())


@torch.no_grad()
def _contain_actors(model: _Model, sizes: torch.Tensor, config: TrainConfig) -> None:
    """Make actor Gaussians outside their own (grown) box transparent and cap their scales
    (sizes: [A, 3] box sizes [m]); no GPU wait."""
    rows, onehot = model.actor_rows()
    if rows.numel() == 0:
        return
    p = model.params
    size = onehot @ sizes  # [Na, 3]
    outside = outside_actor_box(p["means"].data[rows], size, config.actor_box_scale, config.actor_box_margin,
                                config.actor_shadow_skirt)
    p["opacities"].data[rows] = torch.where(outside, torch.full_like(outside, -12.0, dtype=p["opacities"].dtype), p["opacities"].data[rows])
    cap = torch.log(torch.minimum(size[:, 0], size[:, 1]) * config.actor_max_scale)[:, None]
    p["scales"].data[rows] = torch.minimum(p["scales"].data[rows], cap)


def drift_remover(trained: np.ndarray, period: float) -> torch.Tensor:
    """[F, F] matrix R such that R @ corrections ([F, ...]) keeps only the part of the training frames'
    corrections that varies faster than `period` frames (trained: (F,) bool; other frames pass unchanged).

    The slow part is the least-squares fit of the cosines cos(pi k (f + 1/2) / F) with period
    2F/k >= `period` to the training frames; R removes it, and is a projection (R @ R = R), so applying it
    after every optimiser step does not accumulate. period <= 0: the identity (nothing removed).
    """
    frames = len(trained)
    remover = np.eye(frames)
    rows = np.nonzero(trained)[0]
    if period <= 0 or len(rows) == 0:
        return torch.from_numpy(remover).float()
    count = min(len(rows), int(math.floor(2 * frames / period)) + 1)
    basis = np.cos(np.pi * np.arange(count)[None, :] * (rows[:, None] + 0.5) / frames)  # [T, K]
    projection = basis @ np.linalg.pinv(basis)  # onto the slow cosines, over the training frames
    remover[np.ix_(rows, rows)] -= projection
    return torch.from_numpy(remover).float()


@torch.no_grad()
def _shadowed_background(model: _Model, views: list[ShadowView]) -> torch.Tensor:
    """[N] bool over all Gaussians: background ones behind an actor in every training view framing them."""
    p = model.params
    background = p["owner"] == len(model.actor_ids)
    shadowed = torch.zeros_like(background)
    if views:
        rows = background.nonzero().squeeze(1)
        shadowed[rows] = always_behind_actors(p["means"].data[rows], views)
    return shadowed


def bake_colour(scene: GaussianScene, transform: torch.Tensor) -> GaussianScene:
    """The scene with an affine colour transform [3, 4] (rgb' = M rgb + b) applied to every Gaussian's
    SH coefficients and to the sky, so that it renders as the transform of its render (up to clamping)."""
    from recon_carla_bridge.recon.gaussians import SH_C0

    matrix, offset = transform[:, :3].float(), transform[:, 3].float()

    def apply(g: GaussianSet) -> GaussianSet:
        sh = g.sh @ matrix.T  # every band is linear in the colour; SH_C0 * dc + 0.5 gets the offset below
        sh[:, 0] += (0.5 * matrix.sum(dim=1) + offset - 0.5) / SH_C0
        return GaussianSet(g.means, g.quats, g.log_scales, g.opacity_logits, sh, g.semantic)

    actors = {k: ActorAsset(a.track_id, a.category, a.size, a.moving, apply(a.gaussians), a.frame_indices, a.world_from_box)
              for k, a in scene.actors.items()}
    sky = SkyModel((scene.sky.texture @ matrix.T + offset).clamp(0.0, 1.0))
    return dataclasses.replace(scene, background=apply(scene.background), actors=actors, sky=sky, metadata=dict(scene.metadata))


def _interpolated(values: torch.Tensor, usable: np.ndarray, frame: int) -> torch.Tensor | None:
    """values[frame] interpolated linearly between the nearest usable frames before and after it
    (the nearest one at the ends); None when no frame is usable. values: [F, ...]; usable: (F,) bool."""
    frames = np.nonzero(usable)[0]
    if len(frames) == 0:
        return None
    before, after = frames[frames < frame], frames[frames > frame]
    if len(before) and len(after):
        f0, f1 = int(before[-1]), int(after[0])
        w = (frame - f0) / (f1 - f0)
        return (1 - w) * values[f0] + w * values[f1]
    return values[int(before[-1]) if len(before) else int(after[0])]


def _frame_corrections(model: _Model, frame: int, train_frames: np.ndarray) -> _Corrections:
    """Corrections at `frame`: the learned ones on training frames (train_frames: (F,) bool), else
    interpolated from them (detached)."""
    if train_frames[frame]:
        return _Corrections(model.delta_t[:, frame], model.delta_yaw[:, frame], model.camera_delta[frame], model.colour[frame])
    count = len(model.actor_ids)
    dt = torch.zeros(count, 3, device=model.delta_t.device)
    dyaw = torch.zeros(count, device=model.delta_t.device)
    usable = model.present_cpu & train_frames[None]
    for a in range(count):
        shift, turn = _interpolated(model.delta_t[a], usable[a], frame), _interpolated(model.delta_yaw[a], usable[a], frame)
        if shift is not None:
            dt[a], dyaw[a] = shift, turn
    camera = _interpolated(model.camera_delta, train_frames, frame)
    colour = _interpolated(model.colour, train_frames, frame)
    return _Corrections(dt.detach(), dyaw.detach(), camera.detach(), colour.detach())


def _owner_transforms(model: _Model, frame: int, dt: torch.Tensor, dyaw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per owner (actors then background): rotation [A+1, 3, 3], translation [A+1, 3], visible [A+1]."""
    device = model.logged.device
    poses = model.logged[:, frame] @ yaw_pose(dt, dyaw)  # [A, 4, 4]
    rotation = torch.cat([poses[:, :3, :3], torch.eye(3, device=device)[None]])
    translation = torch.cat([poses[:, :3, 3], torch.zeros(1, 3, device=device)])
    visible = torch.cat([model.present[:, frame], torch.ones(1, dtype=torch.bool, device=device)])
    return rotation, translation, visible


def _render_view(
    model: _Model, view: ViewTensors, corrections: _Corrections, backend: str, dirs: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Render one view: rgb with sky [H, W, 3] after the frame's colour transform, expected depth [H, W],
    alpha [H, W], and gsplat's info plus "actor_coverage" [H, W] (the accumulated weight of actor Gaussians)."""
    p = model.params
    frame = view.view.frame_index
    rotation, translation, visible = _owner_transforms(model, frame, corrections.actor_t, corrections.actor_yaw)
    owner = p["owner"]
    world_from_camera = view.world_from_ego @ small_pose(corrections.camera) @ view.ego_from_camera
    camera_position = world_from_camera[:3, 3].detach()
    means, quats = p["means"], p["quats"]
    view_dirs = means - camera_position  # view directions in each Gaussian's own frame (world for the background)
    actor_index, actor_onehot = model.actor_rows()
    if actor_index.numel():  # move only the actor Gaussians: no gradient traffic through the background
        count = len(model.actor_ids)
        per_actor = torch.cat([rotation[:count].reshape(count, 9), translation[:count], rotmat_to_quat(rotation[:count])], dim=1)
        per_gaussian = actor_onehot @ per_actor  # [Na, 16]
        rot = per_gaussian[:, :9].reshape(-1, 3, 3)
        moved = torch.einsum("nij,nj->ni", rot, means[actor_index]) + per_gaussian[:, 9:12]
        means = torch.index_put(means, (actor_index,), moved)
        quats = torch.index_put(quats, (actor_index,), quat_multiply(per_gaussian[:, 12:], quats[actor_index]))
        view_dirs = torch.index_put(view_dirs, (actor_index,), torch.einsum("nji,nj->ni", rot, moved - camera_position))
    opacities = torch.sigmoid(p["opacities"]) * visible[owner]
    sh0, shN, log_scales = p["sh0"], p["shN"], p["scales"]
    viewmat = invert_rigid(world_from_camera)
    if backend != "gsplat":  # gsplat culls in its kernels; on the CPU, torch's projection and autograd cost O(N)
        keep = may_touch_image(means.detach(), log_scales.detach(), viewmat, view.K, view.view.width, view.view.height)
        keep = keep.nonzero().squeeze(1)
        means, quats, log_scales, opacities = means[keep], quats[keep], log_scales[keep], opacities[keep]
        sh0, shN, view_dirs, owner = sh0[keep], shN[keep], view_dirs[keep], owner[keep]
    colors = eval_sh(torch.cat([sh0, shN], dim=1), view_dirs)  # [N, 3]
    is_actor = (owner < len(model.actor_ids)).to(colors.dtype)[:, None]  # 4th channel: actor coverage
    colors = torch.cat([colors, is_actor], dim=1)
    raster = rasterize_features(means, quats, log_scales, opacities, colors, viewmat, view.K,
                                view.view.width, view.view.height, backend)
    rgb, coverage, depth, alpha, info = raster.features[..., :3], raster.features[..., 3], raster.depth, raster.alpha, raster.info
    dirs = _pixel_dirs(view) if dirs is None else dirs
    sky = sample_sky_texture(torch.sigmoid(model.sky_logits), dirs)
    info["actor_coverage"] = coverage  # [H, W] accumulated weight of actor Gaussians
    composite = rgb + (1.0 - alpha)[..., None] * sky
    colour = corrections.colour
    return composite @ colour[:, :3].T + colour[:, 3], depth, alpha, info


def _progress(step: int, config: TrainConfig, started: float) -> float:
    """Fraction of the run done, by steps or by the time budget, whichever is further (drives the schedules)."""
    fraction = step / max(config.iterations, 1)
    if config.max_minutes is not None:
        fraction = max(fraction, (time.time() - started) / (60.0 * config.max_minutes))
    return min(fraction, 1.0)


def _pixel_dirs(view: ViewTensors) -> torch.Tensor:
    from recon_carla_bridge.recon.camera import CameraBatch

    batch = CameraBatch(view.world_from_camera[None], view.K[None], view.view.width, view.view.height)
    return batch.ray_directions()[0]


def _make_optimizers(model: _Model, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    rates = {
        "means": config.lr_means * config.scene_scale,
        "quats": config.lr_quats,
        "scales": config.lr_scales,
        "opacities": config.lr_opacities,
        "sh0": config.lr_sh0,
        "shN": config.lr_shN,
    }
    fused = model.params["means"].is_cuda  # one kernel per step and parameter, not one per operation
    return {name: torch.optim.Adam([model.params[name]], lr=lr, eps=1e-15, fused=fused) for name, lr in rates.items()}


def train(
    log: SceneLog,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    scene: GaussianScene | None = None,
    on_eval: Callable[[str], None] = print,
    pseudo_views: Sequence[tuple[ViewTensors, float]] = (),
) -> TrainResult:
    """Reconstruct `log` (optionally from a given initial `scene`); see the module docstring. `pseudo_views`:
    (view, loss weight) pairs trained beside the log's views, at the same resolution (the progressive data update's
    restored novel views, `restore.progressive`; only their image loss counts, scaled by the weight).

    On the CPU, torch's own operators run on one thread while training (restored afterwards): they are
    small per step, and on 2 shared cores their OpenMP barriers cost more than the second thread gives
    (bench/train_cpu_bench.py: 0.35 vs 0.21 steps/s); the numba kernels keep their threads."""
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available (use --device cpu: the numba CPU rasterizer)")
    if device.type == "cuda":
        return _train(log, config, progress, scene, on_eval, device, pseudo_views)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(log, config, progress, scene, on_eval, device, pseudo_views)
    finally:
        torch.set_num_threads(threads)


def _train(log: SceneLog, config: TrainConfig, progress: bool, scene: GaussianScene | None,
           on_eval: Callable[[str], None], device: torch.device,
           pseudo_views: Sequence[tuple[ViewTensors, float]] = ()) -> TrainResult:
    """`train`'s body, on `device`."""
    backend = train_backend(device)
    torch.manual_seed(config.seed)
    generator = np.random.default_rng(config.seed)
    started = time.time()

    views = list_views(log, held_out_split(len(log.frames), config.holdout, config.train_frames))
    views = [scaled_view(v, *scaled_size(v.width, v.height, config.resolution_scale, config.width)) for v in views]
    if min(min(v.width, v.height) for v in views) < MIN_TRAIN_SIZE:
        small = min(views, key=lambda v: min(v.width, v.height))
        raise InputError(f"resolution: camera {small.camera!r} would train at {small.width}x{small.height}; "
                         f"SSIM needs at least {MIN_TRAIN_SIZE} px each way (raise the resolution scale or width)")
    train_views = [v.to(device) for v in load_view_tensors(log, [v for v in views if not v.held_out])]
    test_views = [v.to(device) for v in load_view_tensors(log, [v for v in views if v.held_out], lidar=False)]
    if not train_views:
        raise InputError(f"scene log {log.name!r}: no training views (every frame is held out)")
    # a forward-extrapolation split (--train-frames) must not see the LiDAR geometry of the frames it scores
    last_lidar = max(v.frame_index for v in views if not v.held_out) if config.train_frames.strip() else None
    initial = scene if scene is not None else initial_scene(log, config.init, views, last_lidar)
    model = _build_model(initial, len(log.frames), device)
    train_frames = np.zeros(len(log.frames), dtype=bool)
    train_frames[[v.view.frame_index for v in train_views]] = True
    real_views = train_views
    train_views = real_views + [v.to(device) for v, _ in pseudo_views]
    view_weights = [1.0] * len(real_views) + [float(w) for _, w in pseudo_views]

    optimizers = _make_optimizers(model, config)
    sky_optimizer = torch.optim.Adam([model.sky_logits], lr=config.lr_sky)
    pose_optimizer = torch.optim.Adam(
        [
            {"params": [model.delta_t], "lr": config.lr_pose_translation},
            {"params": [model.delta_yaw], "lr": config.lr_pose_yaw},
            {"params": [model.camera_delta], "lr": config.lr_camera_translation},
        ]
    )
    # camera_delta holds rotations in units of this many radians, so Adam's one rate (lr_camera_translation)
    # moves them at lr_camera_rotation
    camera_rotation_scale = config.lr_camera_rotation / max(config.lr_camera_translation, 1e-12)
    camera_scale = torch.tensor([1.0, 1.0, 1.0] + [camera_rotation_scale] * 3, device=device)
    identity_colour = _IDENTITY_COLOUR.to(device)
    colour_optimizer = torch.optim.Adam([model.colour], lr=config.lr_colour) if config.lr_colour > 0 else None
    densifier = GroupedMCMC(
        cap_max=config.cap_max, shares={0: config.background_share}, noise_lr=config.noise_lr,
        refine_start=config.refine_start, refine_stop=int(config.iterations * max(config.relocate_stop_fraction, config.refine_stop_fraction)),
        grow_stop=int(config.iterations * config.refine_stop_fraction),
        refine_every=config.refine_every,
    )
    remove_drift = drift_remover(train_frames, config.camera_drift_period).to(device)
    actor_sizes = torch.stack([initial.actors[a].size.float() for a in model.actor_ids]).to(device) if model.actor_ids else None

    boxes = _actor_boxes(initial, config.init.ground_slice, device) if config.clear_boxes_every > 0 else []
    shadows = shadow_views([v.world_from_camera for v in real_views], [v.K for v in real_views],
                           [v.view.frame_index for v in real_views], train_views[0].view.width,
                           train_views[0].view.height, initial, config.shadow_shrink) if config.shadow_every > 0 else []
    dirs_cache: dict[int, torch.Tensor] = {}
    width, height = train_views[0].view.width, train_views[0].view.height
    on_eval(f"training with the {_BACKEND_NAMES[backend]} at {width}x{height}: {len(real_views)} training views, "
            f"{len(test_views)} held out" + (f", {len(pseudo_views)} pseudo views" if pseudo_views else ""))
    checkpoints: list[dict[str, Any]] = []
    loop_started = time.time()
    losses: list[torch.Tensor] = []  # detached, so no GPU wait per step
    next_eval = started + 60 * config.eval_every_minutes if config.eval_every_minutes > 0 and test_views else None
    bar = tqdm(range(config.iterations), desc="reconstruct", disable=not progress, mininterval=2.0)
    step = 0
    for step in bar:
        pick = int(generator.integers(len(train_views)))
        view = train_views[pick]
        if pick not in dirs_cache:
            dirs_cache[pick] = _pixel_dirs(view)
        frame = view.view.frame_index
        progress_fraction = _progress(step, config, started)
        for group in optimizers["means"].param_groups:
            group["lr"] = config.lr_means * config.scene_scale * 0.01**progress_fraction
        if progress_fraction >= config.refine_stop_fraction:
            densifier.grow_stop = min(densifier.grow_stop, step)
        if progress_fraction >= config.relocate_stop_fraction:
            densifier.refine_stop = min(densifier.refine_stop, step)
        corrections = _frame_corrections(model, frame, train_frames)
        if config.lr_camera_translation > 0:  # one Adam group: rotations scaled to their own rate
            camera = corrections.camera * camera_scale
        else:
            camera = corrections.camera.detach() * 0
        corrections = corrections._replace(camera=camera)
        rgb, depth, alpha, info = _render_view(model, view, corrections, backend, dirs_cache[pick])
        target = view.image.float() / 255.0
        l1 = torch.abs(rgb - target).mean()
        loss = view_weights[pick] * ((1 - config.ssim_weight) * l1 + config.ssim_weight * (1 - ssim(rgb, target)))
        if config.depth_weight > 0 and view.depth_pixels.numel():
            rendered = depth.reshape(-1)[view.depth_pixels]
            lidar_alpha = alpha.reshape(-1)[view.depth_pixels]
            error = torch.abs(torch.log(rendered.clamp_min(0.1)) - torch.log(view.depth_values))
            loss = loss + config.depth_weight * (error * lidar_alpha.detach()).mean()
            # where the LiDAR hit something, Gaussians must be opaque: the sky may not paint actors
            loss = loss + config.lidar_alpha_weight * (1.0 - lidar_alpha).mean()
        if config.actor_alpha_weight > 0 and view.actor_pixels.numel():
            # where the LiDAR hit an actor, that actor must be opaque: nothing behind it may learn its colours
            coverage = info["actor_coverage"].reshape(-1)[view.actor_pixels]
            loss = loss + config.actor_alpha_weight * (1.0 - coverage).mean()
        loss = loss + config.opacity_reg * torch.sigmoid(model.params["opacities"]).mean()
        loss = loss + config.scale_reg * torch.exp(model.params["scales"]).mean()
        loss = loss + config.pose_reg * (model.delta_t[:, frame].pow(2).sum() + model.delta_yaw[:, frame].pow(2).sum())
        loss = loss + config.camera_reg * camera.pow(2).sum()
        loss = loss + config.colour_reg * (model.colour[frame] - identity_colour).pow(2).sum()
        loss.backward()
        losses.append(loss.detach())
        for optimizer in optimizers.values():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        sky_optimizer.step()
        sky_optimizer.zero_grad(set_to_none=True)
        if step >= config.pose_refine_start:
            pose_optimizer.step()
            model.camera_delta.data.copy_(remove_drift @ model.camera_delta.data)
        pose_optimizer.zero_grad(set_to_none=True)
        if colour_optimizer is not None:
            colour_optimizer.step()
            colour_optimizer.zero_grad(set_to_none=True)
        if config.clear_boxes_every > 0 and step % config.clear_boxes_every == 0 and densifier.refine_stop > step:
            if boxes:
                _clear_actor_boxes(model, boxes)
            if actor_sizes is not None:
                _contain_actors(model, actor_sizes, config)
        if shadows and step > 0 and step % config.shadow_every == 0:
            model.params["opacities"].data.masked_fill_(_shadowed_background(model, shadows), -12.0)
        group = (model.params["owner"] < len(model.actor_ids)).long() if densifier.due(step) else None  # 0: background, 1: actors
        densifier.step(model.params, optimizers, group, step, optimizers["means"].param_groups[0]["lr"])
        if step % 200 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", psnr=f"{psnr(rgb.detach().clamp(0, 1), target):.2f}", n=model.params["means"].shape[0])
        if next_eval is not None and time.time() >= next_eval:
            next_eval += 60 * config.eval_every_minutes
            scores = evaluate(model, test_views, train_frames, backend, camera_rotation_scale)
            minutes = (time.time() - started) / 60
            checkpoints.append({"minutes": round(minutes, 2), "step": step + 1, "psnr": round(scores["psnr"], 3),
                                "ssim": round(scores["ssim"], 4), "gaussians": int(model.params["means"].shape[0])})
            on_eval(f"{minutes:.1f} min, step {step + 1}: held-out PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}")
        if config.max_minutes is not None and time.time() - started > 60 * config.max_minutes:
            on_eval(f"stopping at step {step + 1}: the {config.max_minutes} min budget is spent")
            break
    bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.time() - started
    loop_seconds = time.time() - loop_started

    metrics = evaluate(model, test_views, train_frames, backend, camera_rotation_scale)
    metrics.update({"train_seconds": round(train_seconds, 1), "iterations": step + 1,
                    "steps_per_second": round((step + 1) / max(loop_seconds, 1e-9), 3),
                    "setup_seconds": round(loop_started - started, 1),
                    "loss_first": round(float(torch.stack(losses[:10]).mean()), 5),
                    "loss_last": round(float(torch.stack(losses[-10:]).mean()), 5),
                    "backend": backend, "resolution": f"{width}x{height}", "progress": checkpoints,
                    "held_out_distance_m": _distance_to_training(log, metrics["held_out_frames"], train_frames),
                    "peak_rss_mib": _peak_rss_mib()})
    metrics.update(_correction_summary(model, train_frames, camera_rotation_scale))
    shadowed = _shadowed_background(model, shadows) if shadows else None
    logged_ego = np.stack([np.asarray(frame.world_from_ego, dtype=np.float64) for frame in log.frames])
    trained, dropped = _export(model, initial, train_frames, logged_ego, camera_rotation_scale, drop=shadowed,
                               box=(config.actor_box_scale, config.actor_box_margin))
    trained = relabel_scene(trained, log, config.init, "gsplat" if backend == "gsplat" else "cpu", initial, real_views)
    metrics["gaussians"] = trained.gaussian_count()
    metrics["gaussians_trained"] = int(model.params["means"].shape[0])  # before export drops the dead ones
    metrics["background_gaussians"] = trained.background.count
    metrics["shadowed_background_dropped"] = dropped
    on_eval(f"held-out PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} over {len(test_views)} views")
    if test_views:
        exported = evaluate_scene(trained, test_views, "gsplat" if backend == "gsplat" else "cpu")
        metrics.update({"psnr_as_simulated": exported["psnr"], "ssim_as_simulated": exported["ssim"],
                        "psnr_per_view_as_simulated": exported["psnr_per_view"]})
        on_eval(f"exported scene as the simulator renders it (its ego and actor trajectories): PSNR {exported['psnr']:.2f} dB, SSIM {exported['ssim']:.4f}")
    return TrainResult(trained, metrics)


@torch.no_grad()
def evaluate(model: _Model, views: list[ViewTensors], train_frames: np.ndarray, backend: str,
             camera_rotation_scale: float = 1.0) -> dict[str, Any]:
    """Mean PSNR/SSIM of `views`, every correction interpolated from the training frames around each."""
    psnrs, ssims = [], []
    scale = torch.tensor([1.0, 1.0, 1.0] + [camera_rotation_scale] * 3, device=model.camera_delta.device)
    for view in views:
        corrections = _frame_corrections(model, view.view.frame_index, train_frames)
        rgb, _, _, _ = _render_view(model, view, corrections._replace(camera=corrections.camera * scale), backend)
        target = view.image.float() / 255.0
        rgb = rgb.clamp(0, 1)
        psnrs.append(psnr(rgb, target))
        ssims.append(float(ssim(rgb, target)))
    return {
        "psnr": float(np.mean(psnrs)) if psnrs else math.nan,
        "ssim": float(np.mean(ssims)) if ssims else math.nan,
        "psnr_per_view": [round(v, 3) for v in psnrs],
        "ssim_per_view": [round(v, 4) for v in ssims],
        "held_out_frames": [v.view.frame_index for v in views],
    }


def _distance_to_training(log: SceneLog, frames: list[int], train_frames: np.ndarray) -> list[float]:
    """Per frame: the distance [m] of its ego position to the nearest training frame's (how far a held-out
    frame lies beyond the training poses; under 1 m between interpolated frames)."""
    positions = log.ego_positions()
    trained = positions[np.nonzero(train_frames)[0]]
    return [round(float(np.linalg.norm(trained - positions[f], axis=1).min()), 2) for f in frames]


def _peak_rss_mib() -> float:
    """The process's peak resident memory [MiB] (Linux: ru_maxrss in KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@torch.no_grad()
def evaluate_scene(scene: GaussianScene, views: list[ViewTensors], backend: str) -> dict[str, Any]:
    """Mean PSNR/SSIM of an exported scene rendered as the simulator renders it: the cameras on the scene's
    ego trajectory (`GaussianScene.camera_pose`), its actor trajectories, no per-frame colour."""
    from recon_carla_bridge.recon.camera import CameraBatch
    from recon_carla_bridge.recon.render import render

    psnrs, ssims = [], []
    for view in views:
        pose = scene.camera_pose(view.view.frame_index, view.world_from_camera.cpu(), view.ego_from_camera.cpu())
        cameras = CameraBatch(pose[None].float(), view.K[None].float().cpu(), view.view.width, view.view.height)
        out = render(scene, cameras, scene.logged_actor_poses(view.view.frame_index), backend=backend)
        rgb = out.rgb[0].float()
        target = view.image.float().to(rgb.device) / 255.0
        psnrs.append(psnr(rgb, target))
        ssims.append(float(ssim(rgb, target)))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "psnr_per_view": [round(v, 3) for v in psnrs],
            "ssim_per_view": [round(v, 4) for v in ssims]}


def relabel_scene(scene: GaussianScene, log: SceneLog, init: InitConfig, backend: str = "cpu",
                  initial: GaussianScene | None = None, views: list[ViewTensors] | None = None) -> GaussianScene:
    """The export's last step, also runnable on a trained scene file: background tags re-derived
    (`_relabel_background`, road markings from the `initial` LiDAR scene, built from `log` when not given)
    and the road plane measured on training `views` (loaded from `log` when not given) into the metadata."""
    if initial is None:
        initial = initial_scene(log, init, list_views(log))
    if views is None:
        views = load_view_tensors(log, [v for v in list_views(log) if not v.held_out], lidar=False)
    relabelled = _relabel_background(scene, log.ego_positions(), init, initial)
    _store_ground_plane(relabelled, views, backend)
    return relabelled


def _store_ground_plane(scene: GaussianScene, views: list[ViewTensors], backend: str, count: int = 4) -> None:
    """Measure the road plane the cameras fill unseen road with on `count` training views (half size) and
    keep it in the scene's metadata (`render.measure_ground_plane`)."""
    from recon_carla_bridge.recon.camera import CameraBatch
    from recon_carla_bridge.recon.render import GROUND_PLANE_KEY, measure_ground_plane

    picked = [views[i] for i in np.linspace(0, len(views) - 1, min(count, len(views))).round().astype(int)] if views else []
    cameras = []
    for view in picked:
        width, height = view.view.width, view.view.height
        pose = scene.camera_pose(view.view.frame_index, view.world_from_camera.cpu(), view.ego_from_camera.cpu())
        camera = CameraBatch(pose[None].float(), view.K[None].float().cpu(), width, height)
        cameras.append((camera.scaled(max(1, width // 2), max(1, height // 2)), scene.logged_actor_poses(view.view.frame_index)))
    measured = measure_ground_plane(scene, cameras, backend)
    if measured is not None:
        scene.metadata[GROUND_PLANE_KEY] = measured


def _correction_summary(model: _Model, train_frames: np.ndarray, camera_rotation_scale: float) -> dict[str, float]:
    """Mean camera correction (cm, mrad) and colour-transform deviation over the training frames."""
    trained = torch.as_tensor(np.nonzero(train_frames)[0], device=model.camera_delta.device)
    camera = model.camera_delta.detach()[trained]
    colour = model.colour.detach()[trained] - _IDENTITY_COLOUR.to(camera.device)
    return {
        "camera_correction_cm": round(float(camera[:, :3].norm(dim=1).mean()) * 100, 2),
        "camera_correction_mrad": round(float(camera[:, 3:].norm(dim=1).mean()) * camera_rotation_scale * 1000, 2),
        "colour_correction": round(float(colour.abs().mean()), 4),
    }


def _relabel_background(scene: GaussianScene, ego_path: np.ndarray, init: InitConfig,
                         initial: GaussianScene | None = None) -> GaussianScene:
    """Re-derive background semantic tags from the trained Gaussians' positions and colours.

    MCMC relocation copies a Gaussian's tag along with it, so after training tags no longer follow
    geometry; the heuristics of `init_scene.classify_background` are applied again, with the road
    markings taken from the `initial` (LiDAR) scene's RoadLine points.
    """
    from recon_carla_bridge.recon.init_scene import classify_background

    bg = scene.background
    rgb = eval_sh(bg.sh[:, :1], torch.zeros_like(bg.means)).numpy()
    lines = None
    if initial is not None:
        lines = initial.background.means[initial.background.semantic == int(CarlaTag.ROAD_LINE)].cpu().numpy().astype(np.float64)
    tags = classify_background(bg.means.numpy().astype(np.float64), rgb, None, ego_path, init, road_lines=lines)
    background = GaussianSet(bg.means, bg.quats, bg.log_scales, bg.opacity_logits, bg.sh, torch.from_numpy(tags))
    return dataclasses.replace(scene, background=background)


@torch.no_grad()
def _shadow_as_road(gaussians: GaussianSet, size: torch.Tensor, box: tuple[float, float]) -> GaussianSet:
    """An actor's Gaussians with those outside its box (grown by `box` = (scale, margin)), i.e. in its
    shadow skirt, tagged as road: the semantic camera sees the car's shadow as the road it lies on."""
    if gaussians.count == 0:
        return gaussians
    skirt = outside_actor_box(gaussians.means, size, box[0], box[1])
    semantic = torch.where(skirt, torch.full_like(gaussians.semantic, int(CarlaTag.ROADS)), gaussians.semantic)
    return dataclasses.replace(gaussians, semantic=semantic)


def _export(model: _Model, initial: GaussianScene, train_frames: np.ndarray, logged_ego: np.ndarray,
            camera_rotation_scale: float, min_opacity: float = 0.005, drop: torch.Tensor | None = None,
            box: tuple[float, float] = (1.1, 0.1)) -> tuple[GaussianScene, int]:
    """The trained GaussianScene on the CPU: dead Gaussians dropped, and those in `drop` ([N] bool), actor
    trajectories refined, the ego trajectory (`logged_ego`, [F, 4, 4] world_from_ego) refined by the
    corrections (`_refined_ego_poses`), actor Gaussians outside their box grown by `box` = (scale, margin)
    tagged as road (`_shadow_as_road`), the training frames' mean colour transform baked in. Returns
    (scene, how many live Gaussians `drop` removed)."""
    p = {k: v.detach().cpu() for k, v in model.params.items()}
    alive = torch.sigmoid(p["opacities"]) > min_opacity
    background_owner = len(model.actor_ids)
    dropped = 0
    if drop is not None:
        drop = drop.cpu()
        dropped = int((alive & drop).sum())
        alive &= ~drop
    sh = torch.cat([p["sh0"], p["shN"]], dim=1)

    def subset(mask: torch.Tensor) -> GaussianSet:
        return GaussianSet(p["means"][mask], p["quats"][mask], p["scales"][mask], p["opacities"][mask], sh[mask], p["semantic"][mask])

    actors = {}
    for index, track_id in enumerate(model.actor_ids):
        base = initial.actors[track_id]
        poses = []
        for frame in base.frame_indices.tolist():
            corrections = _frame_corrections(model, frame, train_frames)
            shift, turn = corrections.actor_t[index], corrections.actor_yaw[index]
            poses.append((model.logged[index, frame] @ yaw_pose(shift, turn)).detach().cpu())
        actors[track_id] = ActorAsset(
            track_id=track_id,
            category=base.category,
            size=base.size,
            moving=base.moving,
            gaussians=_shadow_as_road(subset(alive & (p["owner"] == index)), base.size, box),
            frame_indices=base.frame_indices.cpu(),
            world_from_box=torch.stack(poses) if poses else base.world_from_box,
        )
    sky = SkyModel(torch.sigmoid(model.sky_logits.detach().cpu()))
    scene = GaussianScene(subset(alive & (p["owner"] == background_owner)), actors, sky, dict(initial.metadata),
                          ego_poses=_refined_ego_poses(model, train_frames, logged_ego, camera_rotation_scale))
    mean_colour = model.colour.detach().cpu()[torch.as_tensor(np.nonzero(train_frames)[0])].mean(dim=0)
    return bake_colour(scene, mean_colour), dropped


@torch.no_grad()
def _refined_ego_poses(model: _Model, train_frames: np.ndarray, logged_ego: np.ndarray,
                       camera_rotation_scale: float) -> torch.Tensor:
    """[F, 4, 4] float64 world_from_ego: each logged pose with its frame's learned correction (interpolated
    from the neighbouring training frames on the others, as evaluation does)."""
    scale = torch.tensor([1.0, 1.0, 1.0] + [camera_rotation_scale] * 3, dtype=torch.float64)
    delta = model.camera_delta.detach().cpu().double()
    poses = torch.as_tensor(logged_ego, dtype=torch.float64).clone()
    for frame in range(len(poses)):
        correction = delta[frame] if train_frames[frame] else _interpolated(delta, train_frames, frame)
        if correction is not None:
            poses[frame] = poses[frame] @ small_pose(correction * scale)
    return poses
