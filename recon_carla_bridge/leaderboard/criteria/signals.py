"""Red-light and stop-sign criteria (leaderboard 2.0 semantics and messages) and the geometry they need.

Red light: a red light within 15 m whose stop line (0.6 lane width either side of its stop waypoint) is
crossed by the segment from 0.8 to 1.0 ego-lengths (+1 m) behind the ego centre, while the ego's tail is on
that lane heading the lane's way. Stop sign: entering a stop's trigger area and leaving it without ever being
slower than 0.1 m/s.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import carla
import numpy as np
import shapely.geometry

from recon_carla_bridge.leaderboard.criteria.base import Criterion, TickSnapshot
from recon_carla_bridge.leaderboard.events import (
    TrafficEvent,
    TrafficEventType,
    format_location,
)


@dataclass(frozen=True)
class TrafficLightGeometry:
    """A traffic light: id, trigger-area centre (x, y, z) and its stop waypoints (one per affected lane)."""

    light_id: int
    location: tuple[float, float, float]
    center: tuple[float, float, float]
    stop_waypoints: tuple[Any, ...]


@dataclass(frozen=True)
class StopSignGeometry:
    """A stop sign: id, its location, and its trigger area (centre (x, y, z), half-extents (x, y))."""

    stop_id: int
    location: tuple[float, float, float]
    trigger_center: tuple[float, float, float]
    trigger_extent: tuple[float, float]


def _rotate(x: float, y: float, yaw_degrees: float) -> tuple[float, float]:
    c, s = math.cos(math.radians(yaw_degrees)), math.sin(math.radians(yaw_degrees))
    return c * x - s * y, s * x + c * y


def light_geometry(light_id: int, transform: carla.Transform, trigger_volume: carla.BoundingBox,
                   world_map: carla.Map) -> TrafficLightGeometry:
    """Stop waypoints of a light from its trigger volume: lane waypoints across it, advanced to the junction."""
    area = transform.transform(carla.Location(trigger_volume.location))  # transform() works in place
    yaw = transform.rotation.yaw
    extent = trigger_volume.extent
    starts: list[Any] = []
    for x in np.arange(-0.9 * extent.x, 0.9 * extent.x, 1.0):
        dx, dy = _rotate(float(x), 0.0, yaw)
        waypoint = world_map.get_waypoint(carla.Location(area.x + dx, area.y + dy, area.z))
        if waypoint is None:
            continue
        if not starts or (starts[-1].road_id, starts[-1].lane_id) != (waypoint.road_id, waypoint.lane_id):
            starts.append(waypoint)
    stops = []
    for waypoint in starts:
        for _ in range(200):
            if waypoint.is_junction:
                break
            following = waypoint.next(0.5)
            if not following or following[0].is_junction:
                break
            waypoint = following[0]
        stops.append(waypoint)
    loc = transform.location
    return TrafficLightGeometry(light_id, (loc.x, loc.y, loc.z), (area.x, area.y, area.z), tuple(stops))


@dataclass
class RunningRedLightTest(Criterion):
    """One event per red light the ego drives through."""

    lights: Sequence[TrafficLightGeometry] = ()
    world_map: carla.Map = None  # type: ignore[assignment]
    distance_light: float = 15.0
    _last_red_light_id: int | None = field(default=None, init=False)

    def update(self, tick: TickSnapshot) -> None:
        """Check the ego's tail segment against the stop lines of nearby red lights."""
        red = {state.light_id for state in tick.lights if state.is_red}
        if not red:
            return
        transform = tick.transform
        loc = transform.location
        yaw = transform.rotation.yaw
        half_length = tick.extent.x
        cx, cy = _rotate(-0.8 * half_length, 0.0, yaw)
        fx, fy = _rotate(-half_length - 1.0, 0.0, yaw)
        tail_close = (loc.x + cx, loc.y + cy)
        tail_far = (loc.x + fx, loc.y + fy)
        tail_waypoint = self.world_map.get_waypoint(carla.Location(tail_far[0], tail_far[1], loc.z))
        forward = transform.get_forward_vector()
        tail = shapely.geometry.LineString([tail_close, tail_far])
        for light in self.lights:
            if light.light_id == self._last_red_light_id or light.light_id not in red:
                continue
            if math.dist(light.center, (loc.x, loc.y, loc.z)) > self.distance_light:
                continue
            for waypoint in light.stop_waypoints:
                if tail_waypoint is None or (tail_waypoint.road_id, tail_waypoint.lane_id) != \
                        (waypoint.road_id, waypoint.lane_id):
                    continue
                if forward.dot(waypoint.transform.get_forward_vector()) <= 0:
                    continue
                wl = waypoint.transform.location
                lx, ly = _rotate(0.6 * waypoint.lane_width, 0.0, waypoint.transform.rotation.yaw + 90)
                rx, ry = _rotate(0.6 * waypoint.lane_width, 0.0, waypoint.transform.rotation.yaw - 90)
                stop_line = shapely.geometry.LineString([(wl.x + lx, wl.y + ly), (wl.x + rx, wl.y + ry)])
                if tail.intersects(stop_line):
                    x, y, z = light.location
                    self.events.append(TrafficEvent(
                        TrafficEventType.TRAFFIC_LIGHT_INFRACTION, tick.frame,
                        f"Agent ran a red light {light.light_id} at {format_location(x, y, z)}",
                        {"id": light.light_id, "location": (x, y, z)}))
                    self._last_red_light_id = light.light_id
                    break


def _inside(point: tuple[float, float], center: tuple[float, float, float], extent: tuple[float, float],
            multiplier: float = 1.2) -> bool:
    """Point inside the axis-aligned box `center ± multiplier·extent` (the leaderboard's test, no rotation)."""
    return (abs(point[0] - center[0]) < multiplier * extent[0]) and (abs(point[1] - center[1]) < multiplier * extent[1])


@dataclass
class RunningStopTest(Criterion):
    """One event per stop sign passed without stopping."""

    stops: Sequence[StopSignGeometry] = ()
    world_map: carla.Map = None  # type: ignore[assignment]
    proximity_threshold: float = 4.0
    speed_threshold: float = 0.1
    waypoint_step: float = 0.5
    _target: StopSignGeometry | None = field(default=None, init=False)
    _stop_completed: bool = field(default=False, init=False)
    _last_failed: int | None = field(default=None, init=False)

    def _lane_points(self, location: carla.Location) -> list[Any]:
        waypoint = self.world_map.get_waypoint(location)
        points = [waypoint]
        for _ in range(int(self.proximity_threshold / self.waypoint_step)):
            following = points[-1].next(self.waypoint_step)
            if not following:
                break
            points.append(following[0])
        return points

    def _affected(self, waypoints: list[Any], stop: StopSignGeometry) -> bool:
        first = waypoints[0].transform.location
        if math.dist(stop.trigger_center, (first.x, first.y, first.z)) > self.proximity_threshold:
            return False
        return any(_inside((w.transform.location.x, w.transform.location.y), stop.trigger_center,
                           stop.trigger_extent) for w in waypoints)

    def update(self, tick: TickSnapshot) -> None:
        """Pick up a stop when entering its area; fire when leaving it without having stopped."""
        if not self.stops:
            return
        waypoints = self._lane_points(tick.location)
        if self._target is None:
            forward = tick.transform.get_forward_vector()
            if tick.velocity.dot(forward) < -0.17 or forward.dot(waypoints[0].transform.get_forward_vector()) < -0.17:
                return
            self._target = next((stop for stop in self.stops if self._affected(waypoints, stop)), None)
            return
        if not self._stop_completed and tick.speed < self.speed_threshold:
            self._stop_completed = True
        if not self._affected(waypoints, self._target):
            if not self._stop_completed and self._last_failed != self._target.stop_id:
                x, y, z = self._target.location
                self.events.append(TrafficEvent(
                    TrafficEventType.STOP_INFRACTION, tick.frame,
                    f"Agent ran a stop with id={self._target.stop_id} at {format_location(x, y, z)}",
                    {"id": self._target.stop_id, "location": (x, y, z)}))
                self._last_failed = self._target.stop_id
            self._target = None
            self._stop_completed = False
