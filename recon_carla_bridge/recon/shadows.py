"""Background Gaussians that only ever sit behind an actor, in every training view that frames them.

A car that drives ahead of the ego for the whole log hides the same stretch of road in every image. The
background Gaussians there are never seen directly; whatever they learn they learn through the car
(where its Gaussians are not fully opaque), so they take the car's colours, and once the simulator moves
the car they show as a car-shaped ghost. They are found geometrically: in each training view, the segment
from the camera centre to the Gaussian's centre crosses an actor's box (shrunk a little, so the road just
beside a car is not caught). Gaussians framed by some view but behind an actor in all of them are
removed (training makes them transparent so MCMC reuses them; export drops them).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from recon_carla_bridge.recon.gaussians import GaussianScene


@dataclass(frozen=True)
class ShadowView:
    """One training view for the shadow test.

    Attributes:
        camera_from_world: [4, 4] float32.
        K: [3, 3] float32 intrinsics.
        width, height: image size in pixels.
        box_from_world: [A, 4, 4] poses of the actors in that frame (box frame origin at the box centre).
        half: [A, 3] half-sizes of those boxes, already shrunk.
    """

    camera_from_world: torch.Tensor
    K: torch.Tensor
    width: int
    height: int
    box_from_world: torch.Tensor
    half: torch.Tensor


def shadow_views(world_from_cameras: list[torch.Tensor], Ks: list[torch.Tensor], frames: list[int], width: int, height: int,
                 scene: GaussianScene, shrink: float = 0.9) -> list[ShadowView]:
    """One ShadowView per camera (world_from_camera [4, 4], K [3, 3], log frame), with the scene's logged
    actor boxes of that frame, half-sizes times `shrink`."""
    views = []
    for world_from_camera, K, frame in zip(world_from_cameras, Ks, frames):
        device = world_from_camera.device
        poses, halves = [], []
        for actor in scene.actors.values():
            pose = actor.pose_at(frame)
            if pose is not None:
                poses.append(pose.float())
                halves.append(actor.size.float() / 2 * shrink)
        box = torch.linalg.inv(torch.stack(poses)).to(device) if poses else torch.zeros(0, 4, 4, device=device)
        half = torch.stack(halves).to(device) if halves else torch.zeros(0, 3, device=device)
        views.append(ShadowView(torch.linalg.inv(world_from_camera.float()), K.float(), width, height, box, half))
    return views


def _framed(means: torch.Tensor, view: ShadowView, near: float = 0.1) -> torch.Tensor:
    """[N] whether each centre projects inside the image, in front of the camera."""
    cam = means @ view.camera_from_world[:3, :3].T + view.camera_from_world[:3, 3]
    z = cam[:, 2]
    u = view.K[0, 0] * cam[:, 0] / z.clamp_min(near) + view.K[0, 2]
    v = view.K[1, 1] * cam[:, 1] / z.clamp_min(near) + view.K[1, 2]
    return (z > near) & (u >= 0) & (u < view.width) & (v >= 0) & (v < view.height)


def _behind_a_box(means: torch.Tensor, view: ShadowView) -> torch.Tensor:
    """[N] whether the segment camera centre -> centre crosses one of the view's boxes (slab test)."""
    if view.box_from_world.shape[0] == 0:
        return torch.zeros(means.shape[0], dtype=torch.bool, device=means.device)
    world_from_camera_t = -view.camera_from_world[:3, :3].T @ view.camera_from_world[:3, 3]  # camera centre
    rot, trans = view.box_from_world[:, :3, :3], view.box_from_world[:, :3, 3]  # [A, 3, 3], [A, 3]
    start = torch.einsum("aij,j->ai", rot, world_from_camera_t) + trans  # [A, 3] camera centre per box frame
    end = torch.einsum("aij,nj->ani", rot, means) + trans[:, None]  # [A, N, 3]
    step = end - start[:, None]
    step = torch.where(step.abs() < 1e-9, torch.full_like(step, 1e-9), step)
    half = view.half[:, None]  # [A, 1, 3]
    t1 = (-half - start[:, None]) / step
    t2 = (half - start[:, None]) / step
    enter = torch.minimum(t1, t2).amax(dim=-1)  # [A, N]
    leave = torch.maximum(t1, t2).amin(dim=-1)
    return ((leave >= enter.clamp_min(0.0)) & (enter <= 1.0)).any(dim=0)


@torch.no_grad()
def always_behind_actors(means: torch.Tensor, views: list[ShadowView], chunk: int = 65_536) -> torch.Tensor:
    """[N] bool: framed by at least one view and behind an actor box in every view that frames it."""
    result = torch.zeros(means.shape[0], dtype=torch.bool, device=means.device)
    for begin in range(0, means.shape[0], chunk):
        part = means[begin:begin + chunk]
        framed = torch.zeros(part.shape[0], dtype=torch.bool, device=means.device)
        seen = torch.zeros_like(framed)
        for view in views:
            in_view = _framed(part, view)
            framed |= in_view
            seen |= in_view & ~_behind_a_box(part, view)
        result[begin:begin + chunk] = framed & ~seen
    return result
