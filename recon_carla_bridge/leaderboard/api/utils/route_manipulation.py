"""Route helpers with the leaderboard's names: GPS conversion, plan downsampling, route interpolation."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import carla

EARTH_RADIUS_EQUA = 6378137.0  # m, WGS84 equatorial radius, as the leaderboard uses

# RoadOption codes (agents.navigation.local_planner.RoadOption is an IntEnum with these values).
_CHANGE_LANE_CODES = (5, 6)  # CHANGELANELEFT, CHANGELANERIGHT


def _option_code(option: Any) -> int:
    """The integer code of a RoadOption (or of anything int-like standing for one)."""
    return int(getattr(option, "value", option))


def _location_to_gps(lat_ref: float, lon_ref: float, location: carla.Location) -> dict[str, float]:
    """World location → {'lat', 'lon', 'z'} with CARLA's Mercator projection about (lat_ref, lon_ref)."""
    scale = math.cos(math.radians(lat_ref))
    mx = scale * math.radians(lon_ref) * EARTH_RADIUS_EQUA + location.x
    my = scale * EARTH_RADIUS_EQUA * math.log(math.tan(math.radians(90.0 + lat_ref) / 2.0)) - location.y
    lon = math.degrees(mx / (EARTH_RADIUS_EQUA * scale))
    lat = math.degrees(2.0 * math.atan(math.exp(my / (EARTH_RADIUS_EQUA * scale)))) - 90.0
    return {"lat": lat, "lon": lon, "z": location.z}


location_to_gps = _location_to_gps


def location_route_to_gps(route: Sequence[tuple[carla.Transform, Any]], lat_ref: float,
                          lon_ref: float) -> list[tuple[dict[str, float], Any]]:
    """`[(Transform, RoadOption)]` → `[(gps_dict, RoadOption)]`."""
    return [(_location_to_gps(lat_ref, lon_ref, transform.location), option) for transform, option in route]


def latlon_ref_from_opendrive(xodr: str) -> tuple[float, float]:
    """(lat_0, lon_0) from the OpenDRIVE header's geoReference; (42.0, 2.0) when it has none (leaderboard default)."""
    lat_ref, lon_ref = 42.0, 2.0
    header = re.search(r"<geoReference>(.*?)</geoReference>", xodr, re.DOTALL)
    if header:
        text = header.group(1)
        lat = re.search(r"\+lat_0=([-+0-9.eE]+)", text)
        lon = re.search(r"\+lon_0=([-+0-9.eE]+)", text)
        if lat:
            lat_ref = float(lat.group(1))
        if lon:
            lon_ref = float(lon.group(1))
    return lat_ref, lon_ref


def _get_latlon_ref(world: Any) -> tuple[float, float]:
    """(lat_ref, lon_ref) of a world's map, read from its OpenDRIVE geoReference."""
    return latlon_ref_from_opendrive(world.get_map().to_opendrive())


def downsample_route(route: Sequence[tuple[Any, Any]], sample_factor: float) -> list[int]:
    """Indices of a sparse route: the first and last point, lane changes, road-option changes, every `sample_factor` m."""
    ids: list[int] = []
    previous_code: int | None = None
    distance = 0.0
    last = len(route) - 1
    for index, (transform, option) in enumerate(route):
        code = _option_code(option)
        keep = (
            previous_code is None
            or code in _CHANGE_LANE_CODES
            or (code != previous_code and previous_code not in _CHANGE_LANE_CODES)
            or distance > sample_factor
            or index == last
        )
        if keep:
            ids.append(index)
            distance = 0.0
        else:
            distance += transform.location.distance(route[index - 1][0].location)
        previous_code = code
    return ids


def interpolate_trajectory(world_map: carla.Map, waypoints_trajectory: Sequence[carla.Location],
                           hop_resolution: float = 1.0) -> tuple[list, list]:
    """Dense route through keypoints with the GlobalRoutePlanner: `(gps_route, route)`.

    `route` is `[(carla.Transform, RoadOption)]` every `hop_resolution` m and `gps_route` the same points in GPS.
    """
    from agents.navigation.global_route_planner import GlobalRoutePlanner

    planner = GlobalRoutePlanner(world_map, hop_resolution)
    lat_ref, lon_ref = latlon_ref_from_opendrive(world_map.to_opendrive())
    route: list[tuple[carla.Transform, Any]] = []
    for start, end in zip(waypoints_trajectory[:-1], waypoints_trajectory[1:]):
        for waypoint, option in planner.trace_route(start, end):
            route.append((waypoint.transform, option))
    return location_route_to_gps(route, lat_ref, lon_ref), route
