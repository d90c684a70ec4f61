"""Reading a SceneLog for reconstruction: camera views, images, LiDAR in the world, actor boxes.

Everything here is numpy/torch on the CPU; `recon_carla_bridge.ingest.scenelog` is the only
dependency on the ingest package (it imports no `carla`).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import ActorTrack, SceneLog

HOLDOUT_EVERY = 8


@dataclass(frozen=True)
class View:
    """One camera image of one frame.

    Attributes:
        frame_index: log frame.
        camera: camera name.
        image_path: absolute path of the image file.
        world_from_camera: (4, 4) float64 pose (OpenCV axes).
        ego_from_camera: (4, 4) float64 mounting of the camera on the ego.
        K: (3, 3) float64 intrinsics.
        width, height: image size in pixels (that the view is rendered and trained at).
        held_out: True for evaluation views (by default every HOLDOUT_EVERY-th frame, starting at frame 0).
        file_width, file_height: size of the image file when it differs from width x height (0: the same);
            `load_view_image` resizes it.
    """

    frame_index: int
    camera: str
    image_path: str
    world_from_camera: np.ndarray
    ego_from_camera: np.ndarray
    K: np.ndarray
    width: int
    height: int
    held_out: bool
    file_width: int = 0
    file_height: int = 0


def scaled_view(view: View, width: int, height: int) -> View:
    """`view` rendered at `width` x `height` (intrinsics scaled per axis, the image file resized on load)."""
    if (width, height) == (view.width, view.height):
        return view
    K = np.array(view.K, dtype=np.float64)
    K[0] *= width / view.width
    K[1] *= height / view.height
    return dataclasses.replace(view, K=K, width=int(width), height=int(height),
                               file_width=view.file_width or view.width, file_height=view.file_height or view.height)


def scaled_size(width: int, height: int, scale: float = 1.0, target_width: int = 0) -> tuple[int, int]:
    """Image size for a resolution choice: `target_width` (> 0) with the aspect ratio kept, else `scale`."""
    if target_width > 0:
        scale = target_width / width
    if not scale > 0:
        raise InputError(f"resolution scale: must be positive, got {scale}")
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_view_image(view: View) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1] of a view at its size (area-averaged when the file is larger)."""
    if not view.file_width:
        return load_image(view.image_path, view.width, view.height)
    full = load_image(view.image_path, view.file_width, view.file_height)
    small = Image.fromarray((full * 255 + 0.5).astype(np.uint8)).resize((view.width, view.height), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _frame_ranges(spec: str, count: int, what: str) -> np.ndarray:
    """(count,) bool of the frames named by "A-B,C,D-E" (inclusive ranges)."""
    chosen = np.zeros(count, dtype=bool)
    for part in spec.split(","):
        match = _RANGE.match(part)
        if not match:
            raise InputError(f"{what} {spec!r}: expected frame ranges like 0-79 or 0-79,90")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if first > last or last >= count:
            raise InputError(f"{what} {spec!r}: range {part.strip()!r} is not within frames 0-{count - 1}")
        chosen[first:last + 1] = True
    return chosen


def held_out_split(count: int, holdout: str = "auto", train_frames: str = "") -> np.ndarray:
    """(count,) bool: which of `count` frames are held out (evaluated, never trained on).

    `holdout`: "every:N" (frames 0, N, 2N, ...), "frames:A-B,C" (those frames), "none", or "auto"
    (every:8, or none when `train_frames` is given). `train_frames` ("A-B,C", empty: all) limits training to
    those frames: every other frame is held out too (e.g. "0-79" to score forward extrapolation on 80-99).
    """
    spec = holdout.strip().lower()
    if spec == "auto":
        spec = "none" if train_frames.strip() else f"every:{HOLDOUT_EVERY}"
    if spec == "none":
        held = np.zeros(count, dtype=bool)
    elif spec.startswith("every:") and spec[6:].isdigit() and int(spec[6:]) >= 2:
        held = np.arange(count) % int(spec[6:]) == 0
    elif spec.startswith("frames:"):
        held = _frame_ranges(spec[7:], count, "holdout")
    else:
        raise InputError(f"holdout {holdout!r}: expected every:N (N >= 2), frames:A-B, none or auto")
    if train_frames.strip():
        held |= ~_frame_ranges(train_frames, count, "train frames")
    if held.all():
        raise InputError(f"holdout {holdout!r}, train frames {train_frames!r}: every frame is held out")
    return held


def is_held_out(frame_index: int) -> bool:
    """Whether a frame is in the held-out split (every 8th frame: 0, 8, 16, ...)."""
    return frame_index % HOLDOUT_EVERY == 0


def list_views(log: SceneLog, held_out: np.ndarray | None = None) -> list[View]:
    """Every camera image of the log, in frame order (`held_out`: (F,) bool split, default `is_held_out`)."""
    views = []
    for frame in log.frames:
        for name, cam in frame.cameras.items():
            calib = log.cameras[name]
            views.append(
                View(
                    frame_index=frame.index,
                    camera=name,
                    image_path=str(log.path(cam.image)),
                    world_from_camera=log.world_from_camera(frame.index, name),
                    ego_from_camera=np.asarray(calib.ego_from_camera, dtype=np.float64),
                    K=calib.K,
                    width=calib.width,
                    height=calib.height,
                    held_out=is_held_out(frame.index) if held_out is None else bool(held_out[frame.index]),
                )
            )
    if not views:
        raise InputError(f"scene log {log.name!r}: no camera images to reconstruct from")
    return views


def load_image(path: str, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1]; the size must match the calibration."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: unreadable image ({error})") from error
    if array.shape[:2] != (height, width):
        raise InputError(f"{path}: image is {array.shape[1]}x{array.shape[0]}, calibration says {width}x{height}")
    return array


def world_points(log: SceneLog, frame_index: int) -> np.ndarray:
    """(N, 4) float64 points of every LiDAR scan of a frame in the world frame (x, y, z, intensity)."""
    frame = log.frames[frame_index]
    chunks = []
    for name in frame.lidars:
        points = log.load_points(frame_index, name).astype(np.float64)
        xyz = points[:, :3] @ frame.world_from_ego[:3, :3].T + frame.world_from_ego[:3, 3]
        chunks.append(np.concatenate([xyz, points[:, 3:4]], axis=1))
    return np.concatenate(chunks) if chunks else np.zeros((0, 4))


def project_points(points: np.ndarray, world_from_camera: np.ndarray, K: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates (M, 2), camera depth (M,) and in-image mask (M,) of world points (M, 3)."""
    camera_from_world = np.linalg.inv(world_from_camera)
    cam = points @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    depth = cam[:, 2]
    safe = np.where(depth > 1e-3, depth, 1.0)
    uv = np.stack([K[0, 0] * cam[:, 0] / safe + K[0, 2], K[1, 1] * cam[:, 1] / safe + K[1, 2]], axis=1)
    inside = (depth > 0.5) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    return uv, depth, inside


def box_local_points(track: ActorTrack, frame_index: int, points: np.ndarray) -> np.ndarray | None:
    """World points (M, 3) expressed in the track's box frame at `frame_index` (None when unseen then)."""
    box = track.box_at(frame_index)
    if box is None:
        return None
    pose = box.world_from_box()
    return (points - pose[:3, 3]) @ pose[:3, :3]

