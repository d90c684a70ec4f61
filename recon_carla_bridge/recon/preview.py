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


def _camera(log, frame: int, camera: str, scale: float = 1.0):
    from recon_carla_bridge.recon.camera import CameraBatch

    calib = log.cameras[camera]
    batch = CameraBatch.from_numpy(log.world_from_camera(frame, camera), calib.K, calib.width, calib.height)
    return batch.scaled(round(calib.width * scale), round(calib.height * scale)) if scale != 1.0 else batch


def nearest_actor(scene, poses: dict[str, torch.Tensor], camera, min_gaussians: int = 500) -> str | None:
    """Track id of the closest actor (with at least `min_gaussians` Gaussians) whose centre is in view of `camera`."""
    view = camera.camera_from_world()[0]
    K = camera.K[0]
    best, best_depth = None, float("inf")
    for track_id, pose in poses.items():
        if scene.actors[track_id].gaussians.count < min_gaussians:
            continue
        centre = view[:3, :3] @ pose[:3, 3].to(view) + view[:3, 3]
        if centre[2] < 2.0:
            continue
        u = float(K[0, 0] * centre[0] / centre[2] + K[0, 2])
        v = float(K[1, 1] * centre[1] / centre[2] + K[1, 2])
        if 0 <= u < camera.width and 0 <= v < camera.height and float(centre[2]) < best_depth:
            best, best_depth = track_id, float(centre[2])
    return best


def write_previews(scene, log, out_dir: str, backend: str = "auto", sideways: float = 3.0) -> list[str]:
    """Write held-out comparisons (GT / render / semantic / depth) and a moved-actor picture; return the paths.

    The moved-actor picture shows, top to bottom: the logged render, the nearest actor moved `sideways`
    metres along its box y axis (left), and the semantic render of the moved scene. Renders fill the road
    plane as the simulator's cameras do (`ground_plane`).
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
        result = render(scene, _camera(log, view.frame_index, view.camera), poses, backend, ground)
        gt = (load_image(view.image_path, view.width, view.height) * 255 + 0.5).astype(np.uint8)
        path = out / f"recon_heldout_{view.frame_index:04d}.png"
        stack_rows([gt, to_uint8(result.rgb[0]), semantic_colours(result.semantic[0]), depth_colours(result.depth[0])], str(path))
        written.append(str(path))
    view = held[len(held) // 2] if held else list_views(log)[0]
    camera = _camera(log, view.frame_index, view.camera)
    poses = scene.logged_actor_poses(view.frame_index)
    chosen = nearest_actor(scene, poses, camera)
    if chosen is not None:
        shift = torch.eye(4)
        shift[1, 3] = sideways
        moved = dict(poses)
        moved[chosen] = poses[chosen] @ shift
        before = render(scene, camera, poses, backend, ground)
        after = render(scene, camera, moved, backend, ground)
        path = out / f"recon_actor_moved_{chosen}.png"
        stack_rows([to_uint8(before.rgb[0]), to_uint8(after.rgb[0]), semantic_colours(after.semantic[0])], str(path))
        written.append(str(path))
    return written
