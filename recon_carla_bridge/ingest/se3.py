"""SE(3) maths for poses: exponential / logarithm maps, interpolation, yaw extraction."""
from __future__ import annotations

import math

import numpy as np


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def so3_log(rotation: np.ndarray) -> np.ndarray:
    """(3,) axis-angle vector of a rotation matrix (angle in [0, pi])."""
    cos_angle = np.clip((np.trace(rotation) - 1.0) / 2.0, -1.0, 1.0)
    angle = math.acos(cos_angle)
    if angle < 1e-9:
        return np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]]) / 2
    if math.pi - angle < 1e-6:
        # near pi: axis from the symmetric part
        axis_matrix = (rotation + np.eye(3)) / 2
        axis = np.sqrt(np.clip(np.diag(axis_matrix), 0.0, None))
        k = int(np.argmax(axis))
        axis = axis_matrix[:, k] / max(axis[k], 1e-12)
        return axis / np.linalg.norm(axis) * angle
    return angle / (2 * math.sin(angle)) * np.array(
        [rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]]
    )


def so3_exp(omega: np.ndarray) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (Rodrigues' formula)."""
    angle = float(np.linalg.norm(omega))
    if angle < 1e-12:
        return np.eye(3) + _skew(omega)
    k = _skew(omega / angle)
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _left_jacobian(omega: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(omega))
    w = _skew(omega)
    if angle < 1e-6:
        return np.eye(3) + w / 2 + w @ w / 6
    return np.eye(3) + (1 - math.cos(angle)) / angle**2 * w + (angle - math.sin(angle)) / angle**3 * (w @ w)


def se3_log(pose: np.ndarray) -> np.ndarray:
    """(6,) twist (rho, omega) of a (4, 4) rigid transform."""
    omega = so3_log(pose[:3, :3])
    rho = np.linalg.solve(_left_jacobian(omega), pose[:3, 3])
    return np.concatenate([rho, omega])


def se3_exp(twist: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform of a (6,) twist (rho, omega)."""
    pose = np.eye(4)
    pose[:3, :3] = so3_exp(twist[3:])
    pose[:3, 3] = _left_jacobian(twist[3:]) @ twist[:3]
    return pose


def interpolate_pose(pose_a: np.ndarray, pose_b: np.ndarray, alpha: float) -> np.ndarray:
    """Geodesic SE(3) interpolation: alpha 0 gives pose_a, 1 gives pose_b; outside [0, 1] extrapolates at
    the constant twist from a to b."""
    delta = np.linalg.inv(pose_a) @ pose_b
    return pose_a @ se3_exp(alpha * se3_log(delta))


def interpolate_poses(known_times: np.ndarray, known_poses: list[np.ndarray], query_times: np.ndarray) -> list[np.ndarray]:
    """Poses at `query_times` from poses at increasing `known_times`: SE(3) interpolation between the two
    neighbours, constant-twist extrapolation past either end (a single known pose is held constant)."""
    known_times = np.asarray(known_times, dtype=np.float64)
    if len(known_times) == 0:
        raise ValueError("need at least one known pose")
    if len(known_times) == 1:
        return [known_poses[0].copy() for _ in query_times]
    result: list[np.ndarray] = []
    for t in np.asarray(query_times, dtype=np.float64):
        right = int(np.clip(np.searchsorted(known_times, t), 1, len(known_times) - 1))
        left = right - 1
        alpha = (t - known_times[left]) / (known_times[right] - known_times[left])
        result.append(interpolate_pose(known_poses[left], known_poses[right], float(alpha)))
    return result


def yaw_of(pose: np.ndarray) -> float:
    """Heading [rad] of a pose's x axis projected on the xy plane."""
    return math.atan2(pose[1, 0], pose[0, 0])


def quaternion_to_rotation(w: float, x: float, y: float, z: float) -> np.ndarray:
    """(3, 3) rotation of a quaternion (normalised first; sign does not matter)."""
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if norm < 1e-12:
        raise ValueError("zero quaternion")
    w, x, y, z = w / norm, x / norm, y / norm, z / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )
