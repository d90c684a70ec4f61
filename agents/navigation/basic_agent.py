"""BasicAgent: drives a route (or roams), stopping for red lights and for vehicles ahead.

The interface of CARLA 0.9.16's `agents.navigation.basic_agent`, plus what ScenarioRunner 0.9.11
passes it: `set_destination((x, y, z))` with a tuple, and `LocalPlanner` importable from here.
The agent reads the world through `vehicle.get_world()`, `world.get_map()`,
`world.get_actors().filter(...)` and the actors' transforms, velocities, bounding boxes and
traffic-light states.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import carla

from agents.navigation.footprints import actor_footprint, route_corridor
from agents.navigation.global_route_planner import GlobalRoutePlanner, Place, RouteTrace
from agents.navigation.lane_change import generate_lane_change_path
from agents.navigation.local_planner import LocalPlanner, RoadOption
from agents.navigation.settings import BasicAgentSettings
from agents.tools.hints import ObstacleDetectionResult, TrafficLightDetectionResult
from agents.tools.misc import (
    get_speed,
    get_trafficlight_trigger_location,
    is_within_distance,
)

__all__ = ["BasicAgent", "LocalPlanner", "RoadOption"]

VEHICLE_FILTER = "*vehicle*"
TRAFFIC_LIGHT_FILTER = "*traffic_light*"


def light_state(traffic_light: carla.Actor) -> carla.TrafficLightState:
    """The current state of a traffic light, read with `get_state()`."""
    return traffic_light.get_state()


class BasicAgent:
    """Navigates to a destination, respecting red traffic lights and braking for vehicles ahead.

    Stop signs are ignored, as in CARLA. Options come as CARLA's opt_dict (unknown keys raise
    UnknownOptionError) or as a BasicAgentSettings.
    """

    _EXTRA_OPTION_KEYS: ClassVar[tuple[str, ...]] = ()
    """opt_dict keys a subclass reads itself (they reach it through `self.settings.extra`)."""

    def __init__(
        self,
        vehicle: carla.Actor,
        target_speed: float = 20,
        opt_dict: Mapping[str, Any] | BasicAgentSettings | None = None,
        map_inst: carla.Map | None = None,
        grp_inst: GlobalRoutePlanner | None = None,
    ) -> None:
        """Set up the agent, its LocalPlanner and its GlobalRoutePlanner.

        Args:
            vehicle: the carla.Vehicle to drive.
            target_speed: cruise speed in km/h.
            opt_dict: CARLA's option dict (agent keys and LocalPlanner keys) or a BasicAgentSettings.
            map_inst: the carla.Map, to avoid asking the world for it.
            grp_inst: a GlobalRoutePlanner to share, to avoid building one.
        """
        if isinstance(opt_dict, BasicAgentSettings):
            settings = opt_dict.with_target_speed(target_speed)
        else:
            settings = BasicAgentSettings.from_opt_dict(
                opt_dict, target_speed=target_speed, owner=type(self).__name__, extra_keys=self._EXTRA_OPTION_KEYS
            )
        self.settings = settings
        self._vehicle = vehicle
        self._world = vehicle.get_world()
        self._map = map_inst if isinstance(map_inst, carla.Map) else self._world.get_map()
        self._last_traffic_light: carla.Actor | None = None

        # Running state, under CARLA's attribute names (subclasses and callers adjust them).
        self._ignore_traffic_lights = settings.ignore_traffic_lights
        self._ignore_stop_signs = settings.ignore_stop_signs
        self._ignore_vehicles = settings.ignore_vehicles
        self._use_bbs_detection = settings.use_bbs_detection
        self._target_speed = target_speed
        self._sampling_resolution = settings.sampling_resolution
        self._base_tlight_threshold = settings.base_tlight_threshold
        self._base_vehicle_threshold = settings.base_vehicle_threshold
        self._speed_ratio = settings.detection_speed_ratio
        self._max_brake = settings.max_brake
        self._offset = settings.offset

        self._local_planner = LocalPlanner(vehicle, opt_dict=settings.planner, map_inst=self._map)
        if isinstance(grp_inst, GlobalRoutePlanner):
            self._global_planner = grp_inst
        else:
            self._global_planner = GlobalRoutePlanner(self._map, self._sampling_resolution)

        self._lights_list = self._world.get_actors().filter(TRAFFIC_LIGHT_FILTER)
        self._lights_map: dict[int, carla.Waypoint] = {}

    # -- configuration ------------------------------------------------------------------------

    def add_emergency_stop(self, control: carla.VehicleControl) -> carla.VehicleControl:
        """Turn `control` into an emergency stop (no throttle, max_brake), keeping its steer."""
        control.throttle = 0.0
        control.brake = self._max_brake
        control.hand_brake = False
        return control

    def set_target_speed(self, speed: float) -> None:
        """Set the cruise speed in km/h."""
        self._target_speed = speed
        self._local_planner.set_speed(speed)

    def follow_speed_limits(self, value: bool = True) -> None:
        """Make the cruise speed track the current speed limit."""
        self._local_planner.follow_speed_limits(value)

    def get_local_planner(self) -> LocalPlanner:
        """The agent's LocalPlanner."""
        return self._local_planner

    def get_global_planner(self) -> GlobalRoutePlanner:
        """The agent's GlobalRoutePlanner."""
        return self._global_planner

    def ignore_traffic_lights(self, active: bool = True) -> None:
        """(De)activate the red-light check."""
        self._ignore_traffic_lights = active

    def ignore_stop_signs(self, active: bool = True) -> None:
        """(De)activate the stop-sign check (which BasicAgent does not perform)."""
        self._ignore_stop_signs = active

    def ignore_vehicles(self, active: bool = True) -> None:
        """(De)activate the vehicle check."""
        self._ignore_vehicles = active

    def set_offset(self, offset: float) -> None:
        """Drive `offset` metres to the right of the lane centre (left when negative)."""
        self._offset = offset
        self._local_planner.set_offset(offset)

    # -- routes -------------------------------------------------------------------------------

    def set_destination(
        self, end_location: Place, start_location: Place | None = None, clean_queue: bool = True
    ) -> None:
        """Plan a route to `end_location` and hand it to the local planner.

        Args:
            end_location: a carla.Location, carla.Waypoint or (x, y, z) (ScenarioRunner 0.9.11
                passes a tuple).
            start_location: where the route starts; by default the local planner's target
                waypoint (clean_queue) or the end of the current plan (not clean_queue), else the
                vehicle's location.
            clean_queue: replace the current plan (else the new route is appended to it).
        """
        if start_location is None:
            queue = self._local_planner.get_plan()
            if clean_queue and self._local_planner.target_waypoint is not None:
                start_location = self._local_planner.target_waypoint
            elif not clean_queue and queue:
                start_location = queue[-1][0]
            else:
                start_location = self._vehicle.get_location()
        route = self._global_planner.trace_route(start_location, end_location)
        self._local_planner.set_global_plan(route, clean_queue=clean_queue)

    def set_global_plan(
        self,
        plan: Iterable[tuple[carla.Waypoint, RoadOption]],
        stop_waypoint_creation: bool = True,
        clean_queue: bool = True,
    ) -> None:
        """Follow a given plan of (carla.Waypoint, RoadOption)."""
        self._local_planner.set_global_plan(plan, stop_waypoint_creation=stop_waypoint_creation, clean_queue=clean_queue)

    def trace_route(self, start_waypoint: Place, end_waypoint: Place) -> RouteTrace:
        """The shortest route between two waypoints (or locations)."""
        return self._global_planner.trace_route(start_waypoint, end_waypoint)

    def lane_change(
        self, direction: str, same_lane_time: float = 0, other_lane_time: float = 0, lane_change_time: float = 2
    ) -> None:
        """Replace the plan by a lane change to the 'left' or 'right'; the times are seconds at the current speed.

        When no lane change is possible the current plan is kept (CARLA clears it, stopping the car).
        """
        speed = self._vehicle.get_velocity().length()
        path = self._generate_lane_change_path(
            self._map.get_waypoint(self._vehicle.get_location()),
            direction,
            same_lane_time * speed,
            other_lane_time * speed,
            lane_change_time * speed,
            False,
            1,
            self._sampling_resolution,
        )
        if not path:
            print("WARNING: Ignoring the lane change as no path was found")
            return
        self.set_global_plan(path)

    @staticmethod
    def _generate_lane_change_path(
        waypoint: carla.Waypoint,
        direction: str = "left",
        distance_same_lane: float = 10,
        distance_other_lane: float = 25,
        lane_change_distance: float = 25,
        check: bool = True,
        lane_changes: int = 1,
        step_distance: float = 2,
    ) -> list[tuple[carla.Waypoint, RoadOption]]:
        """See agents.navigation.lane_change.generate_lane_change_path."""
        return generate_lane_change_path(
            waypoint, direction, distance_same_lane, distance_other_lane, lane_change_distance,
            check, lane_changes, step_distance,
        )

    # -- driving ------------------------------------------------------------------------------

    def run_step(self) -> carla.VehicleControl:
        """One step: follow the plan, and brake hard for a red light or a vehicle ahead."""
        vehicle_list = self._world.get_actors().filter(VEHICLE_FILTER)
        speed_ms = get_speed(self._vehicle) / 3.6
        vehicle_distance = self._base_vehicle_threshold + self._speed_ratio * speed_ms
        hazard = self._vehicle_obstacle_detected(vehicle_list, vehicle_distance).obstacle_was_found
        light_distance = self._base_tlight_threshold + self._speed_ratio * speed_ms
        hazard = self._affected_by_traffic_light(self._lights_list, light_distance).traffic_light_was_found or hazard
        control = self._local_planner.run_step()
        return self.add_emergency_stop(control) if hazard else control

    def done(self) -> bool:
        """True once the destination has been reached."""
        return self._local_planner.done()

    # -- hazards ------------------------------------------------------------------------------

    def _affected_by_traffic_light(
        self, lights_list: Sequence[carla.Actor] | None = None, max_distance: float | None = None
    ) -> TrafficLightDetectionResult:
        """Whether a red light ahead, on the ego's road and facing its way, is within `max_distance`.

        A red light found once keeps counting until it turns another colour (as in CARLA).
        """
        if self._ignore_traffic_lights:
            return TrafficLightDetectionResult(False, None)
        if not lights_list:
            lights_list = self._world.get_actors().filter(TRAFFIC_LIGHT_FILTER)
        if not max_distance:
            max_distance = self._base_tlight_threshold
        if self._last_traffic_light is not None:
            if light_state(self._last_traffic_light) == carla.TrafficLightState.Red:
                return TrafficLightDetectionResult(True, self._last_traffic_light)
            self._last_traffic_light = None

        ego_location = self._vehicle.get_location()
        ego_waypoint = self._map.get_waypoint(ego_location)
        ego_forward = ego_waypoint.transform.get_forward_vector()
        for light in lights_list:
            trigger = self._trigger_waypoint(light)
            if trigger.transform.location.distance(ego_location) > max_distance:
                continue
            if trigger.road_id != ego_waypoint.road_id:
                continue
            if ego_forward.dot(trigger.transform.get_forward_vector()) < 0:
                continue
            if light_state(light) != carla.TrafficLightState.Red:
                continue
            if is_within_distance(trigger.transform, self._vehicle.get_transform(), max_distance, [0, 90]):
                self._last_traffic_light = light
                return TrafficLightDetectionResult(True, light)
        return TrafficLightDetectionResult(False, None)

    def _trigger_waypoint(self, light: carla.Actor) -> carla.Waypoint:
        """The lane waypoint of a light's trigger volume (cached per light id)."""
        if light.id not in self._lights_map:
            self._lights_map[light.id] = self._map.get_waypoint(get_trafficlight_trigger_location(light))
        return self._lights_map[light.id]

    def _vehicle_obstacle_detected(
        self,
        vehicle_list: Sequence[carla.Actor] | None = None,
        max_distance: float | None = None,
        up_angle_th: float = 90,
        low_angle_th: float = 0,
        lane_offset: int = 0,
    ) -> ObstacleDetectionResult:
        """The first actor of `vehicle_list` blocking the ego's path within `max_distance` metres of free space.

        `max_distance` is free space, as CARLA's docstring says: an actor is considered when its
        centre is within max_distance plus both half-lengths (CARLA compares the centre distance
        itself with max_distance, so at its default 5 m a car stopped bumper to bumper behind
        another drops out of range and creeps into it). The result's distance is centre to centre.

        In junctions, with a lateral offset that invades another lane, or with use_bbs_detection,
        an actor blocks when its footprint meets the corridor the ego will sweep along its plan.
        Elsewhere it blocks when it is in the ego's lane (shifted by `lane_offset` lanes) or in the
        lane of the waypoint 3 steps ahead, and its rear lies within `max_distance` of the ego's
        front at a bearing between low_angle_th and up_angle_th degrees.
        """
        if self._ignore_vehicles:
            return ObstacleDetectionResult(False, None, -1)
        if vehicle_list is None:
            vehicle_list = self._world.get_actors().filter(VEHICLE_FILTER)
        if len(vehicle_list) == 0:
            return ObstacleDetectionResult(False, None, -1)
        if not max_distance:
            max_distance = self._base_vehicle_threshold

        ego_transform = self._vehicle.get_transform()
        ego_location = ego_transform.location
        ego_waypoint = self._map.get_waypoint(ego_location)
        ego_extent = self._vehicle.bounding_box.extent
        if ego_waypoint.lane_id < 0 and lane_offset != 0:
            lane_offset *= -1
        forward = ego_transform.get_forward_vector()
        ego_front = carla.Transform(ego_location + carla.Location(x=ego_extent.x * forward.x, y=ego_extent.x * forward.y),
                                    ego_transform.rotation)
        opposite_invasion = abs(self._offset) + ego_extent.y > ego_waypoint.lane_width / 2
        use_bbs = self._use_bbs_detection or opposite_invasion or ego_waypoint.is_junction
        corridor = route_corridor(
            ego_transform, (wp for wp, _ in self._local_planner.get_plan()), ego_extent.y, self._offset,
            max_distance + ego_extent.x,
        )

        for target in vehicle_list:
            if target.id == self._vehicle.id:
                continue
            target_transform = target.get_transform()
            distance = target_transform.location.distance(ego_location)
            target_box = target.bounding_box.extent
            if distance > max_distance + ego_extent.x + max(target_box.x, target_box.y):
                continue
            target_waypoint = self._map.get_waypoint(target_transform.location, lane_type=carla.LaneType.Any)
            if (use_bbs or target_waypoint.is_junction) and corridor is not None:
                if corridor.intersects(actor_footprint(target)):
                    return ObstacleDetectionResult(True, target, distance)
                continue
            if not self._in_followed_lane(target_waypoint, ego_waypoint, lane_offset):
                continue
            target_forward = target_transform.get_forward_vector()
            target_extent = target_box.x
            target_rear = carla.Transform(
                target_transform.location - carla.Location(x=target_extent * target_forward.x, y=target_extent * target_forward.y),
                target_transform.rotation,
            )
            if is_within_distance(target_rear, ego_front, max_distance, [low_angle_th, up_angle_th]):
                return ObstacleDetectionResult(True, target, distance)
        return ObstacleDetectionResult(False, None, -1)

    def _in_followed_lane(self, target: carla.Waypoint, ego: carla.Waypoint, lane_offset: int) -> bool:
        """Whether `target` is in the ego's lane (plus lane_offset) now or 3 plan steps ahead."""
        if target.road_id == ego.road_id and target.lane_id == ego.lane_id + lane_offset:
            return True
        ahead = self._local_planner.get_incoming_waypoint_and_direction(steps=3)[0]
        return ahead is not None and target.road_id == ahead.road_id and target.lane_id == ahead.lane_id + lane_offset
