"""The expert that labels demonstrations: lane keeping along the episode's expert path at its target speed, braking
with the smallest of the reference planner's decelerations (`adversary.avoidability`) whose lane-keeping motion
overlaps neither the adversary's published plan nor any vehicle predicted at constant velocity. Its motion over
the next decision, as the nearest feasible anchor, is the label."""
from __future__ import annotations

import math

import numpy as np

from recon_carla_bridge.adversary.avoidability import BRAKING_OPTIONS, EgoOption, ego_trajectory, first_collision
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.observations import path_errors, to_ego_frame

PREDICTION_HORIZON_S = 3.0
PREDICTION_DT = 0.1
SPEED_GAIN = 1.0  # 1/s: acceleration asked per m/s below or above the target speed
MAX_ACCELERATION = 2.0  # m/s^2 the expert speeds up with
LANE_RETURN = 0.5  # share of the lateral offset the expert takes out per decision


def _predictions(env: ReconDrivingEnv) -> list[Trajectory]:
    t = np.arange(0.0, PREDICTION_HORIZON_S + PREDICTION_DT / 2, PREDICTION_DT)
    ego = env.ego_state
    predictions = []
    for actor in env._actors():
        forward, right = to_ego_frame(ego, actor.xy)
        if np.hypot(forward, right) > 60.0 or forward < -10.0:
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


def expert_deceleration(env: ReconDrivingEnv) -> float:
    """0 when lane keeping at speed is safe, else the smallest braking option that avoids every prediction."""
    ego = env.ego_state
    s, _, _ = path_errors(env.path, ego.xy, ego.yaw)
    predictions = _predictions(env)
    for option in BRAKING_OPTIONS:
        if all(first_collision(ego_trajectory(env.path, s, ego.speed, EgoOption(option), p.t, reaction_time=0.0), p)
               is None for p in predictions):
            return option
    return BRAKING_OPTIONS[-1]


def expert_anchor(env: ReconDrivingEnv) -> tuple[int, int]:
    """The expert's next anchor (lateral index, longitudinal index), feasible under the env's mask."""
    ego = env.ego_state
    horizon = env.settings.anchor_horizon
    deceleration = expert_deceleration(env)
    if deceleration > 0.0:
        acceleration = -deceleration
    else:
        acceleration = float(np.clip(SPEED_GAIN * (env.target_speed - ego.speed), -3.0, MAX_ACCELERATION))
    stop_time = ego.speed / -acceleration if acceleration < 0 else math.inf
    t = min(horizon, stop_time)
    travel = max(0.0, ego.speed * t + 0.5 * acceleration * t * t)
    s, offset, _ = path_errors(env.path, ego.xy, ego.yaw)
    target = env.path.to_world(np.array([s + travel]), np.array([offset * (1.0 - LANE_RETURN)]))[0]
    forward, right = to_ego_frame(ego, target)
    lateral_index, longitudinal_index = env.grid.nearest(right, max(0.0, forward))
    mask = env.action_masks()
    if not mask[lateral_index, longitudinal_index]:
        rows, cols = np.nonzero(mask)
        best = int(np.argmin((rows - lateral_index) ** 2 + 4 * (cols - longitudinal_index) ** 2))
        lateral_index, longitudinal_index = int(rows[best]), int(cols[best])
    return lateral_index, longitudinal_index
