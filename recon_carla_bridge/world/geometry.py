"""Rigid-body geometry in CARLA's frame (left-handed: x forward, y right, z up; angles in degrees).

CARLA/Unreal compose rotations as yaw (about z), then pitch (about y), then roll (about x); the
matrix below is the one `carla.Transform.get_matrix()` returns, written out so that numpy can
build and invert many of them at once.
"""
from __future__ import annotations

import math

import carla
import numpy as np


def rotation_matrix(pitch_deg: float, yaw_deg: float, roll_deg: float) -> np.ndarray:
    """3x3 rotation of a CARLA Rotation (same convention as carla.Transform.get_matrix)."""
    cp, sp = math.cos(math.radians(pitch_deg)), math.sin(math.radians(pitch_deg))
    cy, sy = math.cos(math.radians(yaw_deg)), math.sin(math.radians(yaw_deg))
    cr, sr = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    return np.array(
        [
            [cp * cy, cy * sp * sr - sy * cr, -cy * sp * cr - sy * sr],
            [cp * sy, sy * sp * sr + cy * cr, -sy * sp * cr + cy * sr],
            [sp, -cp * sr, cp * cr],
        ]
    )


def pose_matrix(location: np.ndarray, rotation_pyr: np.ndarray) -> np.ndarray:
    """4x4 world_from_local of a location (3,) in m and rotation (pitch, yaw, roll) in degrees."""
    matrix = np.eye(4)
    matrix[:3, :3] = rotation_matrix(*rotation_pyr)
    matrix[:3, 3] = location
    return matrix


def matrix_to_pose(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a 4x4 rigid matrix into location (3,) and rotation (pitch, yaw, roll) in degrees."""
    rot = matrix[:3, :3]
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, rot[2, 0]))))
    yaw = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    roll = math.degrees(math.atan2(-rot[2, 1], rot[2, 2]))
    return matrix[:3, 3].copy(), np.array([pitch, yaw, roll])


def to_transform(location: np.ndarray, rotation_pyr: np.ndarray) -> carla.Transform:
    """Build a carla.Transform from numpy location and (pitch, yaw, roll)."""
    return carla.Transform(
        carla.Location(float(location[0]), float(location[1]), float(location[2])),
        carla.Rotation(pitch=float(rotation_pyr[0]), yaw=float(rotation_pyr[1]), roll=float(rotation_pyr[2])),
    )


def from_transform(transform: carla.Transform) -> tuple[np.ndarray, np.ndarray]:
    """Numpy location (3,) and (pitch, yaw, roll) of a carla.Transform."""
    loc, rot = transform.location, transform.rotation
    return np.array([loc.x, loc.y, loc.z], dtype=float), np.array([rot.pitch, rot.yaw, rot.roll], dtype=float)


def vector3d(values: np.ndarray) -> carla.Vector3D:
    """carla.Vector3D of a numpy (3,) vector."""
    return carla.Vector3D(float(values[0]), float(values[1]), float(values[2]))


def planar_lengths(vectors: np.ndarray) -> np.ndarray:
    """Lengths of (..., 2) x, y vectors: `np.linalg.norm(vectors, axis=-1)` to the bit (the same squares summed in the
    same order), without numpy's slow reduction over a length-2 axis."""
    x, y = vectors[..., 0], vectors[..., 1]
    return np.sqrt(x * x + y * y)


def box_centres(locations: np.ndarray, yaws_deg: np.ndarray, box_centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World centres (N, 3) and yaws (N,) rad of actor boxes: actor locations (N, 3), yaws (N,) degrees and
    box centres (N, 3) in each actor's frame (rotated by the yaw only, as for road vehicles)."""
    yaws = np.radians(np.asarray(yaws_deg, dtype=float))
    cos, sin = np.cos(yaws), np.sin(yaws)
    local = np.asarray(box_centers, dtype=float)
    centres = np.asarray(locations, dtype=float) + np.stack(
        [cos * local[:, 0] - sin * local[:, 1], sin * local[:, 0] + cos * local[:, 1], local[:, 2]], axis=1)
    return centres, yaws


def obb_overlap_2d(
    centers: np.ndarray, half_extents: np.ndarray, yaws_rad: np.ndarray, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Separating-axis test of oriented rectangles, for many pairs at once.

    centers: (N, 2) box centres; half_extents: (N, 2) half length/width; yaws_rad: (N,);
    pairs: (P, 2) indices into the boxes. Returns (overlapping (P,) bool, depth (P,) m of the
    smallest overlap, normal (P, 2) unit axis of that overlap pointing from box a to box b).
    """
    if len(pairs) == 0:
        return np.zeros(0, bool), np.zeros(0), np.zeros((0, 2))
    a, b = pairs[:, 0], pairs[:, 1]
    cos, sin = np.cos(yaws_rad), np.sin(yaws_rad)
    axes_x = np.stack([cos, sin], axis=1)  # (N, 2) local forward
    axes_y = np.stack([-sin, cos], axis=1)  # (N, 2) local side
    candidate_axes = np.stack([axes_x[a], axes_y[a], axes_x[b], axes_y[b]], axis=1)  # (P, 4, 2)
    delta = centers[b] - centers[a]  # (P, 2)

    def radius(idx: np.ndarray) -> np.ndarray:
        ex = np.abs(np.einsum("pkd,pd->pk", candidate_axes, axes_x[idx])) * half_extents[idx, 0:1]
        ey = np.abs(np.einsum("pkd,pd->pk", candidate_axes, axes_y[idx])) * half_extents[idx, 1:2]
        return ex + ey

    distance = np.einsum("pkd,pd->pk", candidate_axes, delta)  # (P, 4)
    overlap = radius(a) + radius(b) - np.abs(distance)  # (P, 4)
    overlapping = np.all(overlap > 0.0, axis=1)
    # the axis of least overlap; ties (within 1e-9 m) go to the axis of smallest angle in [0, pi), so
    # the pair (b, a) picks the same axis as (a, b) and its normal is exactly the opposite one
    tied = overlap <= overlap.min(axis=1, keepdims=True) + 1e-9
    angle = np.mod(np.arctan2(candidate_axes[..., 1], candidate_axes[..., 0]), np.pi)
    angle = np.where(angle > np.pi - 1e-9, 0.0, angle)
    best = np.argmin(np.where(tied, angle, np.inf), axis=1)
    rows = np.arange(len(pairs))
    depth = overlap[rows, best]
    normal = candidate_axes[rows, best] * np.sign(distance[rows, best] + 1e-12)[:, None]
    return overlapping, depth, normal
