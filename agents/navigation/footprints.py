"""2D shapes for obstacle checks: the corridor the ego vehicle will sweep, and an actor's footprint.

CARLA 0.9.16 builds both polygons from points in zig-zag order (left, right, left, right...), which
gives self-intersecting, invalid shapely polygons; here the corridor is the left edge forward then
the right edge back, and a footprint is the convex hull of the box's corners.
"""
from __future__ import annotations

from collections.abc import Iterable

import carla
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry


def _side_points(transform: carla.Transform, left: float, right: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """The points `left` and `right` metres along the transform's right vector (negative is left)."""
    location = transform.location
    r = transform.get_right_vector()
    return (location.x + left * r.x, location.y + left * r.y), (location.x + right * r.x, location.y + right * r.y)


def route_corridor(
    ego_transform: carla.Transform,
    plan: Iterable[carla.Waypoint],
    half_width: float,
    offset: float,
    max_distance: float,
) -> BaseGeometry | None:
    """The band `half_width` either side of the ego and of its plan's waypoints within `max_distance`.

    Args:
        ego_transform: the ego vehicle's transform (the band starts at its centre).
        plan: upcoming waypoints, nearest first.
        half_width: half the ego's width in metres.
        offset: lateral offset of the band (positive: right), as the planner drives it.
        max_distance: waypoints farther than this from the ego end the band.

    Returns:
        The corridor polygon, or None when there is no waypoint in range to span it.
    """
    lefts, rights = [], []
    for transform in (ego_transform, *(wp.transform for wp in _within(plan, ego_transform.location, max_distance))):
        left, right = _side_points(transform, offset - half_width, offset + half_width)
        lefts.append(left)
        rights.append(right)
    if len(lefts) < 2:
        return None
    polygon = Polygon([*lefts, *reversed(rights)])
    return polygon if polygon.is_valid else polygon.buffer(0)


def _within(plan: Iterable[carla.Waypoint], origin: carla.Location, max_distance: float) -> list[carla.Waypoint]:
    """The leading waypoints of `plan` closer than `max_distance` to `origin`."""
    selected = []
    for waypoint in plan:
        if origin.distance(waypoint.transform.location) > max_distance:
            break
        selected.append(waypoint)
    return selected


def actor_footprint(actor: carla.Actor) -> BaseGeometry:
    """The convex hull, in the xy plane, of the actor's bounding box placed at its transform.

    A polygon, or a line or point for a box with no width (shapely's convex hull of degenerate input).
    """
    corners = actor.bounding_box.get_world_vertices(actor.get_transform())
    return MultiPoint([(c.x, c.y) for c in corners]).convex_hull
