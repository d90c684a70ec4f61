"""Put poses in the SceneLog world frame: origin at the first ego pose, x along its heading, z up."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.scenelog import invert_pose, pose_from_xyz_yaw
from recon_carla_bridge.ingest.se3 import yaw_of


def world_from_source(first_world_from_ego: np.ndarray) -> np.ndarray:
    """(4, 4) transform from a source's world frame into the SceneLog world frame.

    The SceneLog world has its origin at the first ego origin (already on the ground) and its x axis
    along the first ego heading projected on the source's horizontal plane; z stays the source's up.
    """
    anchor = pose_from_xyz_yaw(first_world_from_ego[:3, 3], yaw_of(first_world_from_ego))
    return invert_pose(anchor)


def normalise_poses(poses: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Poses re-expressed in the SceneLog world frame, and the (4, 4) transform applied to them."""
    transform = world_from_source(poses[0])
    return [transform @ pose for pose in poses], transform
