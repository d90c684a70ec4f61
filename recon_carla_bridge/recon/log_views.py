"""Reading a SceneLog for reconstruction: camera views, images, LiDAR in the world, actor boxes.

Everything here is numpy/torch on the CPU; `recon_carla_bridge.ingest.scenelog` is the only
dependency on the ingest package (it imports no `carla`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import ActorTrack, SceneLog

HOLDOUT_EVERY = 8
DEFAULT_HOLDOUT = f"every:{HOLDOUT_EVERY}"


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
        width, height: image size in pixels.
        held_out: True for evaluation views (by default every HOLDOUT_EVERY-th frame, starting at frame 0;
            see `parse_holdout` for the other splits).
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


@dataclass(frozen=True)
class HoldoutSplit:
    """Which frames are held out of training and scored.

    Attributes:
        every: hold out every `every`-th frame (0, every, 2*every, ...); None when `after` is used.
        after: train on frames 0..after and hold out every later frame (forward extrapolation); None when
            `every` is used.
    """

    every: int | None = HOLDOUT_EVERY
    after: int | None = None

    def held_out(self, frame_index: int) -> bool:
        """Whether `frame_index` is an evaluation frame of this split."""
        if self.after is not None:
            return frame_index > self.after
        return frame_index % self.every == 0


def parse_holdout(text: str) -> HoldoutSplit:
    """The split named by `text`: "every:N" (every N-th frame held out, interpolation) or "after:K" (frames
    0..K train, later frames held out, forward extrapolation). Anything else is an InputError naming it."""
    kind, colon, number = text.strip().partition(":")
    try:
        value = int(number)
    except ValueError:
        value = -1
    if colon and kind == "every" and value >= 2:
        return HoldoutSplit(every=value, after=None)
    if colon and kind == "after" and value >= 0:
        return HoldoutSplit(every=None, after=value)
    raise InputError(f"holdout {text!r}: expected 'every:N' (N >= 2) or 'after:K' (K >= 0)")


def is_held_out(frame_index: int, holdout: str = DEFAULT_HOLDOUT) -> bool:
    """Whether a frame is in the held-out split (by default every 8th frame: 0, 8, 16, ...)."""
    return parse_holdout(holdout).held_out(frame_index)


def list_views(log: SceneLog, holdout: str = DEFAULT_HOLDOUT) -> list[View]:
    """Every camera image of the log, in frame order, flagged by the `holdout` split (`parse_holdout`)."""
    split = parse_holdout(holdout)
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
                    held_out=split.held_out(frame.index),
                )
            )
    if not views:
        raise InputError(f"scene log {log.name!r}: no camera images to reconstruct from")
    if all(v.held_out for v in views):
        raise InputError(f"scene log {log.name!r}: holdout {holdout!r} leaves no frame to train on")
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

