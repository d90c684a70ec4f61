"""Quintic polynomials in time: the minimum-jerk link between two (position, velocity, acceleration) states."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Quintic:
    """x(t) = sum c_i t^i for t in [0, duration]; beyond it the end state is held at constant velocity."""

    coefficients: np.ndarray  # (6,) c_0 … c_5
    duration: float  # s

    @classmethod
    def between(cls, start: tuple[float, float, float], end: tuple[float, float, float], duration: float) -> "Quintic":
        """The quintic from (x, v, a) at t=0 to (x, v, a) at t=duration (duration > 0)."""
        if not duration > 0.0:
            raise ValueError(f"quintic duration must be positive, got {duration}")
        x0, v0, a0 = start
        x1, v1, a1 = end
        T = duration
        c0, c1, c2 = x0, v0, a0 / 2.0
        matrix = np.array([[T**3, T**4, T**5], [3 * T**2, 4 * T**3, 5 * T**4], [6 * T, 12 * T**2, 20 * T**3]])
        rhs = np.array([x1 - (c0 + c1 * T + c2 * T**2), v1 - (c1 + 2 * c2 * T), a1 - 2 * c2])
        c3, c4, c5 = np.linalg.solve(matrix, rhs)
        return cls(np.array([c0, c1, c2, c3, c4, c5], dtype=float), float(T))

    def position(self, t: np.ndarray) -> np.ndarray:
        """x(t); past the end x moves on at the end velocity."""
        t = np.asarray(t, dtype=float)
        inside = np.clip(t, 0.0, self.duration)
        value = np.polynomial.polynomial.polyval(inside, self.coefficients)
        return value + (t - inside) * self.velocity(self.duration)

    def velocity(self, t: np.ndarray | float) -> np.ndarray:
        """dx/dt (held at the end value past the end)."""
        inside = np.clip(np.asarray(t, dtype=float), 0.0, self.duration)
        return np.polynomial.polynomial.polyval(inside, np.polynomial.polynomial.polyder(self.coefficients))
