"""LocalPlanner: follows a queue of (waypoint, RoadOption) with a VehiclePIDController.

The interface of CARLA 0.9.16's `agents.navigation.local_planner` (class, methods, opt_dict keys,
the `_waypoints_queue` deque and `_vehicle_controller` that ScenarioRunner 0.9.11 reaches into),
with RoadOption re-exported from here as CARLA does. Without a global plan the planner roams,
choosing a random branch at each fork (with the `random` module, as CARLA does: seed it for
repeatable runs). Two roaming fixes: every branch is equally likely (CARLA picks the first of
equally labelled branches, so it never varies at most junctions), and branches are labelled by
the heading where they leave the junction (CARLA looks 3 m in and calls most turns STRAIGHT).
"""
from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import carla

from agents.navigation.controller import VehiclePIDController
from agents.navigation.road_option import RoadOption
from agents.navigation.settings import LocalPlannerSettings
from agents.tools.misc import draw_waypoints, get_speed

__all__ = ["LocalPlanner", "RoadOption"]

PlanItem = tuple[carla.Waypoint, RoadOption]
"""One element of a plan: a waypoint and the manoeuvre that reaches it."""

_QUEUE_CAPACITY = 10000
_LAST_WAYPOINT_REACHED_DISTANCE = 1.0
"""The final waypoint is only dropped once the vehicle is this close (metres)."""


class LocalPlanner:
    """Follow a trajectory of waypoints, generated on the fly (roaming) or given as a global plan.

    The vehicle's low-level control is a VehiclePIDController; the target speed is in km/h.
    """

    def __init__(
        self,
        vehicle: carla.Actor,
        opt_dict: Mapping[str, Any] | LocalPlannerSettings | None = None,
        map_inst: carla.Map | None = None,
    ) -> None:
        """Set up the planner for `vehicle`.

        Args:
            vehicle: the carla.Vehicle to drive.
            opt_dict: CARLA's option dict (keys: dt, target_speed, sampling_radius,
                lateral_control_dict, longitudinal_control_dict, max_throttle, max_brake,
                max_steering, offset, base_min_distance, distance_ratio, follow_speed_limits) or a
                LocalPlannerSettings. Unknown keys raise UnknownOptionError.
            map_inst: the carla.Map, to avoid asking the world for it.
        """
        settings = (
            opt_dict if isinstance(opt_dict, LocalPlannerSettings) else LocalPlannerSettings.from_opt_dict(opt_dict)
        )
        self.settings = settings
        self._vehicle: carla.Actor | None = vehicle
        self._world = vehicle.get_world()
        self._map = map_inst if isinstance(map_inst, carla.Map) else self._world.get_map()

        self._vehicle_controller: VehiclePIDController | None = None
        self.target_waypoint: carla.Waypoint | None = None
        self.target_road_option: RoadOption | None = None
        self._waypoints_queue: deque[PlanItem] = deque(maxlen=_QUEUE_CAPACITY)
        self._min_waypoint_queue_length = 100
        self._stop_waypoint_creation = False

        # Running copies of the settings, under CARLA's attribute names (callers adjust them).
        self._dt = settings.dt
        self._target_speed = settings.target_speed
        self._sampling_radius = settings.sampling_radius
        self._args_lateral_dict = settings.lateral_control.to_carla()
        self._args_longitudinal_dict = settings.longitudinal_control.to_carla()
        self._max_throt = settings.max_throttle
        self._max_brake = settings.max_brake
        self._max_steer = settings.max_steering
        self._offset = settings.offset
        self._base_min_distance = settings.base_min_distance
        self._distance_ratio = settings.distance_ratio
        self._follow_speed_limits = settings.follow_speed_limits
        self._min_distance = settings.base_min_distance

        self._init_controller()

    def reset_vehicle(self) -> None:
        """Forget the vehicle (ScenarioRunner calls this when it stops controlling an actor)."""
        self._vehicle = None
        self._world = None
        self._map = None

    def _init_controller(self) -> None:
        """Build the PID controller and seed the queue with the vehicle's current waypoint."""
        self._vehicle_controller = VehiclePIDController(
            self._vehicle,
            args_lateral=self.settings.lateral_control,
            args_longitudinal=self.settings.longitudinal_control,
            offset=self._offset,
            max_throttle=self._max_throt,
            max_brake=self._max_brake,
            max_steering=self._max_steer,
        )
        current_waypoint = self._map.get_waypoint(self._vehicle.get_location())
        self.target_waypoint, self.target_road_option = current_waypoint, RoadOption.LANEFOLLOW
        self._waypoints_queue.append((self.target_waypoint, self.target_road_option))

    def set_speed(self, speed: float) -> None:
        """Set the target speed in km/h (ignored while following speed limits)."""
        if self._follow_speed_limits:
            print("WARNING: The max speed is currently set to follow the speed limits. Use 'follow_speed_limits' to deactivate this")
        self._target_speed = speed

    def follow_speed_limits(self, value: bool = True) -> None:
        """Make the target speed track the vehicle's current speed limit."""
        self._follow_speed_limits = value

    def _compute_next_waypoints(self, k: int = 1) -> None:
        """Append up to `k` roaming waypoints, picking a random branch at forks."""
        k = min(k, self._waypoints_queue.maxlen - len(self._waypoints_queue))
        for _ in range(k):
            last_waypoint = self._waypoints_queue[-1][0]
            next_waypoints = list(last_waypoint.next(self._sampling_radius))
            if not next_waypoints:
                break
            if len(next_waypoints) == 1:
                next_waypoint, road_option = next_waypoints[0], RoadOption.LANEFOLLOW
            else:
                # A uniformly random branch (CARLA draws an option, then takes the first branch
                # with it, so two branches labelled alike always resolve to the first).
                options = _retrieve_options(next_waypoints, last_waypoint)
                choice = random.randrange(len(next_waypoints))
                next_waypoint, road_option = next_waypoints[choice], options[choice]
            self._waypoints_queue.append((next_waypoint, road_option))

    def set_global_plan(
        self, current_plan: Iterable[PlanItem], stop_waypoint_creation: bool = True, clean_queue: bool = True
    ) -> None:
        """Queue a plan of (carla.Waypoint, RoadOption).

        Args:
            current_plan: the waypoints to follow, in order.
            stop_waypoint_creation: stop adding random roaming waypoints after the plan.
            clean_queue: drop the current queue first (else the plan is appended to it).
        """
        plan = list(current_plan)
        if clean_queue:
            self._waypoints_queue.clear()
        needed = len(plan) + len(self._waypoints_queue)
        if needed > self._waypoints_queue.maxlen:
            self._waypoints_queue = deque(self._waypoints_queue, maxlen=needed)
        self._waypoints_queue.extend(plan)
        self._stop_waypoint_creation = stop_waypoint_creation

    def set_offset(self, offset: float) -> None:
        """Drive `offset` metres to the right of the lane centre (left when negative)."""
        self._offset = offset
        self._vehicle_controller.set_offset(offset)

    def run_step(self, debug: bool = False) -> carla.VehicleControl:
        """One step: drop passed waypoints and steer/accelerate toward the next one.

        With an empty queue the control is a full brake.
        """
        if self._follow_speed_limits:
            self._target_speed = self._vehicle.get_speed_limit()

        if not self._stop_waypoint_creation and len(self._waypoints_queue) < self._min_waypoint_queue_length:
            self._compute_next_waypoints(k=self._min_waypoint_queue_length)

        self._purge_passed_waypoints()

        if not self._waypoints_queue:
            control = carla.VehicleControl()
            control.steer = 0.0
            control.throttle = 0.0
            control.brake = 1.0
            control.hand_brake = False
            control.manual_gear_shift = False
        else:
            self.target_waypoint, self.target_road_option = self._waypoints_queue[0]
            control = self._vehicle_controller.run_step(self._target_speed, self.target_waypoint)

        if debug and self.target_waypoint is not None:
            draw_waypoints(self._vehicle.get_world(), [self.target_waypoint], 1.0)
        return control

    def _purge_passed_waypoints(self) -> None:
        """Pop the queue's head while the vehicle is within the speed-dependent reach distance of it."""
        vehicle_location = self._vehicle.get_location()
        speed_ms = get_speed(self._vehicle) / 3.6
        self._min_distance = self._base_min_distance + self._distance_ratio * speed_ms
        while self._waypoints_queue:
            reach = _LAST_WAYPOINT_REACHED_DISTANCE if len(self._waypoints_queue) == 1 else self._min_distance
            if vehicle_location.distance(self._waypoints_queue[0][0].transform.location) < reach:
                self._waypoints_queue.popleft()
            else:
                break

    def get_incoming_waypoint_and_direction(self, steps: int = 3) -> tuple[carla.Waypoint | None, RoadOption]:
        """The (waypoint, RoadOption) `steps` ahead in the queue, else the last one, else (None, VOID)."""
        if len(self._waypoints_queue) > steps:
            return self._waypoints_queue[steps]
        if self._waypoints_queue:
            return self._waypoints_queue[-1]
        return None, RoadOption.VOID

    def get_plan(self) -> deque[PlanItem]:
        """The current queue of (waypoint, RoadOption), nearest first."""
        return self._waypoints_queue

    def done(self) -> bool:
        """True once every queued waypoint has been reached."""
        return len(self._waypoints_queue) == 0


def _retrieve_options(list_waypoints: list[carla.Waypoint], current_waypoint: carla.Waypoint) -> list[RoadOption]:
    """RoadOption of each candidate branch, judged where the branch leaves the junction.

    CARLA judges 3 m into the branch, where a 90-degree turn has barely begun, so it labels
    most turns STRAIGHT.
    """
    return [_compute_connection(current_waypoint, _junction_exit(branch)) for branch in list_waypoints]


def _junction_exit(waypoint: carla.Waypoint, step: float = 2.0, max_distance: float = 100.0) -> carla.Waypoint:
    """The first waypoint past the junction that `waypoint` is in (itself when not in one)."""
    travelled = 0.0
    while waypoint.is_junction and travelled < max_distance:
        ahead = waypoint.next(step)
        if not ahead:
            break
        waypoint = ahead[0]
        travelled += step
    return waypoint


def _compute_connection(
    current_waypoint: carla.Waypoint, next_waypoint: carla.Waypoint, threshold: float = 35
) -> RoadOption:
    """STRAIGHT, LEFT or RIGHT from the signed heading change between two waypoints (threshold in degrees).

    CARLA folds the change modulo 180 degrees, which calls a 90-degree-or-sharper left turn RIGHT
    and a U-turn STRAIGHT; here the sign of the change decides (positive turns right in CARLA's frame).
    """
    change = (next_waypoint.transform.rotation.yaw - current_waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0
    if abs(change) < threshold:
        return RoadOption.STRAIGHT
    return RoadOption.RIGHT if change > 0 else RoadOption.LEFT
