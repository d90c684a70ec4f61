"""From a `RouteConfig` to a driven route: keypoint checks, GlobalRoutePlanner interpolation (maps come from
`recon_carla_bridge.scene.scene_world.load_place_map`, the loader `load_world` uses: towns and reconstructed scenes)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import carla
import numpy as np

from agents.navigation.global_route_planner import RouteNotFoundError
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard import scenario_triggers
from recon_carla_bridge.leaderboard.api.utils.route_manipulation import (
    interpolate_trajectory,
)
from recon_carla_bridge.leaderboard.routes import (
    Pose,
    RouteConfig,
    ScenarioSpec,
    load_trigger_file,
)

MAX_KEYPOINT_OFFSET = 5.0  # m: a keypoint farther than this from every driving lane is not on the map
HOP_RESOLUTION = 1.0  # m between interpolated route points (leaderboard default)


def map_name_of(town: str) -> str:
    """The road network a town name uses: layered '_Opt' towns share their base town's OpenDRIVE."""
    return town.removesuffix("_Opt")


@dataclass
class PlannedRoute:
    """A route ready to drive.

    Fields:
        config: the route file entry.
        route: [(carla.Transform, RoadOption)] every ~1 m (the leaderboard's `route`).
        gps_route: [({'lat','lon','z'}, RoadOption)] for the same points.
        scenarios: the scenarios that will be instantiated at their triggers.
        points: (N, 3) float64 route positions (m); `yaws`: (N,) degrees; `cumulative`: (N,) m along the route.
    """

    config: RouteConfig
    route: list[tuple[carla.Transform, Any]]
    gps_route: list[tuple[dict[str, float], Any]]
    scenarios: list[ScenarioSpec]
    points: np.ndarray
    yaws: np.ndarray
    cumulative: np.ndarray

    @property
    def length(self) -> float:
        """Route length in m."""
        return float(self.cumulative[-1]) if len(self.cumulative) else 0.0


def check_keypoints_on_map(config: RouteConfig, world_map: carla.Map) -> None:
    """InputError naming the file, route and waypoint when a keypoint lies off every driving lane of the map."""
    for index, pose in enumerate(config.keypoints):
        location = carla.Location(pose.x, pose.y, pose.z)
        waypoint = world_map.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Driving)
        offset = math.inf if waypoint is None else math.hypot(
            waypoint.transform.location.x - pose.x, waypoint.transform.location.y - pose.y)
        if offset > MAX_KEYPOINT_OFFSET:
            raise InputError(
                f"{config.source} route id={config.route_id} waypoint #{index} at (x={pose.x:.1f}, y={pose.y:.1f}) "
                f"is {offset:.1f} m from the nearest driving lane of {config.town}: the map lacks that road")


def route_arrays(route: list[tuple[carla.Transform, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (N,3), yaws (N,) degrees, cumulative distance (N,) m) of a route."""
    points = np.array([[t.location.x, t.location.y, t.location.z] for t, _ in route], dtype=np.float64)
    yaws = np.array([t.rotation.yaw for t, _ in route], dtype=np.float64)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1) if len(points) > 1 else np.zeros(0)
    return points, yaws, np.concatenate([[0.0], np.cumsum(steps)])


def plan_route(config: RouteConfig, world_map: carla.Map, seed: int = 0) -> PlannedRoute:
    """Check the keypoints, interpolate the route and pick the scenarios on it (1.0 JSON or 2.0 list)."""
    check_keypoints_on_map(config, world_map)
    keypoints = [carla.Location(p.x, p.y, p.z) for p in config.keypoints]
    try:
        gps_route, route = interpolate_trajectory(world_map, keypoints, HOP_RESOLUTION)
    except RouteNotFoundError as error:  # keypoints on lanes that no drivable path joins (in this order)
        raise InputError(f"{config.source} route id={config.route_id}: {error} on {config.town}; the waypoints must "
                         "follow the lanes' driving direction") from None
    if len(route) < 2:
        raise InputError(f"{config.source} route id={config.route_id}: the planner found no road between its "
                         f"waypoints on {config.town}")
    points, yaws, cumulative = route_arrays(route)
    gaps = np.linalg.norm(np.diff(points[:, :2], axis=0), axis=1)
    if gaps.size and gaps.max() > 20.0:
        where = int(np.argmax(gaps))
        raise InputError(f"{config.source} route id={config.route_id}: the planned route jumps {gaps.max():.1f} m near "
                         f"(x={points[where, 0]:.1f}, y={points[where, 1]:.1f}); {config.town} lacks a connecting road")
    if config.format == "1.0" and config.scenario_file is not None:
        possible = scenario_triggers.scan_route_for_scenarios(
            map_name_of(config.town), route, load_trigger_file(config.scenario_file))
        if not possible and config.town != map_name_of(config.town):
            possible = scenario_triggers.scan_route_for_scenarios(config.town, route,
                                                                  load_trigger_file(config.scenario_file))
        scenarios = scenario_triggers.sample_scenarios(possible, seed)
    else:
        scenarios = [s for s in config.scenarios if scenario_triggers.scenario_on_route(s.trigger, route)]
    return PlannedRoute(config=config, route=route, gps_route=gps_route, scenarios=scenarios,
                        points=points, yaws=yaws, cumulative=cumulative)


def expert_trajectory(planned: PlannedRoute) -> np.ndarray:
    """(M, 3) reference x, y, yaw (degrees): the route file's expert path if given, else the route itself."""
    expert: tuple[Pose, ...] = planned.config.expert
    if expert:
        return np.array([[p.x, p.y, p.yaw] for p in expert], dtype=np.float64)
    return np.column_stack([planned.points[:, 0], planned.points[:, 1], planned.yaws])
