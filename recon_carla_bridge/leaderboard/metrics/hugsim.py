"""HUGSIM's HD-Score (Zhou et al. 2024, "HUGSIM: A Real-Time, Photo-Realistic and Closed-Loop Simulator").

At key frames every 0.5 s, HUGSIM scores the agent's plan for the next seconds: NC (no collision, 0/1),
DAC (drivable-area compliance: 1, 0.5 when 30–50 % of the ego footprint's 2×2 cells are drivable, 0 below 30 %),
TTC (no collision when the plan is pushed 0.5 s and 1 s ahead at its speed) and C (comfort bounds) give
PDMS_t = NC·DAC·(5·TTC + 2·C)/7, and HD-Score = RC × mean_t PDMS_t (RC as a fraction).
CARLA leaderboard agents output controls, not plans: the "plan" at a key frame is the ego's driven trajectory
over the next 3 s (0.5 s steps), the closest control-level counterpart. Obstacles are the recorded vehicles
and pedestrians at the matching ticks. Comfort uses HUGSIM's bounds table (|lon jerk| <= 8.37 m/s³,
lon accel in [-4.05, 2.40] m/s², |yaw rate| <= 0.95 rad/s, |yaw accel| <= 1.93 rad/s²).
"""
from __future__ import annotations

import carla
import numpy as np
import shapely

from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.metrics.base import (
    Metric,
    MetricContext,
    MetricResult,
)
from recon_carla_bridge.leaderboard.metrics.geometry import box_corners

KEY_INTERVAL = 0.5  # s between key frames and between plan points
HORIZON = 3.0  # s of plan
TTC_TIMES = (0.5, 1.0)  # s
WEIGHTS = {"ttc": 5.0, "c": 2.0}
BOUNDS = {"max_lon_accel": 2.40, "min_lon_accel": -4.05, "max_abs_yaw_accel": 1.93, "max_abs_lon_jerk": 8.37,
          "max_abs_yaw_rate": 0.95}


def _obstacles(episode: Episode, tick: int) -> list[shapely.Polygon]:
    rows = episode.actors[tick] if tick < len(episode.actors) else np.zeros((0, 8))
    keep = [r for r in rows if episode.actor_types.get(int(r[0]), "vehicle").startswith(("vehicle", "walker"))]
    return [shapely.Polygon(box_corners(r[1], r[2], r[3], r[4], r[5])) for r in keep]


def _collides(episode: Episode, plan: np.ndarray, ticks: np.ndarray) -> bool:
    hl, hw = float(episode.ego_extent[0]), float(episode.ego_extent[1])
    for (x, y, yaw), tick in zip(plan, ticks):
        obstacles = _obstacles(episode, int(tick))
        if obstacles and shapely.intersects(shapely.Polygon(box_corners(x, y, yaw, hl, hw)), obstacles).any():
            return True
    return False


def _dac(episode: Episode, plan: np.ndarray, world_map: carla.Map, z: float) -> float:
    hl, hw = float(episode.ego_extent[0]), float(episode.ego_extent[1])
    score = 1.0
    for x, y, yaw in plan:
        c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
        cells = [(sx * hl / 2, sy * hw / 2) for sx in (-1, 1) for sy in (-1, 1)]
        drivable = sum(world_map.get_waypoint(carla.Location(float(x + a * c - b * s), float(y + a * s + b * c), z),
                                              project_to_road=False, lane_type=carla.LaneType.Driving) is not None
                       for a, b in cells) / 4.0
        if drivable < 0.3:
            return 0.0
        if drivable < 0.5:
            score = 0.5
    return score


def _comfortable(plan: np.ndarray, interval: float) -> bool:
    if len(plan) < 4:
        return True
    speed = np.hypot(*np.diff(plan[:, :2], axis=0).T) / interval
    yaw_rate = np.diff(np.unwrap(np.radians(plan[:, 2]))) / interval
    accel = np.diff(speed) / interval
    jerk = np.diff(accel) / interval
    return bool(np.all(accel <= BOUNDS["max_lon_accel"]) and np.all(accel >= BOUNDS["min_lon_accel"])
                and np.all(np.abs(jerk) <= BOUNDS["max_abs_lon_jerk"])
                and np.all(np.abs(np.diff(yaw_rate) / interval) <= BOUNDS["max_abs_yaw_accel"])
                and np.all(np.abs(yaw_rate) <= BOUNDS["max_abs_yaw_rate"]))


def frame_scores(episode: Episode, world_map: carla.Map) -> list[dict[str, float]]:
    """NC, DAC, TTC, C and PDMS at each key frame."""
    stride = max(int(round(KEY_INTERVAL / episode.dt)), 1)
    steps = int(round(HORIZON / KEY_INTERVAL))
    poses = episode.ego_pose[:, [0, 1, 5]]
    scores = []
    for tick in range(0, episode.length, stride):
        ticks = np.minimum(tick + stride * np.arange(steps + 1), episode.length - 1)
        ticks = ticks[: int(np.searchsorted(ticks, episode.length - 1, side="right"))]
        plan = poses[ticks]
        if len(plan) < 2:
            continue
        nc = 0.0 if _collides(episode, plan, ticks) else 1.0
        dac = _dac(episode, plan, world_map, float(episode.ego_pose[tick, 2]))
        velocity = np.vstack([np.diff(plan[:, :2], axis=0)[:1], np.diff(plan[:, :2], axis=0)]) / KEY_INTERVAL
        ttc = 1.0
        for horizon in TTC_TIMES:
            shifted = plan.copy()
            shifted[:, :2] += velocity * horizon
            if _collides(episode, shifted, ticks):
                ttc = 0.0
                break
        c = 1.0 if _comfortable(plan, KEY_INTERVAL) else 0.0
        pdms = nc * dac * (WEIGHTS["ttc"] * ttc + WEIGHTS["c"] * c) / (WEIGHTS["ttc"] + WEIGHTS["c"])
        scores.append({"nc": nc, "dac": dac, "ttc": ttc, "c": c, "pdms": pdms})
    return scores


class _HugsimMetric(Metric):
    needs_map = True
    min_ticks = 2
    key = "pdms"

    def _compute(self, context: MetricContext) -> MetricResult:
        scores = context.cached("hugsim.frames", lambda: frame_scores(context.episode, context.world_map))
        if not scores:
            return MetricResult.invalid("no key frame with a plan")
        if self.key == "hd":
            rc = min(float(np.max(context.episode.route_completion)) / 100.0, 1.0)
            return MetricResult(rc * float(np.mean([s["pdms"] for s in scores])), True, {"key_frames": len(scores)})
        return MetricResult(float(np.mean([s[self.key] for s in scores])), True, {"key_frames": len(scores)})


class NoCollision(_HugsimMetric):
    """Mean NC over key frames."""

    name, description, key = "hugsim.nc", "HUGSIM no-collision (mean)", "nc"


class DrivableAreaCompliance(_HugsimMetric):
    """Mean DAC over key frames."""

    name, description, key = "hugsim.dac", "HUGSIM drivable-area compliance (mean)", "dac"


class TimeToCollision(_HugsimMetric):
    """Mean TTC over key frames."""

    name, description, key = "hugsim.ttc", "HUGSIM time-to-collision (mean)", "ttc"


class Comfort(_HugsimMetric):
    """Mean comfort over key frames."""

    name, description, key = "hugsim.c", "HUGSIM comfort (mean)", "c"


class HDScore(_HugsimMetric):
    """RC × mean PDMS."""

    name, description, key = "hugsim.hd_score", "HUGSIM HD-Score", "hd"


def metrics() -> list[Metric]:
    """The HUGSIM metric set."""
    return [NoCollision(), DrivableAreaCompliance(), TimeToCollision(), Comfort(), HDScore()]
