"""Manoeuvre parameters: their units and valid bounds, ranges to draw from, and seeded draws."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.errors import InputError


@dataclass(frozen=True)
class ParameterSpec:
    """One manoeuvre parameter: unit, hard bounds (values outside are input errors) and meaning."""

    unit: str
    low: float
    high: float
    meaning: str


PARAMETERS: dict[str, ParameterSpec] = {
    "gap": ParameterSpec("m", 1.0, 60.0, "bumper-to-bumper distance to the ego when the manoeuvre ends"),
    "time_to_collision": ParameterSpec("s", 0.5, 20.0, "gap / closing speed when a cut ends; approach time of a tailgater"),
    "lateral_speed": ParameterSpec("m/s", 0.2, 3.0, "mean lateral speed of a lane change"),
    "deceleration": ParameterSpec("m/s^2", 0.5, 9.0, "peak deceleration of a brake check"),
    "speed_drop": ParameterSpec("1", 0.1, 1.0, "share of its speed a brake check sheds"),
    "trigger_distance": ParameterSpec("m", 2.0, 150.0, "ego-adversary distance (centres) that triggers the manoeuvre"),
    "abort_fraction": ParameterSpec("1", 0.2, 0.8, "share of the lane change done before it is aborted"),
    "hold_time": ParameterSpec("s", 0.0, 30.0, "how long the adversary holds lane and speed after the manoeuvre"),
}


@dataclass(frozen=True)
class ParameterRange:
    """A closed interval [low, high] a parameter is drawn from uniformly (low == high: a fixed value)."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        """One value (always consumes one random number, so draws stay aligned across ranges)."""
        u = float(rng.uniform())
        return self.low + (self.high - self.low) * u


def parse_range(text: str, where: str) -> ParameterRange:
    """'a' or 'a:b' (numbers) as a range; InputError naming `where` otherwise."""
    parts = str(text).split(":")
    if len(parts) not in (1, 2):
        raise InputError(f"{where}: '{text}' is not a number or a range 'low:high'")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"{where}: '{text}' is not a number or a range 'low:high'") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{where}: '{text}' is not finite")
    low, high = values[0], values[-1]
    if low > high:
        raise InputError(f"{where}: range '{text}' has low > high")
    return ParameterRange(low, high)


def check_range(name: str, value: ParameterRange, where: str) -> None:
    """InputError naming `where` and the parameter when a range leaves the parameter's bounds."""
    spec = PARAMETERS.get(name)
    if spec is None:
        raise InputError(f"{where}: unknown parameter '{name}' (known: {', '.join(sorted(PARAMETERS))})")
    if value.low < spec.low or value.high > spec.high:
        raise InputError(f"{where}: {name}={value.low:g}:{value.high:g} {spec.unit} is outside "
                         f"[{spec.low:g}, {spec.high:g}] ({spec.meaning})")


def draw_parameters(ranges: dict[str, ParameterRange], seed: int) -> dict[str, float]:
    """One value per parameter, in name order, from numpy's PCG64 seeded with `seed`: the same seed, the same values."""
    rng = np.random.default_rng(seed)
    return {name: ranges[name].draw(rng) for name in sorted(ranges)}
