"""Criteria on how the ego drives (leaderboard 2.0 semantics and messages).

- CollisionTest: one event per collision; hits with the same actor within 5 s, or within 5 m of the last
  counted one, are the same collision; hits while the ego is slower than 0.1 m/s are not its fault.
- ActorBlockedTest: ends the route after 180 s slower than 0.1 m/s.
- OutsideRouteLanesTest: metres of route driven off the driving/parking lanes or against the lane direction,
  reported as % of the route driven so far.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import carla

from recon_carla_bridge.leaderboard.criteria.base import Criterion, TickSnapshot
from recon_carla_bridge.leaderboard.events import (
    TrafficEvent,
    TrafficEventType,
    format_location,
)
from recon_carla_bridge.leaderboard.planning import PlannedRoute


def collision_type(type_id: str) -> TrafficEventType | None:
    """Event type of a collision with an actor of `type_id` (None: not scored, e.g. a sidewalk-less unknown)."""
    if ("static" in type_id or "traffic" in type_id) and "sidewalk" not in type_id:
        return TrafficEventType.COLLISION_STATIC
    if "vehicle" in type_id:
        return TrafficEventType.COLLISION_VEHICLE
    if "walker" in type_id:
        return TrafficEventType.COLLISION_PEDESTRIAN
    return None


@dataclass
class CollisionTest(Criterion):
    """Counts the ego's collisions."""

    collision_radius: float = 5.0
    max_id_time: float = 5.0
    epsilon: float = 0.1
    _last_id: int | None = field(default=None, init=False)
    _last_time: float = field(default=0.0, init=False)
    _last_location: tuple[float, float, float] | None = field(default=None, init=False)

    def update(self, tick: TickSnapshot) -> None:
        """Forget old collisions, then score this tick's hits."""
        loc = (tick.location.x, tick.location.y, tick.location.z)
        if self._last_location is not None and math.dist(loc, self._last_location) > self.collision_radius:
            self._last_location = None
        if self._last_id is not None and tick.time - self._last_time > self.max_id_time:
            self._last_id = None
        for hit in tick.collisions:
            if self._last_id == hit.other_id:
                continue
            if self._last_location is not None and math.dist(loc, self._last_location) <= self.collision_radius:
                continue
            if tick.speed < self.epsilon:
                continue
            self._last_time = tick.time
            self._last_location = loc
            if hit.other_id != 0:
                self._last_id = hit.other_id
            kind = collision_type(hit.other_type_id)
            if kind is None:
                continue
            self.events.append(TrafficEvent(
                kind, tick.frame,
                f"Agent collided against object with type={hit.other_type_id} and id={hit.other_id} at "
                f"{format_location(*loc)}",
                {"location": loc, "id": hit.other_id, "type_id": hit.other_type_id}))


@dataclass
class ActorBlockedTest(Criterion):
    """Ends the route when the ego stays below `min_speed` for more than `max_time` seconds."""

    min_speed: float = 0.1
    max_time: float = 180.0
    _last_valid: float | None = field(default=None, init=False)

    def update(self, tick: TickSnapshot) -> None:
        """Reset the timer while moving; fire once it runs out."""
        if self.ends_route:
            return
        if tick.speed < self.min_speed and self._last_valid is not None:
            if tick.time - self._last_valid > self.max_time:
                loc = tick.location
                self.events.append(TrafficEvent(
                    TrafficEventType.VEHICLE_BLOCKED, tick.frame,
                    f"Agent got blocked at {format_location(loc.x, loc.y, loc.z)}",
                    {"location": (loc.x, loc.y, loc.z)}))
                self.ends_route = True
        else:
            self._last_valid = tick.time


@dataclass
class OutsideRouteLanesTest(Criterion):
    """Distance driven outside the route's lanes, as % of the route driven."""

    route: PlannedRoute = None  # type: ignore[assignment]
    world_map: carla.Map = None  # type: ignore[assignment]
    allowed_out_distance: float = 0.5
    max_vehicle_angle: float = 120.0
    max_waypoint_angle: float = 150.0
    window: int = 3
    index: int = field(default=0, init=False)
    total_distance: float = field(default=0.0, init=False)
    wrong_distance: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._outside = False
        self._wrong_lane = False
        self._last_key: tuple[int, int] | None = None
        self._last_waypoint: carla.Waypoint | None = None
        self._event: TrafficEvent | None = None

    def _check_outside(self, location: carla.Location) -> None:
        driving = self.world_map.get_waypoint(location, lane_type=carla.LaneType.Driving)
        parking = self.world_map.get_waypoint(location, lane_type=carla.LaneType.Parking)
        driving_distance = location.distance(driving.transform.location) if driving else math.inf
        parking_distance = location.distance(parking.transform.location) if parking else math.inf
        if driving_distance >= parking_distance:
            distance, width = parking_distance, parking.lane_width
        else:
            distance, width = driving_distance, driving.lane_width
        self._outside = distance > width / 2.0 + self.allowed_out_distance

    def _check_wrong_lane(self, location: carla.Location, ego_yaw: float) -> None:
        waypoint = self.world_map.get_waypoint(location, lane_type=carla.LaneType.Driving)
        key = (waypoint.road_id, waypoint.lane_id)
        if self._last_waypoint is None:
            self._last_waypoint = waypoint
        if waypoint.is_junction:
            self._wrong_lane = False
        elif key != self._last_key:
            if self._last_waypoint.is_junction:
                angle = (waypoint.transform.rotation.yaw % 360 - ego_yaw % 360) % 360
                self._wrong_lane = not (angle < self.max_vehicle_angle or angle > 360 - self.max_vehicle_angle)
            else:
                angle = (self._last_waypoint.transform.rotation.yaw % 360 - waypoint.transform.rotation.yaw % 360) % 360
                if self.max_waypoint_angle < angle < 360 - self.max_waypoint_angle:
                    self._wrong_lane = not self._wrong_lane
        self._last_key = key
        self._last_waypoint = waypoint

    def update(self, tick: TickSnapshot) -> None:
        """Classify this tick, then add the route distance passed to the total (and to the wrong part)."""
        location = tick.location
        self._check_outside(location)
        self._check_wrong_lane(location, tick.transform.rotation.yaw)
        off = self._outside or self._wrong_lane
        for index in range(self.index + 1, min(self.index + self.window + 1, len(self.route.points))):
            yaw = math.radians(self.route.yaws[index])
            px, py, _ = self.route.points[index]
            if (location.x - px) * math.cos(yaw) + (location.y - py) * math.sin(yaw) > 0:
                step = float(math.dist(self.route.points[self.index], self.route.points[index]))
                self.total_distance += step
                if off:
                    self.wrong_distance += step
                if self.wrong_distance:
                    self._set_event(tick.frame)
                self.index = index

    def _set_event(self, frame: int) -> None:
        if self._event is None:
            self._event = TrafficEvent(TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION, frame)
            self.events.append(self._event)
        percentage = self.wrong_distance / self.total_distance * 100.0
        self._event.frame = frame
        self._event.message = (f"Agent went outside its route lanes for about {round(self.wrong_distance, 3)} "
                               f"meters ({round(percentage, 2)}% of the completed route)")
        self._event.data.update({"distance": self.wrong_distance, "percentage": percentage})
