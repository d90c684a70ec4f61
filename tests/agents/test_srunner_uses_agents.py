"""ScenarioRunner 0.9.11's own code runs on our `agents` package (installed srunner, not a copy)."""
from __future__ import annotations

import importlib
import itertools
import re
import sysconfig
from pathlib import Path

import carla
import pytest

from agents.navigation.global_route_planner import GlobalRoutePlanner
from agents.navigation.global_route_planner_dao import GlobalRoutePlannerDAO
from agents.navigation.local_planner import RoadOption
from recon_carla_bridge.compat_imports import SRUNNER_PACKAGES, install_srunner_alias

install_srunner_alias()

SITE = Path(sysconfig.get_paths()["purelib"])
AGENTS_IMPORT = re.compile(r"^\s*(?:from|import)\s+agents\.", re.MULTILINE)


def srunner_modules_importing_agents() -> list[str]:
    """Every installed srunner module with an `agents.` import, as `srunner.<package>.<module>`."""
    modules = []
    for package in SRUNNER_PACKAGES:
        for path in sorted((SITE / package).rglob("*.py")):
            if AGENTS_IMPORT.search(path.read_text(encoding="utf-8", errors="replace")):
                modules.append("srunner." + ".".join(path.relative_to(SITE).with_suffix("").parts))
    return modules


def test_every_srunner_module_that_imports_agents_imports() -> None:
    modules = srunner_modules_importing_agents()
    assert len(modules) >= 12, modules
    for name in modules:
        importlib.import_module(name)


def test_srunner_route_distance_through_the_0_9_11_planner(town01: carla.Map, town01_trip) -> None:
    from srunner.scenariomanager.scenarioatomics.atomic_behaviors import (
        calculate_distance,
    )

    origin, destination = town01_trip
    planner = GlobalRoutePlanner(GlobalRoutePlannerDAO(town01, 0.5))
    planner.setup()
    along_route = calculate_distance(origin, destination, planner)
    assert along_route > 1.2 * origin.distance(destination)
    assert 300.0 < along_route < 400.0


def test_srunner_interpolate_trajectory_on_the_world(town01_world: carla.World, town01_trip) -> None:
    from srunner.tools.route_manipulation import interpolate_trajectory

    origin, destination = town01_trip
    gps_route, route = interpolate_trajectory(town01_world, [origin, destination], hop_resolution=1.0)
    assert len(gps_route) == len(route) > 300
    assert all(isinstance(t, carla.Transform) and isinstance(o, RoadOption) for t, o in route)
    gaps = [a.location.distance(b.location) for (a, _), (b, _) in itertools.pairwise(route)]
    assert max(gaps) < 2.0
    assert {o for _, o in route} >= {RoadOption.LANEFOLLOW, RoadOption.LEFT, RoadOption.RIGHT}


@pytest.fixture
def data_provider(town01_world: carla.World):
    """srunner's CarlaDataProvider bound to the world for one test, cleaned up afterwards."""
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

    CarlaDataProvider.set_world(town01_world)
    yield CarlaDataProvider
    CarlaDataProvider.cleanup()


def test_srunner_npc_vehicle_control_drives_its_waypoints(town01_world: carla.World, data_provider) -> None:
    from srunner.scenariomanager.actorcontrols.npc_vehicle_control import (
        NpcVehicleControl,
    )

    start = data_provider.get_map().get_spawn_points()[0]
    vehicle = town01_world.spawn_actor(town01_world.get_blueprint_library().find("vehicle.audi.a2"), start)
    lane = town01_world.get_map().get_waypoint(start.location)
    goal = lane.next(60.0)[0].transform
    control = NpcVehicleControl(vehicle)
    control.update_target_speed(6.0)
    control.update_waypoints([lane.next(30.0)[0].transform, goal])
    control.update_offset(0.5)
    town01_world.tick()
    for _ in range(400):
        control.run_step()
        town01_world.tick()
        if control.check_reached_waypoint_goal():
            break
    assert control.check_reached_waypoint_goal()
    assert vehicle.get_location().distance(goal.location) < 1.5
    assert control._local_planner._vehicle_controller._lat_controller._offset == 0.5
    control.reset()
    assert control._local_planner is None


def test_srunner_basic_agent_behavior_takes_a_tuple_destination(town01_world: carla.World, data_provider, town01_trip) -> None:
    from srunner.scenariomanager.scenarioatomics.atomic_behaviors import (
        BasicAgentBehavior,
    )

    spawn = min(data_provider.get_map().get_spawn_points(), key=lambda t: t.location.distance(town01_trip[0]))
    vehicle = town01_world.spawn_actor(town01_world.get_blueprint_library().find("vehicle.audi.a2"), spawn)
    behavior = BasicAgentBehavior(vehicle, town01_trip[1])
    plan = behavior._agent.get_local_planner().get_plan()
    assert plan[-1][0].transform.location.distance(town01_trip[1]) < 2.0
    control = behavior._agent.run_step()
    assert control.throttle > 0.0 and control.brake == 0.0
