"""Is a drawn adversary plan fair? Feasible for the adversary and avoidable by a reference ego planner.

The reference planner keeps the ego's lane and samples braking options (constant deceleration after a
reaction time, down to a stop); a draw is avoidable when one option never overlaps the adversary's box.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.trajectory import Trajectory, VehicleLimits, feasibility_violations
from recon_carla_bridge.world.geometry import obb_overlap_2d

BRAKING_OPTIONS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)  # m/s^2 the reference ego may brake with
REACTION_TIME = 0.3  # s before the reference ego's brakes act
HALF_EXTENTS = (2.4, 1.0)  # m, half length and width of a mid-size car


@dataclass(frozen=True)
class EgoOption:
    """The ego keeping its lane and braking at `deceleration` from `REACTION_TIME` on."""

    deceleration: float  # m/s^2 (0: constant speed)


def ego_trajectory(reference: ReferenceLine, ego_s: float, ego_speed: float, option: EgoOption,
                   t: np.ndarray, reaction_time: float = REACTION_TIME) -> Trajectory:
    """The ego's lane-keeping trajectory under a braking option, sampled at the times `t`."""
    braking = np.clip(t - reaction_time, 0.0, None)
    if option.deceleration > 0:
        braking = np.minimum(braking, ego_speed / option.deceleration)
    s = ego_s + ego_speed * np.minimum(t, reaction_time) + ego_speed * braking - 0.5 * option.deceleration * braking**2
    xy = reference.to_world(s, np.zeros_like(s))
    return Trajectory.from_positions(t, xy, float(t[-1]), float(reference.heading(ego_s)))


def first_collision(a: Trajectory, b: Trajectory, half_a: tuple[float, float] = HALF_EXTENTS,
                    half_b: tuple[float, float] = HALF_EXTENTS) -> float | None:
    """The first sample time at which the two boxes overlap (time-aligned samples), or None."""
    count = min(len(a.t), len(b.t))
    centers = np.empty((2 * count, 2))
    centers[0::2], centers[1::2] = a.xy[:count], b.xy[:count]
    yaws = np.empty(2 * count)
    yaws[0::2], yaws[1::2] = a.yaw[:count], b.yaw[:count]
    half = np.empty((2 * count, 2))
    half[0::2], half[1::2] = half_a, half_b
    pairs = np.stack([np.arange(0, 2 * count, 2), np.arange(1, 2 * count, 2)], axis=1)
    overlapping, _, _ = obb_overlap_2d(centers, half, yaws, pairs)
    hits = np.flatnonzero(overlapping)
    return float(a.t[hits[0]]) if len(hits) else None


@dataclass
class DrawVerdict:
    """What the checks said of one draw."""

    infeasible: list[str] = field(default_factory=list)  # adversary limit violations (empty: feasible)
    off_road: bool = False  # the adversary leaves the drivable lanes
    avoiding_options: list[float] = field(default_factory=list)  # decelerations with which the ego avoids it
    constant_speed_collides: bool = False  # the naive ego (no braking) hits it

    @property
    def rejection(self) -> str:
        """'' when accepted, else the cause: 'infeasible', 'off_road' or 'unavoidable'."""
        if self.infeasible:
            return "infeasible"
        if self.off_road:
            return "off_road"
        if not self.avoiding_options:
            return "unavoidable"
        return ""


def judge_draw(adversary: Trajectory, reference: ReferenceLine, ego_s: float, ego_speed: float,
               limits: VehicleLimits = VehicleLimits(), on_road=None, ego_half: tuple[float, float] = HALF_EXTENTS,
               adversary_half: tuple[float, float] = HALF_EXTENTS, until_rejected: bool = False) -> DrawVerdict:
    """Feasibility (bicycle limits; `on_road(xy (K, 2)) -> bool` when given) and avoidability of one plan, with
    the two vehicles' boxes of half length and width `ego_half` and `adversary_half` (m).

    `until_rejected`: stop at the first check that rejects the draw (in the order of `DrawVerdict.rejection`), the
    later checks' fields left at their defaults; the rejection and its cause are the same as with every check."""
    verdict = DrawVerdict(infeasible=feasibility_violations(adversary, limits))
    if until_rejected and verdict.infeasible:
        return verdict
    if on_road is not None:
        verdict.off_road = not bool(on_road(adversary.xy))
    if until_rejected and verdict.off_road:
        return verdict
    egos = ego_trajectories(reference, ego_s, ego_speed, BRAKING_OPTIONS, adversary.t)
    for deceleration, hit in zip(BRAKING_OPTIONS, collides_with(egos, adversary, ego_half, adversary_half)):
        if deceleration == 0.0:
            verdict.constant_speed_collides = bool(hit)
        if not hit:
            verdict.avoiding_options.append(deceleration)
    return verdict


def ego_trajectories(reference: ReferenceLine, ego_s: float, ego_speed: float, decelerations: tuple[float, ...],
                     t: np.ndarray, reaction_time: float = REACTION_TIME) -> list[Trajectory]:
    """`ego_trajectory` for several braking options at once (the same numbers, one spline evaluation for all)."""
    t = np.asarray(t, dtype=float)
    rates = np.asarray(decelerations, dtype=float)[:, None]  # (O, 1)
    stop_after = np.array([ego_speed / d if d > 0 else np.inf for d in decelerations])[:, None]
    braking = np.minimum(np.clip(t - reaction_time, 0.0, None)[None, :], stop_after)  # (O, K)
    s = ego_s + ego_speed * np.minimum(t, reaction_time) + ego_speed * braking - 0.5 * rates * braking**2
    xy = reference.to_world(s, np.zeros_like(s))  # (O, K, 2)
    start_yaw = float(reference.heading(ego_s))
    return [Trajectory.from_positions(t, xy[i], float(t[-1]), start_yaw) for i in range(len(decelerations))]


def collides_with(trajectories: list[Trajectory], other: Trajectory, half_a: tuple[float, float] = HALF_EXTENTS,
                  half_b: tuple[float, float] = HALF_EXTENTS) -> np.ndarray:
    """(len(trajectories),) bool: whether `first_collision(trajectory, other)` finds an overlap, for all at once."""
    if not trajectories:
        return np.zeros(0, dtype=bool)
    counts = [min(len(a.t), len(other.t)) for a in trajectories]
    total = sum(counts)
    centers, yaws, half = np.empty((2 * total, 2)), np.empty(2 * total), np.empty((2 * total, 2))
    owner = np.repeat(np.arange(len(trajectories)), counts)
    start = 0
    for a, count in zip(trajectories, counts):
        rows = slice(2 * start, 2 * (start + count))
        centers[rows][0::2], centers[rows][1::2] = a.xy[:count], other.xy[:count]
        yaws[rows][0::2], yaws[rows][1::2] = a.yaw[:count], other.yaw[:count]
        half[rows][0::2], half[rows][1::2] = half_a, half_b
        start += count
    pairs = np.stack([np.arange(0, 2 * total, 2), np.arange(1, 2 * total, 2)], axis=1)
    overlapping, _, _ = obb_overlap_2d(centers, half, yaws, pairs)
    hits = np.zeros(len(trajectories), dtype=bool)
    hits[owner[overlapping]] = True
    return hits
