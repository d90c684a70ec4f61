"""Vehicle and walker dynamics: a kinematic bicycle driven by `carla.VehicleControl`.

All functions are pure over numpy arrays (one row per vehicle) so many vehicles step at once.
The model: throttle/brake/reverse/hand-brake set a longitudinal acceleration bounded by the
blueprint's limits, with rolling resistance and drag; steer sets the front-wheel angle (first-order
lag, capped so the lateral acceleration stays below tyre grip); the pose integrates the bicycle
model about the centre of gravity (slip angle beta). Tyres transmit at most friction × load: with a
wheel friction (CARLA's 3.5 by default, less inside a friction trigger) the drive, brake and lateral
accelerations are each capped at friction × g.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROLLING_RESISTANCE = 0.15  # m/s², always opposing motion
DRAG_COEFFICIENT = 0.0004  # 1/m, deceleration = c·v²
HAND_BRAKE_DECEL_FRACTION = 0.6  # hand brake decelerates at this fraction of max_decel
REVERSE_MAX_SPEED = 8.0  # m/s
STEER_TIME_CONSTANT = 0.1  # s, wheel angle lag behind the steer command (CARLA vehicles do not steer instantly)
MAX_LATERAL_ACCEL = 9.0  # m/s², tyre grip: wheel angle is capped so v²·tan(δ)/L stays below it
GRAVITY = 9.81  # m/s²: tyre force is capped at friction × load = friction × mass × GRAVITY


@dataclass
class VehicleBatch:
    """Inputs for stepping N vehicles. Every field is a float array of shape (N,) unless noted."""

    x: np.ndarray  # m
    y: np.ndarray  # m
    yaw: np.ndarray  # rad
    speed: np.ndarray  # m/s, signed along the heading
    steer_angle: np.ndarray  # rad, current front-wheel angle
    throttle: np.ndarray  # [0, 1]
    brake: np.ndarray  # [0, 1]
    steer: np.ndarray  # [-1, 1], positive turns right (CARLA)
    reverse: np.ndarray  # bool
    hand_brake: np.ndarray  # bool
    wheelbase: np.ndarray  # m
    max_steer: np.ndarray  # rad
    max_accel: np.ndarray  # m/s²
    max_decel: np.ndarray  # m/s²
    max_speed: np.ndarray  # m/s
    friction: np.ndarray | None = None  # wheel friction (CARLA's default 3.5); caps each tyre acceleration at friction·g


@dataclass
class VehicleStep:
    """Outputs of one step for N vehicles, shapes (N,)."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray  # rad
    speed: np.ndarray  # m/s signed
    steer_angle: np.ndarray  # rad
    yaw_rate: np.ndarray  # rad/s
    longitudinal_accel: np.ndarray  # m/s²


def step_vehicles(batch: VehicleBatch, dt: float) -> VehicleStep:
    """Advance N vehicles by dt seconds under their controls (pure; inputs are not modified)."""
    throttle = np.clip(np.nan_to_num(batch.throttle), 0.0, 1.0)
    brake = np.clip(np.nan_to_num(batch.brake), 0.0, 1.0)
    steer = np.clip(np.nan_to_num(batch.steer), -1.0, 1.0)
    direction = np.where(batch.reverse, -1.0, 1.0)
    speed = batch.speed
    tyre_limit = (np.full_like(speed, np.inf) if batch.friction is None
                  else np.maximum(np.nan_to_num(batch.friction, nan=0.0), 0.0) * GRAVITY)  # m/s²

    # Longitudinal: drive force fades towards the top speed in the chosen direction.
    top_speed = np.where(batch.reverse, REVERSE_MAX_SPEED, batch.max_speed)
    moving_with_gear = np.maximum(speed * direction, 0.0)
    fade = np.clip(1.0 - (moving_with_gear / np.maximum(top_speed, 1e-3)) ** 2, 0.0, 1.0)
    drive = direction * np.minimum(throttle * batch.max_accel * fade, tyre_limit)
    braking = batch.max_decel * (brake + np.where(batch.hand_brake, HAND_BRAKE_DECEL_FRACTION, 0.0))
    opposing = (
        np.minimum(braking, tyre_limit)
        + ROLLING_RESISTANCE
        + DRAG_COEFFICIENT * speed**2
    )
    new_speed = speed + drive * dt
    # Resistances only ever bring the vehicle to rest, never push it the other way.
    magnitude = np.abs(new_speed) - opposing * dt
    resting_drive = np.abs(drive) > opposing  # throttle overcomes resistance from standstill
    new_speed = np.where(
        magnitude > 0.0,
        np.sign(new_speed) * magnitude,
        np.where(resting_drive & (np.abs(speed) < 1e-6), np.sign(drive) * (np.abs(drive) - opposing) * dt, 0.0),
    )

    # Lateral: wheel angle follows the command with a lag, capped by tyre grip at speed.
    target_angle = steer * batch.max_steer
    v_abs = np.abs(0.5 * (speed + new_speed))
    lateral_limit = np.minimum(MAX_LATERAL_ACCEL, tyre_limit)
    grip_cap = np.arctan(lateral_limit * batch.wheelbase / np.maximum(v_abs**2, 1e-6))
    target_angle = np.clip(target_angle, -grip_cap, grip_cap)
    blend = min(1.0, dt / STEER_TIME_CONSTANT)
    steer_angle = batch.steer_angle + (target_angle - batch.steer_angle) * blend

    # Bicycle about the centre of gravity (half-way between axles).
    beta = np.arctan(0.5 * np.tan(steer_angle))
    mean_speed = 0.5 * (speed + new_speed)
    yaw_rate = mean_speed * np.cos(beta) * np.tan(steer_angle) / batch.wheelbase
    mid_yaw = batch.yaw + 0.5 * yaw_rate * dt
    x = batch.x + mean_speed * np.cos(mid_yaw + beta) * dt
    y = batch.y + mean_speed * np.sin(mid_yaw + beta) * dt
    yaw = batch.yaw + yaw_rate * dt
    yaw = (yaw + np.pi) % (2.0 * np.pi) - np.pi
    return VehicleStep(x, y, yaw, new_speed, steer_angle, yaw_rate, (new_speed - speed) / dt)


def step_walkers(
    x: np.ndarray, y: np.ndarray, yaw: np.ndarray, direction: np.ndarray, speed: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Advance N walkers along their WalkerControl direction (N, 2) at speed (N,) m/s.

    Returns (x, y, yaw rad, velocity (N, 2)). A walker with no direction keeps its heading and stops.
    """
    norm = np.linalg.norm(direction, axis=1)
    moving = (norm > 1e-6) & (speed > 0.0)
    unit = np.where(moving[:, None], direction / np.maximum(norm, 1e-9)[:, None], 0.0)
    velocity = unit * np.where(moving, speed, 0.0)[:, None]
    new_yaw = np.where(moving, np.arctan2(unit[:, 1], unit[:, 0]), yaw)
    return x + velocity[:, 0] * dt, y + velocity[:, 1] * dt, new_yaw, velocity
