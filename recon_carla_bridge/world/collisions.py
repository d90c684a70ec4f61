"""Collision detection between the oriented 3D boxes of all actors, and an inelastic response.

Boxes are yaw-oriented (pitch/roll ignored, as for road vehicles) with a vertical extent; a pair
collides when their footprints overlap (separating-axis test) and their height ranges overlap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.world.box_overlap import candidate_pairs, obb_overlap_pairs

RESTITUTION = 0.1  # fraction of the approach speed returned after impact


@dataclass(frozen=True)
class Contact:
    """Two actors whose boxes overlap this tick."""

    actor_a: int  # actor id
    actor_b: int  # actor id
    normal: np.ndarray  # (3,) unit vector from a towards b
    depth: float  # m, penetration along the normal
    impulse: float  # N·s, magnitude of the impulse exchanged (0 when they were separating)


@dataclass
class BoxSet:
    """N boxes to test, arrays with one row per actor."""

    actor_ids: np.ndarray  # (N,) int
    centers: np.ndarray  # (N, 3) m, box centres in the world
    half_extents: np.ndarray  # (N, 3) m
    yaws: np.ndarray  # (N,) rad
    families: np.ndarray  # (N,) int: actors of one family (a parent and its children) never collide


def detect(boxes: BoxSet) -> list[tuple[int, int, np.ndarray, float]]:
    """All overlapping pairs as (index a, index b, normal (3,) from a to b, depth m), a < b.

    Broad phase (bounding circles, height ranges, families) and separating-axis test are the compiled
    kernels of `box_overlap` (the numpy statement of the test is `geometry.obb_overlap_2d`)."""
    if len(boxes.actor_ids) < 2:
        return []
    pairs = candidate_pairs(boxes.centers, boxes.half_extents, boxes.families)
    if len(pairs) == 0:
        return []
    overlapping, depth, normal2d = obb_overlap_pairs(boxes.centers[:, :2], boxes.half_extents[:, :2], boxes.yaws, pairs)
    return [(int(a), int(b), np.array([n[0], n[1], 0.0]), float(d))
            for (a, b), d, n in zip(pairs[overlapping], depth[overlapping], normal2d[overlapping])]


def resolve(
    velocity_a: np.ndarray, velocity_b: np.ndarray, inv_mass_a: float, inv_mass_b: float, normal: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Inelastic impulse along the contact normal; returns new velocities and the impulse magnitude."""
    approach = float(np.dot(velocity_b - velocity_a, normal))
    total_inv_mass = inv_mass_a + inv_mass_b
    if approach >= 0.0 or total_inv_mass == 0.0:
        return velocity_a, velocity_b, 0.0
    impulse = -(1.0 + RESTITUTION) * approach / total_inv_mass
    return velocity_a - impulse * inv_mass_a * normal, velocity_b + impulse * inv_mass_b * normal, impulse
