"""Bench2Drive's comfort ("Comfortness"/smoothness) and efficiency metrics.

Comfort: the run is resampled to 10 Hz and cut into 20-sample (2 s) segments; a segment is comfortable when
every nuPlan bound holds on Savitzky-Golay filtered signals (window 7, order 2): longitudinal acceleration in
[-4.05, 2.40] m/s², |lateral acceleration| <= 4.89 m/s², |jerk magnitude| <= 8.37 m/s³, |longitudinal jerk|
<= 4.13 m/s³, |yaw acceleration| <= 1.93 rad/s², |yaw rate| <= 0.95 rad/s. The route's value is the share of
comfortable full segments (a run of at most 20 samples is one segment). Unlike Bench2Drive's script, yaw rates
are converted from CARLA's degrees/s to rad/s and the yaw acceleration is the derivative of the yaw rate.
Efficiency: mean of the route's min-speed checkpoint percentages (those above 1000 % are dropped).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.metrics.base import (
    Metric,
    MetricContext,
    MetricResult,
)

NUPLAN_BOUNDS = {
    "min_lon_accel": -4.05, "max_lon_accel": 2.40, "max_abs_lat_accel": 4.89, "max_abs_mag_jerk": 8.37,
    "max_abs_lon_jerk": 4.13, "max_abs_yaw_accel": 1.93, "max_abs_yaw_rate": 0.95,
}
SAMPLE_INTERVAL = 0.1  # s
SEGMENT_SAMPLES = 20
WINDOW, POLY_ORDER = 7, 2


def resample_indices(episode: Episode, interval: float = SAMPLE_INTERVAL) -> np.ndarray:
    """Tick indices one `interval` apart."""
    stride = max(int(round(interval / episode.dt)), 1)
    return np.arange(0, episode.length, stride)


def segment_is_comfortable(acceleration: np.ndarray, yaw: np.ndarray, yaw_rate: np.ndarray,
                           interval: float = SAMPLE_INTERVAL) -> bool:
    """All nuPlan bounds hold for one segment: (n, 2) world acceleration, (n,) yaw and yaw rate in radians."""
    window = min(WINDOW, len(yaw))
    if window <= POLY_ORDER:
        return True
    forward = np.column_stack([np.cos(yaw), np.sin(yaw)])
    right = np.column_stack([-np.sin(yaw), np.cos(yaw)])
    lon = (acceleration * forward).sum(axis=1)
    lat = (acceleration * right).sum(axis=1)
    magnitude = np.hypot(acceleration[:, 0], acceleration[:, 1])

    def smooth(signal: np.ndarray, deriv: int = 0) -> np.ndarray:
        return savgol_filter(signal, window_length=window, polyorder=POLY_ORDER, deriv=deriv, delta=interval)

    yaw_rate = np.unwrap(yaw_rate)
    checks = (
        np.all((smooth(lon) > NUPLAN_BOUNDS["min_lon_accel"]) & (smooth(lon) < NUPLAN_BOUNDS["max_lon_accel"])),
        np.all(np.abs(smooth(lat)) < NUPLAN_BOUNDS["max_abs_lat_accel"]),
        np.all(np.abs(smooth(smooth(magnitude), 1)) < NUPLAN_BOUNDS["max_abs_mag_jerk"]),
        np.all(np.abs(smooth(smooth(lon), 1)) < NUPLAN_BOUNDS["max_abs_lon_jerk"]),
        np.all(np.abs(smooth(yaw_rate, 1)) < NUPLAN_BOUNDS["max_abs_yaw_accel"]),
        np.all(np.abs(smooth(yaw_rate)) < NUPLAN_BOUNDS["max_abs_yaw_rate"]),
    )
    return bool(all(checks))


def comfort_segments(episode: Episode) -> list[bool]:
    """Comfort verdict of each full 2 s segment (one verdict for the whole run when it is shorter)."""
    idx = resample_indices(episode)
    acceleration = episode.ego_acceleration[idx, :2]
    yaw = np.radians(episode.ego_pose[idx, 5])
    yaw_rate = np.radians(episode.ego_angular_velocity[idx, 2])
    if len(idx) <= SEGMENT_SAMPLES:
        return [segment_is_comfortable(acceleration, yaw, yaw_rate)]
    return [segment_is_comfortable(acceleration[s:s + SEGMENT_SAMPLES], yaw[s:s + SEGMENT_SAMPLES],
                                   yaw_rate[s:s + SEGMENT_SAMPLES])
            for s in range(0, len(idx) - SEGMENT_SAMPLES + 1, SEGMENT_SAMPLES)]


class Comfortness(Metric):
    """Share of comfortable 2 s segments (nuPlan bounds)."""

    name, description, min_ticks = "b2d.comfortness", "Bench2Drive Comfortness (share of 2 s segments)", 3

    def _compute(self, context: MetricContext) -> MetricResult:
        verdicts = comfort_segments(context.episode)
        return MetricResult(sum(verdicts) / len(verdicts), True, {"segments": len(verdicts)})


class Efficiency(Metric):
    """Mean min-speed checkpoint percentage (ego speed vs surrounding traffic)."""

    name, description = "b2d.efficiency", "Bench2Drive Driving Efficiency (%)"

    def _compute(self, context: MetricContext) -> MetricResult:
        values = [float(e["data"]["percentage"]) for e in context.episode.events
                  if e["type"] == "MIN_SPEED_INFRACTION" and float(e["data"]["percentage"]) <= 1000]
        if not values:
            return MetricResult.invalid("no min-speed checkpoint below 100 % (no surrounding traffic or always fast)")
        return MetricResult(sum(values) / len(values))


def metrics() -> list[Metric]:
    """The Bench2Drive metric set."""
    return [Comfortness(), Efficiency()]
