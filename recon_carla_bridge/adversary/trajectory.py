"""Timed adversary trajectories in world x, y and their bicycle-model feasibility."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.world.geometry import planar_lengths

DEFAULT_DT = 0.05  # s between trajectory samples (one tick at ScenarioRunner's 20 Hz)


@dataclass(frozen=True)
class Trajectory:
    """Samples of a vehicle's planned motion from the trigger on (t[0] = 0)."""

    t: np.ndarray  # (K,) s since the trigger, evenly spaced
    xy: np.ndarray  # (K, 2) m, world position of the vehicle's centre
    yaw: np.ndarray  # (K,) rad, unwrapped heading of the motion
    speed: np.ndarray  # (K,) m/s, along the heading
    manoeuvre_end: float  # s, when the manoeuvre proper ends (after it the vehicle holds its lane and speed)

    @classmethod
    def from_positions(cls, t: np.ndarray, xy: np.ndarray, manoeuvre_end: float,
                       start_yaw: float | None = None) -> "Trajectory":
        """Heading and speed from the positions (finite differences); at rest the heading is held."""
        velocity = np.gradient(xy, t, axis=0)
        speed = planar_lengths(velocity)
        yaw = np.arctan2(velocity[:, 1], velocity[:, 0])
        moving = speed > 0.2
        if not moving.any():
            yaw[:] = 0.0 if start_yaw is None else start_yaw
        else:
            first = int(np.argmax(moving))
            yaw[:first] = yaw[first] if start_yaw is None else start_yaw
            for k in range(first + 1, len(yaw)):  # hold the heading while (nearly) stopped
                if not moving[k]:
                    yaw[k] = yaw[k - 1]
        return cls(np.asarray(t, float), np.asarray(xy, float), np.unwrap(yaw), speed, float(manoeuvre_end))

    def state_at(self, time: float) -> tuple[np.ndarray, float, float]:
        """(xy (2,), yaw rad, speed m/s) at a time, interpolated; clamped to the trajectory's span."""
        time = float(np.clip(time, self.t[0], self.t[-1]))
        xy = np.array([np.interp(time, self.t, self.xy[:, 0]), np.interp(time, self.t, self.xy[:, 1])])
        return xy, float(np.interp(time, self.t, self.yaw)), float(np.interp(time, self.t, self.speed))

    @property
    def duration(self) -> float:
        """s from the first to the last sample."""
        return float(self.t[-1] - self.t[0])


@dataclass(frozen=True)
class Kinematics:
    """Derivatives of a trajectory, per sample."""

    acceleration: np.ndarray  # (K,) m/s^2 along the path
    jerk: np.ndarray  # (K,) m/s^3
    yaw_rate: np.ndarray  # (K,) rad/s
    curvature: np.ndarray  # (K,) 1/m (0 where the speed is below 0.5 m/s)
    lateral_acceleration: np.ndarray  # (K,) m/s^2


def kinematics_of(trajectory: Trajectory) -> Kinematics:
    """Acceleration, jerk, yaw rate, curvature and lateral acceleration by finite differences."""
    t = trajectory.t
    acceleration = np.gradient(trajectory.speed, t)
    jerk = np.gradient(acceleration, t)
    yaw_rate = np.gradient(trajectory.yaw, t)
    moving = trajectory.speed > 0.5
    curvature = np.where(moving, yaw_rate / np.maximum(trajectory.speed, 0.5), 0.0)
    return Kinematics(acceleration, jerk, yaw_rate, curvature, yaw_rate * trajectory.speed)


@dataclass(frozen=True)
class VehicleLimits:
    """What a car can do (kinematic bicycle model, comfortable-to-hard driving)."""

    max_acceleration: float = 4.0  # m/s^2
    max_deceleration: float = 8.0  # m/s^2 (positive)
    max_jerk: float = 25.0  # m/s^3 (emergency braking reaches 20-30)
    max_yaw_rate: float = 0.6  # rad/s
    wheelbase: float = 2.9  # m
    max_steer_deg: float = 35.0  # front wheel angle
    max_lateral_acceleration: float = 5.0  # m/s^2
    max_speed: float = 40.0  # m/s

    @property
    def max_curvature(self) -> float:
        """1/m, the bicycle model's tightest turn: tan(max steer) / wheelbase."""
        return math.tan(math.radians(self.max_steer_deg)) / self.wheelbase


def feasibility_violations(trajectory: Trajectory, limits: VehicleLimits = VehicleLimits(),
                           end: float | None = None) -> list[str]:
    """What the trajectory asks beyond the limits (empty when feasible), each as 'quantity value > limit'.

    Only samples up to `end` s (default: all) are checked; a small tolerance absorbs the finite differences.
    """
    k = kinematics_of(trajectory)
    mask = trajectory.t <= (trajectory.t[-1] if end is None else end) + 1e-9
    checks = [
        ("speed below zero m/s", -float(trajectory.speed[mask].min()), 0.05),
        ("speed m/s", float(trajectory.speed[mask].max()), limits.max_speed),
        ("acceleration m/s^2", float(k.acceleration[mask].max()), limits.max_acceleration),
        ("deceleration m/s^2", -float(k.acceleration[mask].min()), limits.max_deceleration),
        ("jerk m/s^3", float(np.abs(k.jerk[mask]).max()), limits.max_jerk),
        ("yaw rate rad/s", float(np.abs(k.yaw_rate[mask]).max()), limits.max_yaw_rate),
        ("curvature 1/m", float(np.abs(k.curvature[mask]).max()), limits.max_curvature),
        ("lateral acceleration m/s^2", float(np.abs(k.lateral_acceleration[mask]).max()), limits.max_lateral_acceleration),
    ]
    return [f"{name} {value:.3g} > {limit:.3g}" for name, value, limit in checks if value > limit * 1.02 + 1e-6]
