"""Checks of the numbers a script feeds the world (poses, velocities, forces) and of the state a tick produces.

One NaN through `add_impulse` used to turn an actor's location into NaN, after which every `world.tick()` raised
until the actor was destroyed; a huge finite force overflowed locations to inf silently. Every setter, force and
velocity path checks its input here with the same error, and `Simulation.step` checks the state it produced
(`non_finite_actors`) before anyone can read it.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from recon_carla_bridge.errors import InputError

MAX_COORDINATE_M = 1e6  # |x|, |y|, |z| of any pose: 1000 km, far beyond a map, far below float32 trouble
MAX_SPEED_MPS = 1000.0  # any linear velocity (3x the fastest car); what an impulse or force may produce too
MAX_ANGULAR_DEG_S = 36000.0  # 100 turns a second
MAX_ANGLE_DEG = 1e6  # rotations are wrapped by CARLA; beyond this the float loses a degree of precision


def finite_vector(values: Iterable[float], what: str, limit: float, unit: str) -> np.ndarray:
    """`values` as a float array if every component is finite and within ±limit, else InputError naming `what`."""
    array = np.array([float(v) for v in values], dtype=float)
    for axis, value in zip("xyz", array):
        if not math.isfinite(value):
            raise InputError(f"{what}: {axis} = {value} is non-finite")
        if abs(value) > limit:
            raise InputError(f"{what}: {axis} = {value:g} {unit} is beyond ±{limit:g} {unit}")
    return array


def vector_of(value: Any, what: str) -> tuple[float, float, float]:
    """(x, y, z) of a carla.Vector3D/Location, or InputError when `value` has no such fields."""
    try:
        return float(value.x), float(value.y), float(value.z)
    except (AttributeError, TypeError, ValueError):
        raise InputError(f"{what}: expected a carla.Vector3D, got {type(value).__name__}") from None


def check_pose(location: np.ndarray, rotation: np.ndarray, what: str) -> None:
    """InputError unless the location (m) and rotation (pitch, yaw, roll in degrees) are finite and in range."""
    finite_vector(location, f"{what} location", MAX_COORDINATE_M, "m")
    for name, value in zip(("pitch", "yaw", "roll"), rotation):
        if not math.isfinite(float(value)):
            raise InputError(f"{what}: rotation.{name} = {value} is non-finite")
        if abs(float(value)) > MAX_ANGLE_DEG:
            raise InputError(f"{what}: rotation.{name} = {value:g} deg is beyond ±{MAX_ANGLE_DEG:g} deg")


def check_speed(velocity: np.ndarray, what: str) -> None:
    """InputError when a velocity (m/s) is faster than MAX_SPEED_MPS (a force or impulse too large for the actor)."""
    speed = float(np.linalg.norm(velocity))
    if not math.isfinite(speed) or speed > MAX_SPEED_MPS:
        raise InputError(f"{what}: it would give the actor a speed of {speed:g} m/s (at most {MAX_SPEED_MPS:g} m/s)")


STATE_FIELDS = ("location", "rotation", "velocity", "angular_velocity", "acceleration")


def non_finite_actors(states: Iterable[Any]) -> list[tuple[Any, str]]:
    """(state, reason) for every actor state whose pose or motion is non-finite or out of range."""
    states = list(states)
    if not states:
        return []
    try:  # one array test for the whole world; the per-actor walk below only when something is wrong
        values = np.array([[getattr(state, field) for field in STATE_FIELDS] for state in states], dtype=float)
    except (ValueError, TypeError):  # fields of unexpected shapes: judged one by one
        values = None
    if (values is not None and values.shape == (len(states), len(STATE_FIELDS), 3) and np.isfinite(values).all()
            and float(np.abs(values[:, 0]).max()) <= MAX_COORDINATE_M):
        return []
    bad = []
    for state in states:
        for field in STATE_FIELDS:
            value = np.asarray(getattr(state, field))
            if not np.all(np.isfinite(value)):
                bad.append((state, f"{field} became {value.tolist()}"))
                break
        else:
            if np.any(np.abs(state.location) > MAX_COORDINATE_M):
                bad.append((state, f"location {state.location.tolist()} left the ±{MAX_COORDINATE_M:g} m world"))
    return bad
