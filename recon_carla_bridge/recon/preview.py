"""Pictures for people: held-out ground truth next to the render, semantic colours, depth."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from recon_carla_bridge.recon.semantics import NUM_CARLA_TAGS

# CARLA's CityScapes palette for the tags used here (others grey).
_PALETTE = np.full((NUM_CARLA_TAGS, 3), 128, dtype=np.uint8)
for _tag, _rgb in {
    0: (0, 0, 0), 1: (128, 64, 128), 2: (244, 35, 232), 3: (70, 70, 70), 4: (102, 102, 156), 5: (190, 153, 153),
    6: (153, 153, 153), 7: (250, 170, 30), 8: (220, 220, 0), 9: (107, 142, 35), 10: (152, 251, 152),
    11: (70, 130, 180), 12: (220, 20, 60), 13: (255, 0, 0), 14: (0, 0, 142), 15: (0, 0, 70), 16: (0, 60, 100),
    20: (110, 190, 160), 21: (170, 120, 50), 24: (157, 234, 50), 25: (81, 0, 81),
}.items():
    _PALETTE[_tag] = _rgb


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[H, W, 3] float in [0, 1] → uint8 array."""
    return (image.detach().float().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def semantic_colours(tags: torch.Tensor) -> np.ndarray:
    """[H, W] CARLA tags → [H, W, 3] uint8 CityScapes colours."""
    return _PALETTE[tags.cpu().numpy().clip(0, NUM_CARLA_TAGS - 1)]


def depth_colours(depth: torch.Tensor, far: float = 80.0) -> np.ndarray:
    """[H, W] metres → [H, W, 3] uint8 grey (near bright, `far` and beyond black)."""
    d = depth.detach().cpu().numpy()
    grey = (255 * (1.0 - np.clip(d / far, 0.0, 1.0))).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def stack_rows(rows: list[np.ndarray], path: str) -> None:
    """Write uint8 images [H, W, 3] (same width) one above the other as a PNG."""
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)


def _camera(scene, log, frame: int, camera: str, scale: float = 1.0):
    from recon_carla_bridge.recon.camera import CameraBatch

    calib = log.cameras[camera]
    pose = scene.camera_pose(frame, log.world_from_camera(frame, camera), calib.ego_from_camera).numpy()
    batch = CameraBatch.from_numpy(pose, calib.K, calib.width, calib.height)
    return batch.scaled(round(calib.width * scale), round(calib.height * scale)) if scale != 1.0 else batch


def actors_in_view(scene, poses: dict[str, torch.Tensor], camera, min_gaussians: int = 500) -> list[str]:
    """Track ids of the actors (with at least `min_gaussians` Gaussians) whose centre is in view of
    `camera`, at least 2 m ahead, nearest first."""
    view = camera.camera_from_world()[0]
    K = camera.K[0]
    found: list[tuple[float, str]] = []
    for track_id, pose in poses.items():
        if scene.actors[track_id].gaussians.count < min_gaussians:
            continue
        centre = view[:3, :3] @ pose[:3, 3].to(view) + view[:3, 3]
        if centre[2] < 2.0:
            continue
        u = float(K[0, 0] * centre[0] / centre[2] + K[0, 2])
        v = float(K[1, 1] * centre[1] / centre[2] + K[1, 2])
        if 0 <= u < camera.width and 0 <= v < camera.height:
            found.append((float(centre[2]), track_id))
    return [track_id for _, track_id in sorted(found)]


def blocked_fraction(scene, poses: dict[str, torch.Tensor], track_id: str, pose: torch.Tensor, samples: int = 9) -> float:
    """Fraction of the footprint of actor `track_id` placed at `pose` ([4, 4]) that lies inside another
    actor's box (a `samples` x `samples` grid over the footprint, tested in each other box's frame)."""
    half = scene.actors[track_id].size.to(torch.float32) / 2.0
    grid = torch.linspace(-1.0, 1.0, samples)
    xs, ys = torch.meshgrid(grid * half[0], grid * half[1], indexing="ij")
    local = torch.stack([xs.reshape(-1), ys.reshape(-1), torch.zeros(samples * samples), torch.ones(samples * samples)], 1)
    world = local @ pose.to(torch.float32).T  # [S, 4]
    inside = torch.zeros(world.shape[0], dtype=torch.bool)
    for other, other_pose in poses.items():
        if other == track_id:
            continue
        in_box = world @ torch.linalg.inv(other_pose.to(torch.float32)).T
        other_half = scene.actors[other].size.to(torch.float32) / 2.0
        inside |= (in_box[:, :3].abs() <= other_half).all(dim=1)
    return float(inside.float().mean())


def actor_to_move(scene, poses: dict[str, torch.Tensor], camera, sideways: float) -> tuple[str, float] | None:
    """(track id, signed sideways shift [m]) for the moved-actor picture: the nearest actor in view that
    can move `sideways` metres left or right without entering another actor's box (left first); if none
    can, the nearest actor and the side it overlaps least. None without an actor in view."""
    candidates = actors_in_view(scene, poses, camera)
    best: tuple[float, str, float] | None = None
    for track_id in candidates:
        for shift in (sideways, -sideways):
            moved = poses[track_id] @ _sideways(shift)
            blocked = blocked_fraction(scene, poses, track_id, moved)
            if blocked == 0.0:
                return track_id, shift
            if best is None or (track_id == candidates[0] and blocked < best[0]):
                best = (blocked, track_id, shift)
    return (best[1], best[2]) if best is not None else None


def _sideways(shift: float) -> torch.Tensor:
    pose = torch.eye(4)
    pose[1, 3] = shift
    return pose


def write_previews(scene, log, out_dir: str, backend: str = "auto", sideways: float = 3.0) -> list[str]:
    """Write held-out comparisons (GT / render / semantic / depth) and a moved-actor picture; return the paths.

    The moved-actor picture shows, top to bottom: the logged render, an actor moved `sideways` metres
    along its box y axis (the nearest in view that has room to the left or right, `actor_to_move`), and
    the semantic render of the moved scene. Renders fill the road plane as the simulator's cameras do
    (`ground_plane`).
    """
    from pathlib import Path

    from recon_carla_bridge.recon.log_views import is_held_out, list_views, load_image
    from recon_carla_bridge.recon.render import ground_plane, render

    ground = ground_plane(scene)  # the road plane the simulator's cameras fill unobserved road with
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    held = [v for v in list_views(log) if is_held_out(v.frame_index)]
    for view in held[1:3] if len(held) > 2 else held:
        poses = scene.logged_actor_poses(view.frame_index)
        result = render(scene, _camera(scene, log, view.frame_index, view.camera), poses, backend, ground)
        gt = (load_image(view.image_path, view.width, view.height) * 255 + 0.5).astype(np.uint8)
        path = out / f"recon_heldout_{view.frame_index:04d}.png"
        stack_rows([gt, to_uint8(result.rgb[0]), semantic_colours(result.semantic[0]), depth_colours(result.depth[0])], str(path))
        written.append(str(path))
    view = held[len(held) // 2] if held else list_views(log)[0]
    camera = _camera(scene, log, view.frame_index, view.camera)
    poses = scene.logged_actor_poses(view.frame_index)
    choice = actor_to_move(scene, poses, camera, sideways)
    if choice is not None:
        chosen, shift = choice
        moved = dict(poses)
        moved[chosen] = poses[chosen] @ _sideways(shift)
        before = render(scene, camera, poses, backend, ground)
        after = render(scene, camera, moved, backend, ground)
        path = out / f"recon_actor_moved_{chosen}.png"
        stack_rows([to_uint8(before.rgb[0]), to_uint8(after.rgb[0]), semantic_colours(after.semantic[0])], str(path))
        written.append(str(path))
    return written
