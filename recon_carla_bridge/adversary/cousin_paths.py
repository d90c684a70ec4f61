"""CTG cousins that leave the logged path along the map's lanes: every branch through the junctions ahead (turns),
lane following beyond the log at both ends, and a lane drive to stand in for a log in a CARLA town.

A path is a chain of lane waypoints; its timing comes from a speed profile that keeps the bicycle-model limits
(`VehicleLimits`: yaw rate and lateral acceleration in curves, bounded acceleration and braking) with a margin.
"""
from __future__ import annotations

import math

import carla
import numpy as np

from recon_carla_bridge.adversary.cousins import CousinSpec, make_cousin
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.trajectory import Trajectory, VehicleLimits

STEP_M = 1.0  # waypoint spacing along a path
LIMIT_SHARE = 0.6  # share of the vehicle limits the speed profiles plan with (finite differences and smoothing eat some)
COMFORT_ACCELERATION = 1.5  # m/s^2
COMFORT_DECELERATION = 2.5  # m/s^2
MAX_BRANCHES = 12  # paths enumerated through junctions at most


def lane_paths(start: carla.Waypoint, length: float, max_branches: int = MAX_BRANCHES) -> list[list[carla.Waypoint]]:
    """Every chain of waypoints `length` m long from `start` along its lane, one per choice at each fork."""
    paths = [[start]]
    done: list[list[carla.Waypoint]] = []
    while paths:
        path = paths.pop()
        if len(path) * STEP_M >= length:
            done.append(path)
            continue
        options = path[-1].next(STEP_M)
        if not options:
            done.append(path)
            continue
        for option in options[: max(1, max_branches - len(done) - len(paths))]:
            paths.append(path + [option])
    return done


def heading_change_deg(path: list[carla.Waypoint]) -> float:
    """Signed heading change (deg) from the first to the last waypoint (left turns positive in CARLA's yaw)."""
    return float((path[-1].transform.rotation.yaw - path[0].transform.rotation.yaw + 180.0) % 360.0 - 180.0)


def speed_profile(curvature: np.ndarray, cruise: float, ds: float, limits: VehicleLimits = VehicleLimits(),
                  start_speed: float | None = None) -> np.ndarray:
    """Speeds (m/s) at path samples `ds` apart: the cruise speed, lowered where the curvature would exceed the yaw
    rate or lateral acceleration limits (at LIMIT_SHARE), reached with comfortable acceleration and braking."""
    kappa = np.maximum(np.abs(curvature), 1e-6)
    cap = np.minimum(LIMIT_SHARE * limits.max_yaw_rate / kappa,
                     np.sqrt(LIMIT_SHARE * limits.max_lateral_acceleration / kappa))
    speed = np.minimum(cruise, cap)
    if start_speed is not None:
        speed[0] = min(speed[0], start_speed)
    for i in range(1, len(speed)):  # forward: bounded acceleration
        speed[i] = min(speed[i], math.sqrt(speed[i - 1] ** 2 + 2 * COMFORT_ACCELERATION * ds))
    for i in range(len(speed) - 2, -1, -1):  # backward: bounded braking
        speed[i] = min(speed[i], math.sqrt(speed[i + 1] ** 2 + 2 * COMFORT_DECELERATION * ds))
    return speed


def timed_path(points: np.ndarray, cruise: float, dt: float, start_speed: float | None = None,
               duration: float | None = None) -> Trajectory:
    """A trajectory along the polyline `points` (N, 2) at the speed profile, sampled every `dt` s."""
    reference = ReferenceLine(points)
    s = np.arange(0.0, reference.length, STEP_M / 2)
    heading = np.unwrap(reference.heading(s))
    window = max(1, int(round(5.0 / (STEP_M / 2))))  # curvature smoothed over 5 m (lane joins are kinked)
    curvature = np.convolve(np.gradient(heading, s), np.ones(window) / window, mode="same")
    speed = speed_profile(curvature, cruise, STEP_M / 2, start_speed=start_speed)
    speed = np.maximum(speed, 0.5)
    times = np.concatenate([[0.0], np.cumsum(np.diff(s) / (0.5 * (speed[1:] + speed[:-1])))])
    end = times[-1] if duration is None else min(duration, times[-1])
    t = np.arange(0.0, end + 1e-9, dt)  # never past the path's end (a clamped last sample would read as a stop)
    along = np.interp(t, times, s)
    return Trajectory.from_positions(t, reference.to_world(along, np.zeros_like(along)), float(t[-1]),
                                     float(heading[0]))


def _points(path: list[carla.Waypoint]) -> np.ndarray:
    return np.array([[w.transform.location.x, w.transform.location.y] for w in path])


def turn_cousins(wmap: carla.Map, log: Trajectory, cruise: float | None = None) -> dict[CousinSpec, Trajectory]:
    """One cousin per path through the junctions within the log's reach (plus 30 m), when there is more than one;
    each named by its heading change. Empty on a road without forks."""
    start = wmap.get_waypoint(carla.Location(float(log.xy[0, 0]), float(log.xy[0, 1]), 0.0))
    reach = float(np.sum(np.linalg.norm(np.diff(log.xy, axis=0), axis=1))) + 30.0
    paths = lane_paths(start, reach)
    if len(paths) < 2:
        return {}
    dt = float(log.t[1] - log.t[0])
    speed = cruise if cruise is not None else max(2.0, float(np.median(log.speed)))
    cousins = {}
    for index, path in enumerate(paths):
        turn = heading_change_deg(path)
        kind = "left" if turn > 30 else "right" if turn < -30 else "straight"
        spec = CousinSpec(f"turn_{kind}_{index}_{turn:+.0f}deg")
        cousins[spec] = timed_path(_points(path), speed, dt, start_speed=float(log.speed[0]))
    return cousins


def extended_both_ends(wmap: carla.Map, log: Trajectory, before: float = 30.0,
                       after: float = 30.0) -> tuple[Trajectory, float]:
    """The log with lane following prepended (`before` m along its lane up to the log's start, at the start speed)
    and appended (`after` m on from its end, at the end speed), t = 0 where the prefix starts; and the prefix's s."""
    dt = float(log.t[1] - log.t[0])
    log = make_cousin(log, CousinSpec("log"))  # the log smoothed (logged poses jitter: kinks at walking pace)

    def lane_run(location: np.ndarray, metres: float, backwards: bool) -> np.ndarray:
        waypoint = wmap.get_waypoint(carla.Location(float(location[0]), float(location[1]), 0.0))
        chain = [waypoint]
        while (len(chain) - 1) * STEP_M < metres:
            options = chain[-1].previous(STEP_M) if backwards else chain[-1].next(STEP_M)
            if not options:
                break
            chain.append(options[0])
        points = _points(chain)
        return points[::-1] if backwards else points

    prefix = lane_run(log.xy[0], before, backwards=True)
    suffix = lane_run(log.xy[-1], after, backwards=False)
    # the lane centre may sit off the logged path: shift the runs so they join the log where it starts and ends
    prefix = prefix - prefix[-1] + log.xy[0]
    suffix = suffix - suffix[0] + log.xy[-1]
    start_speed, end_speed = max(0.5, float(log.speed[0])), max(0.5, float(log.speed[-1]))
    pre_t = _times_at_speed(prefix, start_speed)
    post_t = _times_at_speed(suffix, end_speed)
    t_all = np.concatenate([pre_t[:-1], pre_t[-1] + log.t, pre_t[-1] + log.t[-1] + post_t[1:]])
    xy_all = np.concatenate([prefix[:-1], log.xy, suffix[1:]])
    t = np.arange(0.0, t_all[-1] + dt / 2, dt)
    xy = np.stack([np.interp(t, t_all, xy_all[:, i]) for i in (0, 1)], axis=1)
    return Trajectory.from_positions(t, xy, float(t[-1]), float(log.yaw[0])), float(pre_t[-1])


def _times_at_speed(points: np.ndarray, speed: float) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))]) / speed


def lane_drive_log(wmap: carla.Map, start: carla.Location, speed: float, seconds: float, dt: float = 0.1) -> Trajectory:
    """A stand-in log for a CARLA town: `seconds` of driving at `speed` along the lane at `start` (straight on)."""
    waypoint = wmap.get_waypoint(start)
    chain = [waypoint]
    while len(chain) * STEP_M < speed * seconds + 5.0:
        options = chain[-1].next(STEP_M)
        if not options:
            break
        yaw = chain[-1].transform.rotation.yaw
        chain.append(min(options, key=lambda w: abs((w.transform.rotation.yaw - yaw + 180.0) % 360.0 - 180.0)))
    return timed_path(_points(chain), speed, dt, start_speed=speed, duration=seconds)
