"""The rendering API: `render(scene, cameras, actor_poses) -> RenderOutput`.

Backends (same camera model, same compositing rule, see `raster_reference`):
  "gsplat"     gsplat.rasterization on CUDA (chosen automatically when CUDA is available);
  "cpu"        the numba tiled rasterizer (`raster_cpu`), chosen automatically otherwise;
  "reference"  the brute-force torch renderer (tiny images only; the fast paths are tested against it).
Semantic: each pixel takes the CARLA tag with the largest accumulated weight, Sky competing with the
remaining transmittance 1 - alpha. Depth: expected z-depth Σ wᵢ zᵢ / Σ wᵢ of the Gaussians, and
SKY_DEPTH where the pixel's tag is Sky. Colour: Σ wᵢ cᵢ + (1 - alpha) · sky(direction), clamped to [0, 1].
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import (
    SH_C0,
    GaussianScene,
    ActorInstances,
    GaussianSet,
    compose_instances,
    eval_sh,
)
from recon_carla_bridge.recon.semantics import CarlaTag, SemanticPalette
from recon_carla_bridge.recon.transfer import to_device

SKY_DEPTH = 1000.0  # metres; CARLA's depth camera saturates at 1000 m
GROUND_RANGE_M = 150.0  # with a ground plane, rays meeting it further than this keep the sky model
BACKENDS = ("auto", "gsplat", "cpu", "reference")


class RenderOutput(NamedTuple):
    """Rendered images of C cameras.

    Attributes:
        rgb: [C, H, W, 3] float32 in [0, 1].
        depth: [C, H, W] float32 metres along each camera's optical axis (z); SKY_DEPTH on sky.
        alpha: [C, H, W] float32 accumulated Gaussian opacity (the sky fills 1 - alpha).
        semantic: [C, H, W] int64 CARLA 0.9.16 tags.
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor
    semantic: torch.Tensor


def choose_backend(backend: str = "auto") -> str:
    """The backend `render` uses for `backend` ("auto" → gsplat with CUDA, else cpu)."""
    if backend not in BACKENDS:
        raise InputError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "gsplat" if torch.cuda.is_available() else "cpu"
    return backend


def render(
    scene: GaussianScene,
    cameras: CameraBatch,
    actor_poses: ActorInstances,
    backend: str = "auto",
    ground: tuple[float, np.ndarray] | None = None,
) -> RenderOutput:
    """Render `scene` from `cameras` with the actors in `actor_poses` (track id → [4, 4] world_from_box, or
    (track id, world_from_box) pairs, where one track may be drawn any number of times).

    Actors not in `actor_poses` are not drawn. With `ground` (height m, RGB (3,)), rays below the
    horizon that pass through the Gaussians meet a road plane instead of the sky model (see `finish`).
    Tensors come back on the backend's device (CUDA for gsplat, CPU otherwise).
    """
    chosen = choose_backend(backend)
    device = torch.device("cuda") if chosen == "gsplat" else torch.device("cpu")
    world, copied_rows = compose_instances(scene, actor_poses)
    palette, all_slots = scene.semantic_slots
    slots = all_slots[: world.count]  # a view: the background alone, or with every actor
    if copied_rows is not None:  # further instances of a track: the slots of the rows they copy
        placed = scene.background.count + scene.actor_pack[0].count
        slots = torch.cat([all_slots[:placed], all_slots[scene.background.count + copied_rows]])
    return render_gaussians(world, scene.sky.texture, cameras, chosen, device, (palette, slots), ground)


def render_gaussians(
    world: GaussianSet, sky_texture: torch.Tensor, cameras: CameraBatch, backend: str, device: torch.device,
    semantic_slots: tuple[SemanticPalette, torch.Tensor] | None = None,
    ground: tuple[float, np.ndarray] | None = None,
) -> RenderOutput:
    """Render world-frame Gaussians plus a sky texture [Hs, Ws, 3] with a concrete backend
    (`semantic_slots`: the palette and each Gaussian's slot, when the caller knows them already;
    `ground`: the road plane of `finish`)."""
    world = world.to(device)
    cameras = cameras.to(device)
    if semantic_slots is None:
        semantic_slots = SemanticPalette.for_tags(world.semantic), None
    palette = semantic_slots[0]
    slots = palette.slots_of(world.semantic) if semantic_slots[1] is None else semantic_slots[1].to(device)
    if backend == "gsplat":
        rgb, depth_sum, alpha, slot = _render_gsplat(world, slots, palette, cameras)
    elif backend == "cpu":
        rgb, depth_sum, alpha, slot = _render_cpu(world, slots, palette, cameras)
    elif backend == "reference":
        rgb, depth_sum, alpha, slot = _render_reference(world, slots, palette, cameras)
    else:
        raise InputError(f"backend: expected gsplat, cpu or reference, got {backend!r}")
    return finish(rgb, depth_sum, alpha, slot, palette, sky_texture.to(device), cameras, ground)


def finish(
    rgb: torch.Tensor,
    depth_sum: torch.Tensor,
    alpha: torch.Tensor,
    slot: torch.Tensor,
    palette: SemanticPalette,
    sky_texture: torch.Tensor,
    cameras: CameraBatch,
    ground: tuple[float, np.ndarray] | None = None,
) -> RenderOutput:
    """Add the sky and turn accumulations ([C,H,W,3], [C,H,W], [C,H,W], slots [C,H,W]) into a RenderOutput.

    With `ground` (height m, RGB (3,)): the sky model is a texture over directions, so where a camera
    leaves the logged views it would paint sky-like colours on the road through gaps in the Gaussians.
    Rays that meet the plane z = height within GROUND_RANGE_M take the road colour there instead of
    the sky's, and where the pixel's tag would be Sky, tag Roads and the plane's depth.
    """
    from recon_carla_bridge.recon.gaussians import sample_sky_texture

    dirs = cameras.ray_directions()  # [C, H, W, 3]
    behind = sample_sky_texture(sky_texture, dirs)  # what fills the remaining transmittance
    semantic = palette.tags_of(slot)
    is_sky = semantic == int(CarlaTag.SKY)
    depth = torch.where(is_sky, torch.full_like(depth_sum, SKY_DEPTH), depth_sum / alpha.clamp_min(1e-10))
    if ground is not None:
        height, colour = ground
        down = dirs[..., 2] < -1e-6
        distance = (height - cameras.world_from_camera[:, 2, 3][:, None, None]) / torch.where(down, dirs[..., 2], torch.full_like(dirs[..., 2], -1e-6))
        hits = down & (distance > 0.0) & (distance < GROUND_RANGE_M)
        road = to_device(torch.as_tensor(colour, dtype=behind.dtype), behind.device).expand_as(behind)
        behind = torch.where(hits[..., None], road, behind)
        plane_depth = distance * (dirs * cameras.world_from_camera[:, :3, 2][:, None, None, :]).sum(dim=-1)
        semantic = torch.where(hits & is_sky, torch.full_like(semantic, int(CarlaTag.ROADS)), semantic)
        depth = torch.where(hits & is_sky, plane_depth, depth)
    out_rgb = torch.clamp(rgb + (1.0 - alpha)[..., None] * behind, 0.0, 1.0)
    return RenderOutput(out_rgb, depth, alpha, semantic)


def _render_cpu(world: GaussianSet, slots: torch.Tensor, palette: SemanticPalette, cameras: CameraBatch):
    from recon_carla_bridge.recon.raster_cpu import rasterize_cpu

    views = cameras.camera_from_world()
    frames = [
        rasterize_cpu(
            world.means, world.quats, world.log_scales, world.opacity_logits, world.sh, slots,
            views[c], cameras.K[c], cameras.width, cameras.height, palette.size, palette.sky_slot,
        )
        for c in range(cameras.num_cameras)
    ]
    stack = lambda name: torch.from_numpy(np.stack([getattr(f, name) for f in frames]))
    return stack("rgb"), stack("depth_sum"), stack("alpha"), stack("slot").to(torch.int64)


def _render_reference(world: GaussianSet, slots: torch.Tensor, palette: SemanticPalette, cameras: CameraBatch):
    from recon_carla_bridge.recon.projection import project
    from recon_carla_bridge.recon.raster_reference import composite_reference

    views = cameras.camera_from_world()
    one_hot = torch.nn.functional.one_hot(slots, palette.size).to(torch.float32)
    outputs = []
    for c in range(cameras.num_cameras):
        projected = project(world, views[c], cameras.K[c], cameras.width, cameras.height)
        features = torch.cat([projected.colors, projected.depths[:, None], one_hot], dim=1)
        image, alpha = composite_reference(projected, features, cameras.width, cameras.height)
        outputs.append((image, alpha))
    image = torch.stack([o[0] for o in outputs])
    alpha = torch.stack([o[1] for o in outputs])
    return image[..., :3], image[..., 3], alpha, _slot_argmax(image[..., 4:], alpha, palette)


def _slot_argmax(weights: torch.Tensor, alpha: torch.Tensor, palette: SemanticPalette) -> torch.Tensor:
    """Slot [C,H,W] with the largest weight in [C,H,W,K], Sky's weight raised by 1 - alpha."""
    weights = weights.clone()
    weights[..., palette.sky_slot] += 1.0 - alpha
    return weights.argmax(dim=-1)


def _render_gsplat(world: GaussianSet, slots: torch.Tensor, palette: SemanticPalette, cameras: CameraBatch):
    from gsplat import rasterization

    views = cameras.camera_from_world()
    campos = cameras.world_from_camera[:, :3, 3]
    colors = eval_sh(world.sh, world.means[None] - campos[:, None])  # [C, N, 3]
    one_hot = torch.nn.functional.one_hot(slots, palette.size).to(torch.float32)
    features = torch.cat([colors, one_hot[None].expand(cameras.num_cameras, -1, -1)], dim=-1)
    with torch.no_grad():
        image, alphas, _ = rasterization(
            world.means, world.quats, torch.exp(world.log_scales), torch.sigmoid(world.opacity_logits), features,
            views, cameras.K, cameras.width, cameras.height, render_mode="RGB+ED", packed=False,
        )
    alpha = alphas[..., 0]
    depth_sum = image[..., -1] * alpha
    return image[..., :3], depth_sum, alpha, _slot_argmax(image[..., 3:-1], alpha, palette)


GROUND_PLANE_KEY = "ground_plane"  # scene metadata: "height r g b", measured on export (`measure_ground_plane`)


def ground_plane(scene: GaussianScene) -> tuple[float, np.ndarray] | None:
    """(height m, RGB (3,)) of the road: the scene's measured plane (metadata GROUND_PLANE_KEY) when it has
    one, else the median height and DC colour of the background Gaussians tagged as road, or None."""
    measured = scene.metadata.get(GROUND_PLANE_KEY)
    if measured:
        try:
            height, r, g, b = (float(v) for v in measured.split())
        except ValueError:
            raise InputError(f"scene metadata {GROUND_PLANE_KEY!r}: expected 'height r g b', got {measured!r}") from None
        return height, np.array([r, g, b], dtype=np.float32)
    background = scene.background
    road = (background.semantic == int(CarlaTag.ROADS)) | (background.semantic == int(CarlaTag.ROAD_LINE))
    if int(road.sum()) < 50:
        return None
    height = float(torch.median(background.means[road, 2]))
    colour = (background.sh[road, 0, :] * SH_C0 + 0.5).clamp(0.0, 1.0)
    return height, torch.median(colour, dim=0).values.cpu().numpy()


def measure_ground_plane(scene: GaussianScene, cameras: list[tuple[CameraBatch, Mapping[str, torch.Tensor]]],
                         backend: str = "auto") -> str | None:
    """The road plane as the splats draw it, for the scene's metadata ("height r g b"): the median height of
    the road Gaussians, and the median colour of the rendered pixels tagged Roads that the Gaussians cover
    (alpha > 0.9) in the given views ((camera, actor poses) pairs). A trained Gaussian's own colour says
    little (most road Gaussians are faint, neighbours compensate each other); the rendered road does.
    None when there is no road."""
    background = scene.background
    road = background.semantic == int(CarlaTag.ROADS)
    if int(road.sum()) < 50:
        return None
    height = float(torch.median(background.means[road, 2]))
    samples = []
    for camera, poses in cameras:
        output = render(scene, camera, poses, backend)
        mask = (output.semantic == int(CarlaTag.ROADS)) & (output.alpha > 0.9)
        samples.append(output.rgb[mask].cpu())
    pixels = torch.cat(samples) if samples else torch.zeros(0, 3)
    if pixels.shape[0] < 100:
        return None
    colour = torch.median(pixels, dim=0).values.tolist()
    return f"{height:.4f} {colour[0]:.4f} {colour[1]:.4f} {colour[2]:.4f}"
