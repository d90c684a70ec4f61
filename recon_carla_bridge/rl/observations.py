"""The privileged observation: a fixed-size vector of the ego's state, its expert path and the nearby actors (and,
optionally, a small bird's-eye raster). Read from the world's state only; nothing is rendered for it.

`STATE_LAYOUT` names the vector's slots; checkpoints record it, and loading a policy trained on another layout is
an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.world.geometry import planar_lengths

PATH_LOOKAHEAD_M = (5.0, 10.0, 20.0, 30.0)
COMMANDS = ("LANEFOLLOW", "LEFT", "RIGHT", "STRAIGHT", "CHANGELANELEFT", "CHANGELANERIGHT")
EGO_SLOTS = ("speed/10", "acceleration/5", "yaw_rate", "last_lateral/0.75", "last_longitudinal/15")
ROUTE_SLOTS = (("offset/2", "sin_heading_error", "cos_heading_error", "target_speed/10")
               + tuple(f"path_{int(m)}m_{axis}" for m in PATH_LOOKAHEAD_M for axis in ("forward/30", "right/5"))
               + tuple(f"command_{name}" for name in COMMANDS))
# Lateral terms are scaled to a lane (a neighbour 3.5 m to the side and one in the ego's lane differ by 0.7, not
# 0.07): whether a car is in the ego's lane, or moving into it, is what collision avoidance turns on.
ACTOR_SLOTS = ("present", "forward/20", "right/5", "velocity_forward/10", "velocity_right/5", "sin_yaw", "cos_yaw",
               "length/5", "width/2")


def state_layout(nearby_actors: int) -> tuple[str, ...]:
    """The names of the state vector's slots, in order."""
    actors = tuple(f"actor{i}_{slot}" for i in range(nearby_actors) for slot in ACTOR_SLOTS)
    return EGO_SLOTS + ROUTE_SLOTS + actors


@dataclass(frozen=True)
class EgoState:
    """The ego after a decision, in world terms."""

    xy: np.ndarray  # (2,) m
    yaw: float  # rad
    speed: float  # m/s
    acceleration: float  # m/s^2 along the heading
    yaw_rate: float  # rad/s
    last_action: tuple[float, float]  # (lateral m, longitudinal m) of the last anchor (0, 0 for continuous)


@dataclass(frozen=True)
class ActorState:
    """Another vehicle: centre, heading, velocity and box."""

    xy: np.ndarray  # (2,) m
    yaw: float  # rad
    velocity: np.ndarray  # (2,) m/s
    length: float  # m
    width: float  # m


def motion_rates(previous: tuple[float, float, float] | None, timestamp: float, speed: float,
                 yaw: float) -> tuple[float, float]:
    """(acceleration m/s^2, yaw rate rad/s) since `previous` = (timestamp s, speed m/s, yaw rad); (0, 0) without one.
    What an agent derives from its speedometer and compass between two decisions."""
    if previous is None:
        return 0.0, 0.0
    then, then_speed, then_yaw = previous
    span = max(timestamp - then, 1e-3)
    return (speed - then_speed) / span, ((yaw - then_yaw + math.pi) % (2 * math.pi) - math.pi) / span


def to_ego_frame(ego: EgoState, xy: np.ndarray) -> np.ndarray:
    """World (…, 2) points as (forward, right) in the ego's frame (CARLA: +y is to the right of +x)."""
    delta = np.asarray(xy, dtype=float) - ego.xy
    c, s = math.cos(ego.yaw), math.sin(ego.yaw)
    return np.stack([delta[..., 0] * c + delta[..., 1] * s, -delta[..., 0] * s + delta[..., 1] * c], axis=-1)


def path_errors(path: ReferenceLine, xy: np.ndarray, yaw: float) -> tuple[float, float, float]:
    """(s along the path m, lateral offset m, heading error rad in (-pi, pi]) of a pose."""
    s, d = path.to_frenet(xy)
    error = (yaw - float(path.heading(s)) + math.pi) % (2 * math.pi) - math.pi
    return s, d, error


def state_vector(ego: EgoState, path: ReferenceLine, target_speed: float, command: int,
                 actors: list[ActorState], nearby: int, radius: float) -> np.ndarray:
    """The privileged state vector (see `state_layout`), float32, clipped to [-10, 10]."""
    s, d, heading_error = path_errors(path, ego.xy, ego.yaw)
    ahead = path.to_world(s + np.asarray(PATH_LOOKAHEAD_M), np.zeros(len(PATH_LOOKAHEAD_M)))
    local = to_ego_frame(ego, ahead)
    route = [d / 2.0, math.sin(heading_error), math.cos(heading_error), target_speed / 10.0]
    route += [v for point in local for v in (point[0] / 30.0, point[1] / 5.0)]
    route += [1.0 if i == command else 0.0 for i in range(len(COMMANDS))]
    slots = np.zeros((nearby, len(ACTOR_SLOTS)))
    if actors and nearby:
        centres = np.array([a.xy for a in actors])
        distance = planar_lengths(centres - ego.xy)
        order = [i for i in np.argsort(distance) if distance[i] <= radius][:nearby]
        c, s_ = math.cos(ego.yaw), math.sin(ego.yaw)
        for row, i in enumerate(order):
            actor = actors[i]
            forward, right = to_ego_frame(ego, actor.xy)
            relative = actor.velocity - ego.speed * np.array([c, s_])
            dyaw = actor.yaw - ego.yaw
            slots[row] = (1.0, forward / 20.0, right / 5.0, (relative[0] * c + relative[1] * s_) / 10.0,
                          (-relative[0] * s_ + relative[1] * c) / 5.0, math.sin(dyaw), math.cos(dyaw),
                          actor.length / 5.0, actor.width / 2.0)
    ego_part = [ego.speed / 10.0, ego.acceleration / 5.0, ego.yaw_rate, ego.last_action[0] / 0.75,
                ego.last_action[1] / 15.0]
    vector = np.concatenate([ego_part, route, slots.ravel()]).astype(np.float32)
    return np.clip(vector, -10.0, 10.0)


def bev_raster(ego: EgoState, path: ReferenceLine, actors: list[ActorState], size: int, metres: float) -> np.ndarray:
    """(2, size, size) uint8 bird's-eye raster around the ego (forward up): channel 0 the actors' boxes, channel 1 the
    expert path; `metres` across."""
    raster = np.zeros((2, size, size), dtype=np.uint8)
    cell = metres / size
    rows, cols = np.mgrid[0:size, 0:size]
    forward = (size / 2 - rows - 0.5) * cell
    right = (cols - size / 2 + 0.5) * cell
    for actor in actors:
        centre = to_ego_frame(ego, actor.xy)
        dyaw = actor.yaw - ego.yaw
        du, dv = forward - centre[0], right - centre[1]
        along = du * math.cos(dyaw) + dv * math.sin(dyaw)
        across = -du * math.sin(dyaw) + dv * math.cos(dyaw)
        raster[0][(np.abs(along) <= actor.length / 2) & (np.abs(across) <= actor.width / 2)] = 255
    s, _ = path.to_frenet(ego.xy)
    along = np.linspace(-metres / 2, metres / 2, 2 * size)
    marks = path.to_world(s + along, np.zeros_like(along))
    local = to_ego_frame(ego, marks)
    r = np.floor(size / 2 - local[:, 0] / cell).astype(int)
    c = np.floor(size / 2 + local[:, 1] / cell).astype(int)
    keep = (r >= 0) & (r < size) & (c >= 0) & (c < size)
    raster[1][r[keep], c[keep]] = 255
    return raster
