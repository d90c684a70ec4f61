"""Tiny synthetic scenes for the recon tests: random Gaussian clouds and a 4-frame SceneLog on disk."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recon_carla_bridge.ingest.scenelog import (
    SCENE_FILE_NAME,
    ActorBox,
    ActorTrack,
    CameraCalib,
    CameraFrame,
    Frame,
    LidarCalib,
    LidarScan,
    SceneLog,
    scene_log_to_json,
)
from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
    rgb_to_sh_dc,
)
from recon_carla_bridge.recon.render import render

# OpenCV camera looking along world +x from the origin: camera z = world x, camera x = -world y, camera y = -world z.
FORWARD = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def random_set(n: int, seed: int, center=(8.0, 0.0, 0.0), spread=(2.0, 2.0, 1.0), sh_degree: int = 1, tags=(1, 3, 9)) -> GaussianSet:
    """`n` random Gaussians around `center`."""
    g = torch.Generator().manual_seed(seed)
    k = (sh_degree + 1) ** 2
    return GaussianSet(
        means=torch.randn(n, 3, generator=g) * torch.tensor(spread) + torch.tensor(center),
        quats=torch.randn(n, 4, generator=g),
        log_scales=torch.log(torch.rand(n, 3, generator=g) * 0.3 + 0.03),
        opacity_logits=torch.randn(n, generator=g) * 2.0,
        sh=torch.randn(n, k, 3, generator=g) * 0.4,
        semantic=torch.tensor(tags)[torch.randint(0, len(tags), (n,), generator=g)],
    )


def forward_camera(width: int = 48, height: int = 32, focal: float = 30.0, position=(0.0, 0.0, 0.0)) -> CameraBatch:
    """One camera at `position` looking along +x."""
    pose = FORWARD.copy()
    pose[:3, 3] = position
    K = np.array([[focal, 0.0, width / 2], [0.0, focal, height / 2], [0.0, 0.0, 1.0]])
    return CameraBatch.from_numpy(pose, K, width, height)


def random_scene(n: int = 300, seed: int = 0) -> GaussianScene:
    """Background cloud plus one car-tagged actor 'car0' (Gaussians in its box frame)."""
    actor_set = random_set(80, seed + 1, center=(0.0, 0.0, 0.0), spread=(1.5, 0.7, 0.6), tags=(14,))
    actor = ActorAsset(
        track_id="car0", category="vehicle", size=torch.tensor([4.0, 1.8, 1.5]), moving=True, gaussians=actor_set,
        frame_indices=torch.tensor([0, 1]), world_from_box=torch.eye(4).repeat(2, 1, 1),
    )
    return GaussianScene(random_set(n, seed), {"car0": actor}, SkyModel.uniform((0.5, 0.7, 0.9), 8, 16), {"name": "random"})


def _surface_points(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """World points and colours of a ground plane (z = 0) and a wall at x = 14 (checker colours)."""
    ground = np.stack([rng.uniform(2, 14, 3000), rng.uniform(-6, 6, 3000), np.zeros(3000)], axis=1)
    wall = np.stack([np.full(1500, 14.0), rng.uniform(-6, 6, 1500), rng.uniform(0, 4, 1500)], axis=1)
    points = np.concatenate([ground, wall])
    checker = ((np.floor(points[:, 0]) + np.floor(points[:, 1]) + np.floor(points[:, 2])) % 2)[:, None]
    colour = np.where(checker > 0, [[0.3, 0.3, 0.35]], [[0.55, 0.5, 0.45]])
    colour[len(ground):] = np.where(checker[len(ground):] > 0, [[0.7, 0.3, 0.2]], [[0.9, 0.8, 0.6]])
    return points, colour


def _truth_scene(rng: np.random.Generator) -> tuple[GaussianScene, np.ndarray, np.ndarray]:
    """Ground-truth Gaussians (surfaces + a red car in its box frame) and the surface/car points."""
    points, colour = _surface_points(rng)
    n = len(points)
    background = GaussianSet(
        means=torch.as_tensor(points, dtype=torch.float32), quats=torch.tensor([1.0, 0, 0, 0]).repeat(n, 1),
        log_scales=torch.full((n, 3), float(np.log(0.12))), opacity_logits=torch.full((n,), 3.0),
        sh=rgb_to_sh_dc(torch.as_tensor(colour, dtype=torch.float32))[:, None], semantic=torch.full((n,), 3),
    )
    car = rng.uniform([-2, -0.9, -0.75], [2, 0.9, 0.75], size=(800, 3))
    car_set = GaussianSet(
        means=torch.as_tensor(car, dtype=torch.float32), quats=torch.tensor([1.0, 0, 0, 0]).repeat(800, 1),
        log_scales=torch.full((800, 3), float(np.log(0.1))), opacity_logits=torch.full((800,), 3.0),
        sh=rgb_to_sh_dc(torch.tensor([[0.8, 0.1, 0.1]])).repeat(800, 1)[:, None], semantic=torch.full((800,), 14),
    )
    actor = ActorAsset("car0", "vehicle", torch.tensor([4.0, 1.8, 1.5]), True, car_set, torch.arange(4), torch.eye(4).repeat(4, 1, 1))
    return GaussianScene(background, {"car0": actor}, SkyModel.uniform((0.6, 0.75, 0.95), 8, 16)), points, car


def write_synthetic_log(root: Path, frames: int = 9, width: int = 48, height: int = 32) -> SceneLog:
    """A SceneLog on disk: ego creeping along x, one camera, LiDAR every frame, one car driving ahead.

    Images are rendered from a ground-truth Gaussian scene with the reference renderer (PNG, lossless).
    """
    rng = np.random.default_rng(0)
    truth, surface, car = _truth_scene(rng)
    K = np.array([[30.0, 0.0, width / 2], [0.0, 30.0, height / 2], [0.0, 0.0, 1.0]])
    ego_from_camera = FORWARD.copy()
    ego_from_camera[:3, 3] = [0.0, 0.0, 1.5]
    (root / "images" / "cam").mkdir(parents=True)
    (root / "lidar" / "lidar").mkdir(parents=True)
    frame_list, boxes = [], []
    for index in range(frames):
        world_from_ego = np.eye(4)
        world_from_ego[0, 3] = 0.2 * index
        center, yaw = np.array([8.0 + 0.3 * index, -1.5, 0.75]), 0.05 * index
        box = ActorBox(index, center, yaw)
        boxes.append(box)
        pose = torch.as_tensor(box.world_from_box(), dtype=torch.float32)
        camera = CameraBatch.from_numpy(world_from_ego @ ego_from_camera, K, width, height)
        image = render(truth, camera, {"car0": pose}, backend="reference").rgb[0]
        Image.fromarray((image.numpy() * 255 + 0.5).astype(np.uint8)).save(root / "images" / "cam" / f"{index:06d}.png")
        world = np.concatenate([surface, car @ box.world_from_box()[:3, :3].T + center])
        ego = world - world_from_ego[:3, 3]
        scan = np.concatenate([ego, rng.uniform(0, 1, (len(ego), 1))], axis=1).astype(np.float32)
        np.save(root / "lidar" / "lidar" / f"{index:06d}.npy", scan)
        frame_list.append(
            Frame(
                index, 0.1 * index, world_from_ego, {"cam": CameraFrame("cam", f"images/cam/{index:06d}.png", 0.1 * index)},
                {"lidar": LidarScan("lidar", f"lidar/lidar/{index:06d}.npy", 0.1 * index, len(scan))},
            )
        )
    log = SceneLog(
        name="synthetic", source="synthetic", ego_origin="rear axle", ego_size=np.array([4.5, 1.8, 1.5]),
        cameras={"cam": CameraCalib("cam", K, width, height, ego_from_camera)},
        lidars={"lidar": LidarCalib("lidar", np.eye(4))}, frames=frame_list,
        tracks=[ActorTrack("car0", "vehicle", np.array([4.0, 1.8, 1.5]), True, boxes)], root=root,
    )
    (root / SCENE_FILE_NAME).write_text(json.dumps(scene_log_to_json(log)))
    return log
