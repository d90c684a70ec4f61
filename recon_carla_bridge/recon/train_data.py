"""Training tensors from a SceneLog: images, cameras, sparse LiDAR depth and actor poses per view."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from recon_carla_bridge.ingest.scenelog import SceneLog
from recon_carla_bridge.recon.log_views import (
    View,
    box_local_points,
    list_views,
    load_view_image,
    project_points,
    world_points,
)


@dataclass(frozen=True)
class ViewTensors:
    """One camera image ready for training or evaluation.

    Attributes:
        view: where it comes from.
        image: [H, W, 3] uint8.
        world_from_camera: [4, 4] float32, the logged pose.
        world_from_ego: [4, 4] float32, the logged ego pose.
        ego_from_camera: [4, 4] float32, the camera's mounting (world_from_camera = world_from_ego @ it).
        K: [3, 3] float32.
        depth_pixels: [M] int64 flat pixel indices with a LiDAR return (nearest return per pixel).
        depth_values: [M] float32 camera z-depth [m] of those returns.
        actor_pixels: [M2] int64 flat pixel indices whose nearest LiDAR return lies inside an actor box.
    """

    view: View
    image: torch.Tensor
    world_from_camera: torch.Tensor
    world_from_ego: torch.Tensor
    ego_from_camera: torch.Tensor
    K: torch.Tensor
    depth_pixels: torch.Tensor
    depth_values: torch.Tensor
    actor_pixels: torch.Tensor

    def to(self, device: torch.device | str) -> ViewTensors:
        """The same view on another device."""
        return ViewTensors(
            self.view, self.image.to(device), self.world_from_camera.to(device), self.world_from_ego.to(device),
            self.ego_from_camera.to(device), self.K.to(device),
            self.depth_pixels.to(device), self.depth_values.to(device), self.actor_pixels.to(device),
        )


def actor_point_mask(log: SceneLog, frame_index: int, points: np.ndarray, ground_slice: float = 0.15) -> np.ndarray:
    """(N,) True for world points inside the box (above its ground slice) of an actor seen in the frame."""
    inside = np.zeros(len(points), dtype=bool)
    for track in log.tracks:
        local = box_local_points(track, frame_index, points)
        if local is None:
            continue
        half = track.size / 2
        inside |= np.all(np.abs(local[:, :2]) <= half[:2], axis=1) & (local[:, 2] >= -half[2] + ground_slice) & (local[:, 2] <= half[2])
    return inside


def sparse_depth(points: np.ndarray, view: View) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel indices and depths of the nearest LiDAR return per pixel for world points (N, 3)."""
    uv, depth, inside = project_points(points, view.world_from_camera, view.K, view.width, view.height)
    pixels = (uv[inside, 1].astype(np.int64) * view.width + uv[inside, 0].astype(np.int64))
    depth = depth[inside]
    order = np.lexsort((depth, pixels))
    pixels, depth = pixels[order], depth[order]
    first = np.ones(len(pixels), dtype=bool)
    first[1:] = pixels[1:] != pixels[:-1]
    return pixels[first], depth[first].astype(np.float32)


def load_view_tensors(log: SceneLog, views: list[View] | None = None, lidar: bool = True) -> list[ViewTensors]:
    """Tensors (on the CPU) of every view of the log; views of frames without a scan, and every view when
    `lidar` is False (views only rendered and scored), get no depth."""
    out = []
    for view in views or list_views(log):
        image = load_view_image(view)
        actor_pixels = np.zeros(0, dtype=np.int64)
        if lidar and log.frames[view.frame_index].lidars:
            points = world_points(log, view.frame_index)[:, :3]
            pixels, depths = sparse_depth(points, view)
            on_actor = actor_point_mask(log, view.frame_index, points)
            if on_actor.any():
                actor_pixels, actor_depths = sparse_depth(points[on_actor], view)
                # keep the pixels where the actor's return is also the nearest return (not hidden)
                nearest = dict(zip(pixels.tolist(), depths.tolist()))
                keep = np.array([abs(nearest.get(px, -1.0) - d) < 1e-3 for px, d in zip(actor_pixels.tolist(), actor_depths.tolist())], dtype=bool)
                actor_pixels = actor_pixels[keep] if len(keep) else actor_pixels
        else:
            pixels, depths = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        out.append(
            ViewTensors(
                view=view,
                image=torch.from_numpy(np.round(image * 255).astype(np.uint8)),
                world_from_camera=torch.as_tensor(view.world_from_camera, dtype=torch.float32),
                world_from_ego=torch.as_tensor(view.world_from_camera @ np.linalg.inv(view.ego_from_camera), dtype=torch.float32),
                ego_from_camera=torch.as_tensor(view.ego_from_camera, dtype=torch.float32),
                K=torch.as_tensor(view.K, dtype=torch.float32),
                depth_pixels=torch.from_numpy(pixels),
                depth_values=torch.from_numpy(depths),
                actor_pixels=torch.from_numpy(actor_pixels),
            )
        )
    return out
