"""The moved-actor preview picks an actor that has room to move (in dense traffic, not into its neighbour)."""
from __future__ import annotations

import math

import numpy as np
import torch

from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet, SkyModel
from recon_carla_bridge.recon.preview import actor_to_move, actors_in_view, blocked_fraction


def _actor(track_id: str, x: float, y: float, count: int = 600) -> tuple[ActorAsset, torch.Tensor]:
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([x, y, 0.75])
    gaussians = GaussianSet(torch.zeros(count, 3), torch.tensor([1.0, 0, 0, 0]).repeat(count, 1),
                            torch.full((count, 3), math.log(0.1)), torch.zeros(count), torch.zeros(count, 1, 3),
                            torch.full((count,), 14))
    return ActorAsset(track_id, "vehicle", torch.tensor([4.0, 2.0, 1.5]), True, gaussians, torch.tensor([0]), pose[None]), pose


def _camera() -> CameraBatch:
    pose = np.eye(4)
    pose[:3, :3] = [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]  # OpenCV axes looking along world +x
    pose[2, 3] = 1.5
    return CameraBatch.from_numpy(pose, np.array([[50.0, 0, 50], [0, 50.0, 30], [0, 0, 1]]), 100, 60)


def test_the_nearest_actor_moves_to_the_side_where_there_is_room() -> None:
    ahead, ahead_pose = _actor("ahead", 8.0, 0.0)
    beside, beside_pose = _actor("beside", 9.0, 3.0)  # the lane to the left (+y) is taken
    far, far_pose = _actor("far", 30.0, 0.0)
    scene = GaussianScene(GaussianSet.empty(0), {"ahead": ahead, "beside": beside, "far": far}, SkyModel.uniform((0.5, 0.5, 0.5), 4, 8))
    poses = {"ahead": ahead_pose, "beside": beside_pose, "far": far_pose}
    assert actors_in_view(scene, poses, _camera()) == ["ahead", "beside", "far"]
    left = ahead_pose.clone()
    left[1, 3] += 3.0
    assert blocked_fraction(scene, poses, "ahead", left) > 0.5
    assert actor_to_move(scene, poses, _camera(), 3.0) == ("ahead", -3.0)  # right, not into its neighbour
    poses.pop("beside")
    assert actor_to_move(scene, poses, _camera(), 3.0) == ("ahead", 3.0)  # left first when both are free
