"""AlpaSim's per-step metrics, aggregated over time like AlpaSim (max for events, min for distances).

Per tick, with the ego and other actors as oriented boxes:
- collision_front / collision_rear: another box touches the ego's front / rear bumper edge;
- collision_lateral: it touches the ego box but neither bumper; collision_any: any of them;
- collision_at_fault: front or lateral (being hit from behind is not the ego's fault);
- offroad: an ego box corner lies outside every driving lane of the map;
- wrong_lane: the ego heads more than 120° away from the driving lane under its centre (outside junctions);
- min_distance: smallest gap (m) between the ego box and any other actor's box (min over time).
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
from recon_carla_bridge.leaderboard.metrics.geometry import box_corners, wrap_degrees

WRONG_LANE_ANGLE = 120.0  # degrees (2π/3)
NEAR = 30.0  # m: actors farther than this from the ego are skipped


def _ticks_with_actors(episode: Episode):
    """(tick, ego (x, y, yaw), actor rows (K, 8)) for every tick that has other actors."""
    for t in range(episode.length):
        actors = episode.actors[t] if t < len(episode.actors) else np.zeros((0, 8))
        if len(actors):
            yield t, (episode.ego_pose[t, 0], episode.ego_pose[t, 1], episode.ego_pose[t, 5]), actors


def collision_flags(episode: Episode) -> np.ndarray:
    """(T, 3) booleans per tick: front, rear, lateral collision."""
    flags = np.zeros((episode.length, 3), dtype=bool)
    hl, hw = float(episode.ego_extent[0]), float(episode.ego_extent[1])
    for t, (x, y, yaw), actors in _ticks_with_actors(episode):
        near = actors[np.hypot(actors[:, 1] - x, actors[:, 2] - y) < NEAR]
        if not len(near):
            continue
        corners = box_corners(x, y, yaw, hl, hw)
        ego = shapely.Polygon(corners)
        front = shapely.LineString(corners[[0, 1]])
        rear = shapely.LineString(corners[[2, 3]])
        for row in near:
            other = shapely.Polygon(box_corners(row[1], row[2], row[3], row[4], row[5]))
            if not ego.intersects(other):
                continue
            if other.intersects(front):
                flags[t, 0] = True
            elif other.intersects(rear):
                flags[t, 1] = True
            else:
                flags[t, 2] = True
    return flags


def min_distances(episode: Episode) -> np.ndarray:
    """(T,) smallest ego-box to actor-box gap per tick (inf when no actor is near)."""
    out = np.full(episode.length, np.inf)
    hl, hw = float(episode.ego_extent[0]), float(episode.ego_extent[1])
    for t, (x, y, yaw), actors in _ticks_with_actors(episode):
        ego = shapely.Polygon(box_corners(x, y, yaw, hl, hw))
        others = [shapely.Polygon(box_corners(r[1], r[2], r[3], r[4], r[5])) for r in actors]
        out[t] = float(np.min(shapely.distance(ego, others)))
    return out


class _CollisionMetric(Metric):
    columns: tuple[int, ...] = ()

    def _compute(self, context: MetricContext) -> MetricResult:
        flags = context.cached("alpasim.flags", lambda: collision_flags(context.episode))[:, list(self.columns)].any(axis=1)
        return MetricResult(float(flags.any()), True, {"ticks": int(flags.sum())})


class CollisionAny(_CollisionMetric):
    """Any box contact with another actor."""

    name, description, columns = "alpasim.collision_any", "AlpaSim collision (any)", (0, 1, 2)


class CollisionFront(_CollisionMetric):
    """Contact on the ego's front bumper."""

    name, description, columns = "alpasim.collision_front", "AlpaSim collision (front)", (0,)


class CollisionRear(_CollisionMetric):
    """Contact on the ego's rear bumper."""

    name, description, columns = "alpasim.collision_rear", "AlpaSim collision (rear)", (1,)


class CollisionLateral(_CollisionMetric):
    """Contact on the ego's side."""

    name, description, columns = "alpasim.collision_lateral", "AlpaSim collision (lateral)", (2,)


class CollisionAtFault(_CollisionMetric):
    """Front or lateral contact."""

    name, description, columns = "alpasim.collision_at_fault", "AlpaSim collision (at fault)", (0, 2)


def _on_driving_lane(world_map: carla.Map, x: float, y: float, z: float) -> bool:
    return world_map.get_waypoint(carla.Location(float(x), float(y), float(z)), project_to_road=False,
                                  lane_type=carla.LaneType.Driving) is not None


class Offroad(Metric):
    """An ego corner off every driving lane at some tick."""

    name, description, needs_map = "alpasim.offroad", "AlpaSim offroad", True

    def _compute(self, context: MetricContext) -> MetricResult:
        episode, world_map = context.episode, context.world_map
        hl, hw = float(episode.ego_extent[0]), float(episode.ego_extent[1])
        ticks = 0
        for pose in episode.ego_pose:
            corners = box_corners(pose[0], pose[1], pose[5], hl, hw)
            if not all(_on_driving_lane(world_map, cx, cy, pose[2]) for cx, cy in corners):
                ticks += 1
        return MetricResult(float(ticks > 0), True, {"ticks": ticks})


class WrongLane(Metric):
    """Heading more than 120° against the lane under the ego at some tick (junctions excluded)."""

    name, description, needs_map = "alpasim.wrong_lane", "AlpaSim wrong lane", True

    def _compute(self, context: MetricContext) -> MetricResult:
        ticks = 0
        for pose in context.episode.ego_pose:
            waypoint = context.world_map.get_waypoint(carla.Location(*map(float, pose[:3])), project_to_road=False,
                                                      lane_type=carla.LaneType.Driving)
            if waypoint is None or waypoint.is_junction:
                continue
            if abs(float(wrap_degrees(waypoint.transform.rotation.yaw - pose[5]))) > WRONG_LANE_ANGLE:
                ticks += 1
        return MetricResult(float(ticks > 0), True, {"ticks": ticks})


class MinDistance(Metric):
    """Smallest gap (m) between the ego and any other actor over the run."""

    name, description = "alpasim.min_distance", "AlpaSim min distance to other actors (m)"

    def _compute(self, context: MetricContext) -> MetricResult:
        distances = min_distances(context.episode)
        if not np.isfinite(distances).any():
            return MetricResult.invalid("no other actor near the ego")
        return MetricResult(float(distances.min()))


def metrics() -> list[Metric]:
    """The AlpaSim metric set."""
    return [CollisionAny(), CollisionFront(), CollisionRear(), CollisionLateral(), CollisionAtFault(), Offroad(),
            WrongLane(), MinDistance()]
