"""The expert that labels demonstrations: lane keeping along the episode's expert path at its target speed, braking
with the smallest of the reference planner's decelerations (`adversary.avoidability`) when its speed keeping would
overlap, within a safety margin, either the adversary's published plan nor any vehicle predicted at constant velocity. Its motion over
the next decision, as the nearest feasible anchor, is the label."""
from __future__ import annotations

import math

import numpy as np

from recon_carla_bridge.adversary.avoidability import BRAKING_OPTIONS, HALF_EXTENTS, first_collision
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.observations import path_errors, to_ego_frame

PREDICTION_HORIZON_S = 3.0
PREDICTION_DT = 0.1
SPEED_GAIN = 1.0  # 1/s: acceleration asked per m/s below or above the target speed
MAX_ACCELERATION = 2.0  # m/s^2 the expert speeds up with
LOOKAHEAD_MIN_M = 6.0  # pure pursuit's shortest look-ahead
LOOKAHEAD_TIME_S = 1.5  # and its look-ahead per m/s of speed
SAFETY_HALF_EXTENTS = (HALF_EXTENTS[0] + 1.0, HALF_EXTENTS[1] + 0.2)  # the ego's box, grown by a safety margin (m)


def _predictions(env: ReconDrivingEnv) -> list[Trajectory]:
    t = np.arange(0.0, PREDICTION_HORIZON_S + PREDICTION_DT / 2, PREDICTION_DT)
    ego = env.ego_state
    predictions = []
    for actor in env._actors():
        forward, right = to_ego_frame(ego, actor.xy)
        if np.hypot(forward, right) > 60.0 or forward < 0.0:  # braking cannot avoid what comes from behind
            continue
        xy = actor.xy + np.outer(t, actor.velocity)
        predictions.append(Trajectory(t, xy, np.full(len(t), actor.yaw), np.full(len(t), np.linalg.norm(actor.velocity)),
                                      PREDICTION_HORIZON_S))
    if env.adversary is not None and env.adversary.plan() is not None:
        trajectory, start = env.adversary.plan()
        elapsed = env.runner.time - start
        keep = trajectory.t >= elapsed - 1e-9
        if keep.sum() >= 2:
            predictions.append(Trajectory(trajectory.t[keep] - trajectory.t[keep][0], trajectory.xy[keep],
                                          trajectory.yaw[keep], trajectory.speed[keep], trajectory.manoeuvre_end))
    return predictions


def _lane_keeping(env: ReconDrivingEnv, s: float, speed: float, acceleration: float, t: np.ndarray) -> Trajectory:
    """The ego on its path from arc length s at `speed`, accelerating (up to the target speed) or braking (to a stop)."""
    if acceleration >= 0:
        cap = max(speed, env.target_speed)
        reach = (cap - speed) / acceleration if acceleration > 0 else np.inf
        rising = np.minimum(t, reach)
        travelled = speed * rising + 0.5 * acceleration * rising**2 + cap * np.clip(t - reach, 0.0, None)
    else:
        stop = speed / -acceleration
        moving = np.minimum(t, stop)
        travelled = speed * moving + 0.5 * acceleration * moving**2
    marks = s + travelled
    xy = env.path.to_world(marks, np.zeros_like(marks))
    return Trajectory.from_positions(t, xy, float(t[-1]), float(env.path.heading(s)))


def expert_acceleration(env: ReconDrivingEnv) -> float:
    """The expert's acceleration: speed keeping when its lane-keeping motion stays clear of every prediction, else
    the smallest braking option (`adversary.avoidability`) that does (the hardest when none does)."""
    ego = env.ego_state
    s, _, _ = path_errors(env.path, ego.xy, ego.yaw)
    predictions = _predictions(env)
    cruise = float(np.clip(SPEED_GAIN * (env.target_speed - ego.speed), -3.0, MAX_ACCELERATION))
    for acceleration in (cruise, *(-d for d in BRAKING_OPTIONS if d > 0)):
        if acceleration > cruise:
            continue
        if all(first_collision(_lane_keeping(env, s, ego.speed, acceleration, p.t), p, SAFETY_HALF_EXTENTS) is None
               for p in predictions):
            return acceleration
    return -BRAKING_OPTIONS[-1]


def expert_anchor(env: ReconDrivingEnv) -> tuple[int, int]:
    """The expert's next anchor (lateral index, longitudinal index), feasible under the env's mask."""
    ego = env.ego_state
    horizon = env.settings.anchor_horizon
    acceleration = expert_acceleration(env)
    stop_time = ego.speed / -acceleration if acceleration < 0 else math.inf
    t = min(horizon, stop_time)
    travel = max(0.0, ego.speed * t + 0.5 * acceleration * t * t)
    s, _, _ = path_errors(env.path, ego.xy, ego.yaw)
    lookahead = max(LOOKAHEAD_MIN_M, LOOKAHEAD_TIME_S * ego.speed)  # pure pursuit towards a path point ahead
    point = env.path.to_world(np.array([s + lookahead]), np.zeros(1))[0]
    ahead_forward, ahead_right = to_ego_frame(ego, point)
    curvature = 2.0 * ahead_right / max(ahead_forward**2 + ahead_right**2, 1e-6)
    if abs(curvature) < 1e-9:
        forward, right = travel, 0.0
    else:
        forward, right = math.sin(curvature * travel) / curvature, (1.0 - math.cos(curvature * travel)) / curvature
    lateral_index, longitudinal_index = env.grid.nearest(right, max(0.0, forward))
    mask = env.action_masks()
    if not mask[lateral_index, longitudinal_index]:
        rows, cols = np.nonzero(mask)
        best = int(np.argmin((rows - lateral_index) ** 2 + 4 * (cols - longitudinal_index) ** 2))
        lateral_index, longitudinal_index = int(rows[best]), int(cols[best])
    return lateral_index, longitudinal_index
