"""Built-in ego drivers for ScenarioRunner runs, written against srunner's AutonomousAgent contract."""
from __future__ import annotations

from typing import Any

import carla

from recon_carla_bridge.compat_imports import install_srunner_alias

install_srunner_alias()

from srunner.autoagents.autonomous_agent import AutonomousAgent  # noqa: E402
from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402

EGO_ROLE_NAMES = ("hero", "ego_vehicle")
DEFAULT_DRIVE_DISTANCE_M = 1000.0  # destination down the lane when no route is given


def find_ego_vehicle(world: carla.World) -> carla.Vehicle:
    """The vehicle whose role_name is 'hero' (or 'ego_vehicle'); RuntimeError when there is none."""
    for role in EGO_ROLE_NAMES:
        for actor in world.get_actors().filter("vehicle.*"):
            if actor.attributes.get("role_name") == role:
                return actor
    raise RuntimeError("no ego vehicle (role_name 'hero' or 'ego_vehicle') in the world")


def _down_the_lane(wmap: carla.Map, start: carla.Location, distance: float, step: float) -> list[carla.Waypoint]:
    """Waypoints every `step` m down the lane from `start`, going straight through junctions, never
    changing lanes."""
    waypoint = wmap.get_waypoint(start)
    waypoints = [waypoint]
    travelled = 0.0
    while travelled < distance:
        options = waypoint.next(step)
        if not options:
            break
        heading = waypoint.transform.rotation.yaw
        waypoint = min(options, key=lambda w: abs((w.transform.rotation.yaw - heading + 180.0) % 360.0 - 180.0))
        waypoints.append(waypoint)
        travelled += step
    return waypoints


def lane_waypoints(wmap: carla.Map, start: carla.Location, distance: float, step: float = 1.0) -> list[carla.Waypoint]:
    """Waypoints every `step` m for `distance` m down the lane from `start`, straight through junctions (no GPS
    conversion: `lane_route`'s reads the whole OpenDRIVE, 1.7 s on Town04)."""
    return _down_the_lane(wmap, start, distance, step)


def lane_destination(wmap: carla.Map, start: carla.Location, distance: float) -> carla.Location:
    """A point `distance` metres down the lane from `start`, going straight through junctions."""
    return _down_the_lane(wmap, start, distance, 5.0)[-1].transform.location


def lane_route(world: carla.World, start: carla.Location, distance: float, step: float = 1.0) -> tuple[list, list]:
    """(gps_route, route) down the ego's own lane, in the format of srunner's `interpolate_trajectory`.

    Used as the ego's plan when a scenario gives none: a plan routed between two points (the global
    route planner) may change lanes to reach its end, which takes the ego out of the lane the scenario
    was written for (CutIn's car cuts in next to the ego's lane).
    """
    from agents.navigation.local_planner import RoadOption
    from srunner.tools.route_manipulation import _get_latlon_ref, location_route_to_gps

    route = [(w.transform, RoadOption.LANEFOLLOW) for w in _down_the_lane(world.get_map(), start, distance, step)]
    lat_ref, lon_ref = _get_latlon_ref(world)
    return location_route_to_gps(route, lat_ref, lon_ref), route


class BasicAgentEgo(AutonomousAgent):
    """Drives the ego with CARLA's BasicAgent: along the global plan when one is set, else down its lane.

    No sensors: BasicAgent reads the world directly (as it does in CARLA).
    """

    def setup(self, path_to_conf_file: str) -> None:
        """Nothing to configure; the BasicAgent is built on the first step, when the ego exists."""
        self._basic_agent: Any = None
        self.target_speed_kmh = 30.0

    def sensors(self) -> list:
        """BasicAgent needs no sensors."""
        return []

    def _build(self) -> None:
        from agents.navigation.basic_agent import BasicAgent

        world = CarlaDataProvider.get_world()
        vehicle = find_ego_vehicle(world)
        self._basic_agent = BasicAgent(vehicle, target_speed=self.target_speed_kmh)
        plan = getattr(self, "_global_plan_world_coord", None)
        if plan:
            wmap = world.get_map()
            route = [(wmap.get_waypoint(transform.location), option) for transform, option in plan]
            self._basic_agent.set_global_plan(route, stop_waypoint_creation=True, clean_queue=True)
        else:
            _, route = lane_route(world, vehicle.get_location(), DEFAULT_DRIVE_DISTANCE_M)
            wmap = world.get_map()
            self._basic_agent.set_global_plan([(wmap.get_waypoint(t.location), option) for t, option in route],
                                              stop_waypoint_creation=True, clean_queue=True)

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """One BasicAgent step."""
        if self._basic_agent is None:
            self._build()
        return self._basic_agent.run_step()

    def __call__(self) -> carla.VehicleControl:
        """Like srunner's, without printing the wall-clock line every tick."""
        from srunner.scenariomanager.timer import GameTime

        control = self.run_step(self.sensor_interface.get_data(), GameTime.get_time())
        control.manual_gear_shift = False
        return control
