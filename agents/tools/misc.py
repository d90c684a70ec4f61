"""Geometry helpers on carla types, with the names and signatures of CARLA 0.9.16's `agents.tools.misc`.

Every function reads the world only through the carla API (`get_velocity`, `get_transform`,
`Waypoint.transform`, `world.debug`), so it works on any object that honours that API.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import carla
import numpy as np

_EPSILON = float(np.finfo(float).eps)
MS_TO_KMH = 3.6
"""Metres per second to kilometres per hour."""


def draw_waypoints(world: carla.World, waypoints: Iterable[carla.Waypoint], z: float = 0.5) -> None:
    """Draw an arrow along each waypoint's heading, `z` metres above it, with `world.debug`.

    Args:
        world: the world whose debug helper draws.
        waypoints: waypoints to draw.
        z: height of the arrows above the waypoints, in metres.
    """
    for waypoint in waypoints:
        transform = waypoint.transform
        begin = transform.location + carla.Location(z=z)
        yaw = math.radians(transform.rotation.yaw)
        end = begin + carla.Location(x=math.cos(yaw), y=math.sin(yaw))
        world.debug.draw_arrow(begin, end, arrow_size=0.3, life_time=1.0)


def get_speed(vehicle: carla.Actor) -> float:
    """Return the speed of an actor in km/h (norm of its 3D velocity)."""
    velocity = vehicle.get_velocity()
    return MS_TO_KMH * math.sqrt(velocity.x**2 + velocity.y**2 + velocity.z**2)


def _trigger_volume(traffic_light: carla.Actor) -> carla.BoundingBox:
    """The trigger volume of a traffic light: CARLA's `trigger_volume` property, else `get_trigger_volume()`.

    A Python subclass of carla.TrafficLight that does not override the property makes the base
    property raise Boost.Python.ArgumentError (a TypeError); such worlds offer the getter instead.
    """
    try:
        return traffic_light.trigger_volume
    except (AttributeError, TypeError):
        return traffic_light.get_trigger_volume()


def get_trafficlight_trigger_location(traffic_light: carla.Actor) -> carla.Location:
    """Return the world location of the centre of a traffic light's trigger volume.

    Args:
        traffic_light: a carla.TrafficLight (anything with get_transform and a trigger volume).
    """
    volume_centre = traffic_light.get_transform().transform(_trigger_volume(traffic_light).location)
    return carla.Location(volume_centre.x, volume_centre.y, volume_centre.z)


def is_within_distance(
    target_transform: carla.Transform,
    reference_transform: carla.Transform,
    max_distance: float,
    angle_interval: Sequence[float] | None = None,
) -> bool:
    """Whether a target lies within `max_distance` (in the xy plane) of a reference, inside an angle window.

    Args:
        target_transform: transform of the target object.
        reference_transform: transform of the reference object (its heading defines angle 0).
        max_distance: largest allowed distance in metres.
        angle_interval: (min_angle, max_angle) in degrees; the target's bearing from the reference
            heading must lie strictly between them. None accepts any bearing.

    Returns:
        True when the target is closer than 1 mm, or within range and inside the angle window.
    """
    dx = target_transform.location.x - reference_transform.location.x
    dy = target_transform.location.y - reference_transform.location.y
    distance = math.hypot(dx, dy)
    if distance < 0.001:
        return True
    if distance > max_distance:
        return False
    if not angle_interval:
        return True
    min_angle, max_angle = angle_interval
    forward = reference_transform.get_forward_vector()
    cosine = (forward.x * dx + forward.y * dy) / (distance * max(math.hypot(forward.x, forward.y), _EPSILON))
    angle = math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))
    return min_angle < angle < max_angle


def is_within_distance_ahead(
    target_transform: carla.Transform, current_transform: carla.Transform, max_distance: float
) -> bool:
    """Whether a target is within `max_distance` and in front of (less than 90 degrees off) a reference.

    The pre-0.9.12 helper, kept for code written against older agents.
    """
    return is_within_distance(target_transform, current_transform, max_distance, (-1.0, 90.0))


def compute_magnitude_angle(
    target_location: carla.Location, current_location: carla.Location, orientation: float
) -> tuple[float, float]:
    """Distance (m) and bearing (degrees, 0..180) of a target seen from a location facing `orientation`.

    Args:
        target_location: location of the target object.
        current_location: location of the reference object.
        orientation: heading (yaw) of the reference object in degrees.
    """
    dx = target_location.x - current_location.x
    dy = target_location.y - current_location.y
    distance = math.hypot(dx, dy)
    yaw = math.radians(orientation)
    cosine = (math.cos(yaw) * dx + math.sin(yaw) * dy) / max(distance, _EPSILON)
    return distance, math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))


def distance_vehicle(waypoint: carla.Waypoint, vehicle_transform: carla.Transform) -> float:
    """Distance in the xy plane between a waypoint and a vehicle transform, in metres."""
    location = waypoint.transform.location
    return math.hypot(location.x - vehicle_transform.location.x, location.y - vehicle_transform.location.y)


def vector(location_1: carla.Location, location_2: carla.Location) -> list[float]:
    """Unit vector [x, y, z] pointing from location_1 to location_2 (zeros when they coincide)."""
    delta = np.array([location_2.x - location_1.x, location_2.y - location_1.y, location_2.z - location_1.z])
    norm = float(np.linalg.norm(delta)) + _EPSILON
    return [float(c) for c in delta / norm]


def compute_distance(location_1: carla.Location, location_2: carla.Location) -> float:
    """Euclidean 3D distance between two locations in metres (plus machine epsilon, as CARLA's does)."""
    delta = np.array([location_2.x - location_1.x, location_2.y - location_1.y, location_2.z - location_1.z])
    return float(np.linalg.norm(delta)) + _EPSILON


def positive(num: float) -> float:
    """Return `num` when it is positive, else 0.0."""
    return max(0.0, num)
