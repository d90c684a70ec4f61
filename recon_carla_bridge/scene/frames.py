"""Conversions between the SceneLog world frame (right-handed, z up, radians) and CARLA's frame.

CARLA's `carla.Map` shows an OpenDRIVE point (x, y, z) at Location(x, -y, z); headings flip sign.
"""
from __future__ import annotations

import math

import carla
import numpy as np


def scene_to_carla_location(point: np.ndarray) -> carla.Location:
    """SceneLog world point (3,) → carla.Location."""
    return carla.Location(float(point[0]), float(-point[1]), float(point[2]))


def scene_pose_to_carla(world_from_body: np.ndarray) -> carla.Transform:
    """A (4, 4) SceneLog pose (x forward, y left, z up body) → carla.Transform (yaw, pitch, roll)."""
    rotation = np.asarray(world_from_body)[:3, :3]
    forward, left = rotation[:, 0], rotation[:, 1]
    yaw = math.atan2(forward[1], forward[0])
    pitch = math.asin(max(-1.0, min(1.0, forward[2])))
    roll = math.asin(max(-1.0, min(1.0, left[2] / max(math.cos(pitch), 1e-9))))
    return carla.Transform(scene_to_carla_location(np.asarray(world_from_body)[:3, 3]),
                           carla.Rotation(pitch=math.degrees(pitch), yaw=-math.degrees(yaw), roll=-math.degrees(roll)))


def carla_to_scene_box_pose(location: np.ndarray, yaw_deg: float, center_height: float) -> np.ndarray:
    """(4, 4) SceneLog world_from_box of a CARLA actor at `location` (ground) with yaw, box centre `center_height` up."""
    yaw = -math.radians(yaw_deg)
    pose = np.eye(4)
    pose[:2, :2] = [[math.cos(yaw), -math.sin(yaw)], [math.sin(yaw), math.cos(yaw)]]
    pose[:3, 3] = [location[0], -location[1], location[2] + center_height]
    return pose


def camera_mount_to_carla(ego_from_camera: np.ndarray) -> carla.Transform:
    """A camera's mounting on the ego (SceneLog ego frame, OpenCV camera axes) → CARLA attach transform."""
    mount = np.asarray(ego_from_camera, dtype=float)
    forward = mount[:3, 2]  # optical axis in the ego frame
    down = mount[:3, 1]
    yaw = math.atan2(forward[1], forward[0])
    pitch = math.asin(max(-1.0, min(1.0, forward[2])))
    # roll: angle of the image's "up" (-down) about the optical axis, 0 when it is world-up-most
    up = -down
    level_up = np.array([-math.sin(pitch) * math.cos(yaw), -math.sin(pitch) * math.sin(yaw), math.cos(pitch)])
    roll = math.atan2(float(np.dot(np.cross(level_up, up), forward)), float(np.dot(level_up, up)))
    position = mount[:3, 3]
    return carla.Transform(carla.Location(float(position[0]), float(-position[1]), float(position[2])),
                           carla.Rotation(pitch=math.degrees(pitch), yaw=-math.degrees(yaw), roll=-math.degrees(roll)))


def intrinsics_fov_deg(K: np.ndarray, width: int) -> float:
    """Horizontal field of view (deg) of a pinhole K for an image `width` pixels wide."""
    return math.degrees(2.0 * math.atan(width / (2.0 * float(K[0][0]))))
