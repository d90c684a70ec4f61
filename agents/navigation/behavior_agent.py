"""BehaviorAgent: a BasicAgent with a driving style that adapts speed to limits, leaders and junctions.

The interface of CARLA 0.9.16's `agents.navigation.behavior_agent`. Each step, in priority order:
red light -> emergency stop; walker too close -> emergency stop; vehicle ahead -> emergency stop
or car following (time-to-collision based); turning in a junction -> slow down; else cruise at the
style's speed under the limit. A faster vehicle close behind may make it move over a lane.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import carla
import numpy as np

from agents.navigation.basic_agent import (
    TRAFFIC_LIGHT_FILTER,
    VEHICLE_FILTER,
    BasicAgent,
)
from agents.navigation.behavior_types import BEHAVIORS, Aggressive, Cautious, Normal
from agents.navigation.global_route_planner import GlobalRoutePlanner
from agents.navigation.local_planner import RoadOption
from agents.navigation.settings import BasicAgentSettings
from agents.tools.hints import ObstacleDetectionResult
from agents.tools.misc import get_speed, positive

WALKER_FILTER = "*walker.pedestrian*"
_VEHICLE_SEARCH_RADIUS = 45.0
_WALKER_SEARCH_RADIUS = 10.0
_TAILGATE_COOLDOWN_STEPS = 200


class BehaviorAgent(BasicAgent):
    """Drives a route with a 'cautious', 'normal' or 'aggressive' style (behavior_types)."""

    def __init__(
        self,
        vehicle: carla.Actor,
        behavior: str | Cautious | Normal | Aggressive = "normal",
        opt_dict: Mapping[str, Any] | BasicAgentSettings | None = None,
        map_inst: carla.Map | None = None,
        grp_inst: GlobalRoutePlanner | None = None,
    ) -> None:
        """Set up the agent.

        Args:
            vehicle: the carla.Vehicle to drive.
            behavior: 'cautious', 'normal', 'aggressive', or a style instance (unknown names raise
                ValueError; CARLA leaves the style unset and fails on the first step).
            opt_dict: BasicAgent's options.
            map_inst: the carla.Map, to avoid asking the world for it.
            grp_inst: a GlobalRoutePlanner to share.
        """
        if isinstance(behavior, str):
            if behavior not in BEHAVIORS:
                raise ValueError(f"unknown behavior {behavior!r}; choose one of {sorted(BEHAVIORS)}")
            behavior = BEHAVIORS[behavior]()
        super().__init__(vehicle, opt_dict=opt_dict, map_inst=map_inst, grp_inst=grp_inst)
        self._behavior = behavior
        self._look_ahead_steps = 0
        self._speed = 0.0
        self._speed_limit = 0.0
        self._direction: RoadOption | None = None
        self._incoming_direction: RoadOption | None = None
        self._incoming_waypoint: carla.Waypoint | None = None
        self._min_speed = 5
        self._sampling_resolution = 4.5

    def _update_information(self) -> None:
        """Refresh speed, speed limit and the upcoming manoeuvres from the vehicle and the plan."""
        self._speed = get_speed(self._vehicle)
        self._speed_limit = self._vehicle.get_speed_limit()
        self._local_planner.set_speed(self._speed_limit)
        self._direction = self._local_planner.target_road_option or RoadOption.LANEFOLLOW
        self._look_ahead_steps = int(self._speed_limit / 10)
        self._incoming_waypoint, self._incoming_direction = self._local_planner.get_incoming_waypoint_and_direction(
            steps=self._look_ahead_steps
        )
        if self._incoming_direction is None:
            self._incoming_direction = RoadOption.LANEFOLLOW

    def traffic_light_manager(self) -> bool:
        """Whether a red light requires stopping."""
        lights = self._world.get_actors().filter(TRAFFIC_LIGHT_FILTER)
        return self._affected_by_traffic_light(lights).traffic_light_was_found

    def _search_distance(self, divisor: float) -> float:
        """max(min_proximity_threshold, speed_limit / divisor), the radius of an obstacle search."""
        return max(self._behavior.min_proximity_threshold, self._speed_limit / divisor)

    def _tailgating(self, waypoint: carla.Waypoint, vehicle_list: list[carla.Actor]) -> None:
        """Move over a lane when a faster vehicle is close behind and the target lane is free."""
        left_change = waypoint.left_lane_marking.lane_change
        right_change = waypoint.right_lane_marking.lane_change
        left_wpt, right_wpt = waypoint.get_left_lane(), waypoint.get_right_lane()
        behind = self._vehicle_obstacle_detected(vehicle_list, self._search_distance(2), up_angle_th=180, low_angle_th=160)
        if not behind.obstacle_was_found or self._speed >= get_speed(behind.obstacle):
            return
        for side_wpt, allowed, offset in (
            (right_wpt, (carla.LaneChange.Right, carla.LaneChange.Both), 1),
            (left_wpt, (carla.LaneChange.Left,), -1),
        ):
            change = right_change if offset == 1 else left_change
            if (change in allowed and side_wpt is not None and waypoint.lane_id * side_wpt.lane_id > 0
                    and side_wpt.lane_type == carla.LaneType.Driving):
                occupied = self._vehicle_obstacle_detected(
                    vehicle_list, self._search_distance(2), up_angle_th=180, lane_offset=offset
                ).obstacle_was_found
                if not occupied:
                    end_waypoint = self._local_planner.target_waypoint
                    self._behavior.tailgate_counter = _TAILGATE_COOLDOWN_STEPS
                    self.set_destination(end_waypoint.transform.location, side_wpt.transform.location)
                return

    def collision_and_car_avoid_manager(self, waypoint: carla.Waypoint) -> ObstacleDetectionResult:
        """The vehicle blocking the way (in the target lane while changing lanes); may start an overtake."""
        vehicles = [
            v for v in self._world.get_actors().filter(VEHICLE_FILTER)
            if v.id != self._vehicle.id and v.get_location().distance(waypoint.transform.location) < _VEHICLE_SEARCH_RADIUS
        ]
        if self._direction == RoadOption.CHANGELANELEFT:
            return self._vehicle_obstacle_detected(vehicles, self._search_distance(2), up_angle_th=180, lane_offset=-1)
        if self._direction == RoadOption.CHANGELANERIGHT:
            return self._vehicle_obstacle_detected(vehicles, self._search_distance(2), up_angle_th=180, lane_offset=1)
        result = self._vehicle_obstacle_detected(vehicles, self._search_distance(3), up_angle_th=30)
        if (not result.obstacle_was_found and self._direction == RoadOption.LANEFOLLOW and not waypoint.is_junction
                and self._speed > 10 and self._behavior.tailgate_counter == 0):
            self._tailgating(waypoint, vehicles)
        return result

    def pedestrian_avoid_manager(self, waypoint: carla.Waypoint) -> ObstacleDetectionResult:
        """The walker on the way, searched as vehicles are but with wider angles."""
        walkers = [
            w for w in self._world.get_actors().filter(WALKER_FILTER)
            if w.get_location().distance(waypoint.transform.location) < _WALKER_SEARCH_RADIUS
        ]
        if self._direction == RoadOption.CHANGELANELEFT:
            return self._vehicle_obstacle_detected(walkers, self._search_distance(2), up_angle_th=90, lane_offset=-1)
        if self._direction == RoadOption.CHANGELANERIGHT:
            return self._vehicle_obstacle_detected(walkers, self._search_distance(2), up_angle_th=90, lane_offset=1)
        return self._vehicle_obstacle_detected(walkers, self._search_distance(3), up_angle_th=60)

    def car_following_manager(self, vehicle: carla.Actor, distance: float, debug: bool = False) -> carla.VehicleControl:
        """Follow `vehicle`, `distance` metres ahead: slow down under safety_time to collision, match it under twice that."""
        vehicle_speed = get_speed(vehicle)
        closing_speed = max(1.0, (self._speed - vehicle_speed) / 3.6)
        ttc = distance / closing_speed if closing_speed != 0 else distance / np.nextafter(0.0, 1.0)
        limit = self._speed_limit - self._behavior.speed_lim_dist
        if self._behavior.safety_time > ttc > 0.0:
            target_speed = min(positive(vehicle_speed - self._behavior.speed_decrease), self._behavior.max_speed, limit)
        elif 2 * self._behavior.safety_time > ttc >= self._behavior.safety_time:
            target_speed = min(max(self._min_speed, vehicle_speed), self._behavior.max_speed, limit)
        else:
            target_speed = min(self._behavior.max_speed, limit)
        self._local_planner.set_speed(target_speed)
        return self._local_planner.run_step(debug=debug)

    def run_step(self, debug: bool = False) -> carla.VehicleControl:
        """One step of the behaviour priorities listed in the module docstring."""
        self._update_information()
        if self._behavior.tailgate_counter > 0:
            self._behavior.tailgate_counter -= 1
        ego_waypoint = self._map.get_waypoint(self._vehicle.get_location())

        if self.traffic_light_manager():
            return self.emergency_stop()

        walker = self.pedestrian_avoid_manager(ego_waypoint)
        if walker.obstacle_was_found and self._gap(walker.obstacle, walker.distance) < self._behavior.braking_distance:
            return self.emergency_stop()

        leader = self.collision_and_car_avoid_manager(ego_waypoint)
        if leader.obstacle_was_found:
            gap = self._gap(leader.obstacle, leader.distance)
            if gap < self._behavior.braking_distance:
                return self.emergency_stop()
            return self.car_following_manager(leader.obstacle, gap, debug=debug)

        turning = (
            self._incoming_waypoint is not None
            and self._incoming_waypoint.is_junction
            and self._incoming_direction in (RoadOption.LEFT, RoadOption.RIGHT)
        )
        if turning:
            target_speed = min(self._behavior.max_speed, self._speed_limit - 5)
        else:
            target_speed = min(self._behavior.max_speed, self._speed_limit - self._behavior.speed_lim_dist)
        self._local_planner.set_speed(target_speed)
        return self._local_planner.run_step(debug=debug)

    def _gap(self, other: carla.Actor, centre_distance: float) -> float:
        """Approximate bumper-to-bumper distance: centre distance minus both boxes' largest half-extents."""
        other_extent, own_extent = other.bounding_box.extent, self._vehicle.bounding_box.extent
        return centre_distance - max(other_extent.x, other_extent.y) - max(own_extent.x, own_extent.y)

    def emergency_stop(self) -> carla.VehicleControl:
        """A control with no throttle and max_brake."""
        control = carla.VehicleControl()
        control.throttle = 0.0
        control.brake = self._max_brake
        control.hand_brake = False
        return control
