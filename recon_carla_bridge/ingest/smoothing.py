"""Rauch-Tung-Striebel smoothing of a 1D constant-velocity track with missing measurements."""
from __future__ import annotations

import numpy as np


def smooth_constant_velocity(
    times: np.ndarray, measurements: np.ndarray, accel_std: float, meas_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed positions and velocities at `times` (increasing) from `measurements` (NaN = missing).

    A constant-velocity Kalman filter (white acceleration noise `accel_std` [m/s^2], measurement noise
    `meas_std` [m]) runs forward, then the RTS pass runs backward; both arrays are (T,).
    """
    times = np.asarray(times, dtype=np.float64)
    z = np.asarray(measurements, dtype=np.float64)
    count = len(times)
    first = int(np.flatnonzero(np.isfinite(z))[0])
    x = np.array([z[first], 0.0])
    p = np.diag([meas_std**2, 25.0])
    r = meas_std**2
    h = np.array([1.0, 0.0])
    filtered_x = np.zeros((count, 2))
    filtered_p = np.zeros((count, 2, 2))
    predicted_x = np.zeros((count, 2))
    predicted_p = np.zeros((count, 2, 2))
    transitions = np.zeros((count, 2, 2))
    for k in range(count):
        dt = times[k] - times[k - 1] if k > 0 else 0.0
        f = np.array([[1.0, dt], [0.0, 1.0]])
        q = accel_std**2 * np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]])
        x = f @ x
        p = f @ p @ f.T + q
        transitions[k], predicted_x[k], predicted_p[k] = f, x, p
        if np.isfinite(z[k]):
            gain = p @ h / (h @ p @ h + r)
            x = x + gain * (z[k] - h @ x)
            p = (np.eye(2) - np.outer(gain, h)) @ p
        filtered_x[k], filtered_p[k] = x, p
    smoothed = filtered_x.copy()
    for k in range(count - 2, -1, -1):
        gain = filtered_p[k] @ transitions[k + 1].T @ np.linalg.inv(predicted_p[k + 1])
        smoothed[k] = filtered_x[k] + gain @ (smoothed[k + 1] - predicted_x[k + 1])
    return smoothed[:, 0], smoothed[:, 1]
