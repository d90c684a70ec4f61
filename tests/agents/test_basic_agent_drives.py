"""The agents drive real vehicles in recon_carla_bridge's server-less Town01 world."""
from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import dataclass, field

import carla
import pytest

from agents.navigation.basic_agent import BasicAgent
from agents.navigation.behavior_agent import BehaviorAgent
from agents.navigation.constant_velocity_agent import ConstantVelocityAgent
from agents.navigation.controller import VehiclePIDController
from agents.navigation.local_planner import LocalPlanner, RoadOption
from agents.tools.misc import get_speed

DT = 0.05
EGO = "vehicle.lincoln.mkz_2017"


@dataclass
class Drive:
    """What happened while an agent drove."""

    collisions: list[int] = field(default_factory=list)
    speeds_kmh: list[float] = field(default_factory=list)
    steps: int = 0


def spawn_at(world: carla.World, location: carla.Location, blueprint: str = EGO) -> carla.Actor:
    """Spawn a vehicle at the world's spawn point nearest `location`."""
    spawn = min(world.get_map().get_spawn_points(), key=lambda t: t.location.distance(location))
    return world.spawn_actor(world.get_blueprint_library().find(blueprint), spawn)


def park_ahead(world: carla.World, vehicle: carla.Actor, distance: float) -> carla.Actor:
    """Spawn a second vehicle `distance` metres ahead in the ego's lane."""
    transform = world.get_map().get_waypoint(vehicle.get_location()).next(distance)[0].transform
    transform.location.z += 0.3
    return world.spawn_actor(world.get_blueprint_library().find("vehicle.tesla.model3"), transform)


def collision_log(world: carla.World, vehicle: carla.Actor, drive: Drive) -> carla.Actor:
    """Attach a collision sensor that records the other actor's id into `drive.collisions`."""
    blueprint = world.get_blueprint_library().find("sensor.other.collision")
    sensor = world.spawn_actor(blueprint, carla.Transform(), attach_to=vehicle)
    sensor.listen(lambda event: drive.collisions.append(event.other_actor.id))
    return sensor


def run(world: carla.World, vehicle: carla.Actor, step, max_steps: int, until=lambda: False) -> Drive:
    """Apply `step()` controls for up to `max_steps` ticks, or until `until()` holds."""
    drive = Drive()
    collision_log(world, vehicle, drive)
    world.tick()
    while drive.steps < max_steps and not until():
        vehicle.apply_control(step())
        world.tick()
        drive.steps += 1
        drive.speeds_kmh.append(get_speed(vehicle))
    return drive


def near_driving_lane(town_map: carla.Map, vehicle: carla.Actor, margin: float = 1.0) -> bool:
    """Whether the vehicle's centre lies on a driving lane, or at most `margin` metres beyond its edge.

    The margin admits CARLA's controller cutting the inner corner of tight junction turns.
    """
    waypoint = town_map.get_waypoint(vehicle.get_location())
    return waypoint.transform.location.distance(vehicle.get_location()) <= waypoint.lane_width / 2 + margin


def lateral_error(vehicle: carla.Actor, route: list[carla.Location]) -> float:
    """Distance in the ground plane from the vehicle to the route's polyline."""
    here = vehicle.get_location()
    best = math.inf
    for a, b in itertools.pairwise(route):
        ab_x, ab_y = b.x - a.x, b.y - a.y
        length2 = ab_x * ab_x + ab_y * ab_y
        t = 0.0 if length2 == 0.0 else max(0.0, min(1.0, ((here.x - a.x) * ab_x + (here.y - a.y) * ab_y) / length2))
        best = min(best, math.hypot(here.x - (a.x + t * ab_x), here.y - (a.y + t * ab_y)))
    return best


def test_basic_agent_reaches_a_destination_300_m_away(town01_world: carla.World, town01_trip) -> None:
    origin, destination = town01_trip
    vehicle = spawn_at(town01_world, origin)
    agent = BasicAgent(vehicle, target_speed=30)
    agent.set_destination(destination)
    route = [waypoint.transform.location for waypoint, _ in agent.get_local_planner().get_plan()]
    assert sum(a.distance(b) for a, b in itertools.pairwise(route)) > 300.0
    options = {option for _, option in agent.get_local_planner().get_plan()}
    assert {RoadOption.LEFT, RoadOption.RIGHT} <= options

    errors: list[float] = []

    def step() -> carla.VehicleControl:
        errors.append(lateral_error(vehicle, route))
        assert near_driving_lane(town01_world.get_map(), vehicle), f"off the road at {vehicle.get_location()}"
        return agent.run_step()

    drive = run(town01_world, vehicle, step, max_steps=1500, until=agent.done)
    assert agent.done(), f"not there after {drive.steps} steps: {vehicle.get_location()}"
    assert drive.collisions == []
    assert vehicle.get_location().distance(destination) < 2.0
    # CARLA's controller aims 3 m + 0.5 s ahead, so it cuts the corners of 90-degree turns.
    assert statistics.median(errors) < 0.3 and max(errors) < 3.5
    cruise = statistics.median(drive.speeds_kmh)
    assert 27.0 < cruise < 33.0, f"cruised at {cruise:.1f} km/h for a 30 km/h target"
    assert drive.steps * DT < 330.0 / (25.0 / 3.6)


def test_basic_agent_stops_behind_a_parked_car(town01_world: carla.World, town01_trip) -> None:
    vehicle = spawn_at(town01_world, town01_trip[0])
    parked = park_ahead(town01_world, vehicle, 50.0)
    agent = BasicAgent(vehicle, target_speed=30)
    agent.set_destination(town01_trip[1])
    drive = run(town01_world, vehicle, agent.run_step, max_steps=300)
    assert drive.collisions == []
    assert max(drive.speeds_kmh) > 25.0
    assert vehicle.get_velocity().length() < 0.1
    gap = vehicle.get_location().distance(parked.get_location()) - vehicle.bounding_box.extent.x - parked.bounding_box.extent.x
    assert 1.0 < gap < 10.0, f"stopped {gap:.1f} m behind"


def test_basic_agent_ignoring_vehicles_drives_into_the_parked_car(town01_world: carla.World, town01_trip) -> None:
    vehicle = spawn_at(town01_world, town01_trip[0])
    parked = park_ahead(town01_world, vehicle, 50.0)
    agent = BasicAgent(vehicle, target_speed=30, opt_dict={"ignore_vehicles": True})
    agent.set_destination(town01_trip[1])
    drive = run(town01_world, vehicle, agent.run_step, max_steps=300)
    assert parked.id in drive.collisions


def test_scenario_runner_style_tuple_destination(town01_world: carla.World, town01_trip) -> None:
    origin, destination = town01_trip
    vehicle = spawn_at(town01_world, origin)
    agent = BasicAgent(vehicle)
    agent.set_destination((destination.x, destination.y, destination.z))
    last = agent.get_local_planner().get_plan()[-1][0].transform.location
    assert last.distance(destination) < 2.0


def test_behavior_agent_drives_the_route_under_the_speed_limit(town01_world: carla.World, town01_trip) -> None:
    origin, destination = town01_trip
    vehicle = spawn_at(town01_world, origin)
    agent = BehaviorAgent(vehicle, behavior="normal")
    agent.set_destination(destination)
    drive = run(town01_world, vehicle, agent.run_step, max_steps=2000, until=agent.done)
    assert agent.done() and drive.collisions == []
    limit = vehicle.get_speed_limit()
    assert max(drive.speeds_kmh) <= limit, "normal drives 3 km/h under the limit"
    assert statistics.median(drive.speeds_kmh) > limit - 8.0
    with pytest.raises(ValueError, match="unknown behavior"):
        BehaviorAgent(vehicle, behavior="reckless")


def test_behavior_agent_follows_a_slower_leader(town01_world: carla.World, town01_trip) -> None:
    vehicle = spawn_at(town01_world, town01_trip[0])
    leader = park_ahead(town01_world, vehicle, 25.0)
    leader_agent = BasicAgent(leader, target_speed=12, opt_dict={"ignore_vehicles": True})
    leader_agent.set_destination(town01_trip[1])
    agent = BehaviorAgent(vehicle, behavior="cautious")
    agent.set_destination(town01_trip[1])

    def step() -> carla.VehicleControl:
        leader.apply_control(leader_agent.run_step())
        return agent.run_step()

    drive = run(town01_world, vehicle, step, max_steps=600)
    assert drive.collisions == []
    gap = vehicle.get_location().distance(leader.get_location())
    assert gap < 30.0, "kept up with the leader"
    assert statistics.median(drive.speeds_kmh[-200:]) < 16.0, "matched the leader's pace"


def test_constant_velocity_agent_holds_its_speed_and_stops_for_a_car(town01_world: carla.World, town01_trip) -> None:
    origin, destination = town01_trip
    vehicle = spawn_at(town01_world, origin)
    parked = park_ahead(town01_world, vehicle, 80.0)
    agent = ConstantVelocityAgent(vehicle, target_speed=36.0, opt_dict={"restart_time": 1.0})
    agent.set_destination(destination)
    drive = run(town01_world, vehicle, agent.run_step, max_steps=400)
    assert drive.speeds_kmh[5] == pytest.approx(36.0, abs=0.5), "constant velocity from the first ticks"
    assert drive.collisions == []
    assert vehicle.get_velocity().length() < 0.1
    assert vehicle.get_location().distance(parked.get_location()) > 5.0
    agent.destroy_sensor()
    assert agent._collision_sensor is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_local_planner_roams_on_the_road(town01_world: carla.World, town01_trip, seed: int) -> None:
    random.seed(seed)  # the planner picks junction exits with the `random` module, as CARLA's does
    vehicle = spawn_at(town01_world, town01_trip[0])
    planner = LocalPlanner(vehicle, opt_dict={"target_speed": 25.0, "sampling_radius": 2.0})
    town_map = town01_world.get_map()
    errors: list[float] = []

    def step() -> carla.VehicleControl:
        assert near_driving_lane(town_map, vehicle), f"off the road at {vehicle.get_location()}"
        errors.append(town_map.get_waypoint(vehicle.get_location()).transform.location.distance(vehicle.get_location()))
        return planner.run_step()

    drive = run(town01_world, vehicle, step, max_steps=600)
    assert not planner.done() and len(planner.get_plan()) >= 50, "roaming keeps the queue filled"
    assert drive.collisions == [] and statistics.median(errors) < 0.3
    assert statistics.median(drive.speeds_kmh) == pytest.approx(25.0, abs=2.5)


def test_pid_controller_reaches_and_holds_a_target_speed(town01_world: carla.World, town01_trip) -> None:
    vehicle = spawn_at(town01_world, town01_trip[0])
    controller = VehiclePIDController(
        vehicle, {"K_P": 1.95, "K_I": 0.05, "K_D": 0.2, "dt": DT}, {"K_P": 1.0, "K_I": 0.05, "K_D": 0.0, "dt": DT}
    )
    target = town01_world.get_map().get_waypoint(vehicle.get_location()).next(100.0)[0]
    drive = run(town01_world, vehicle, lambda: controller.run_step(40.0, target), max_steps=200)
    assert statistics.mean(drive.speeds_kmh[-40:]) == pytest.approx(40.0, abs=2.0)
    heading = math.radians(vehicle.get_transform().rotation.yaw)
    to_target = target.transform.location - vehicle.get_location()
    assert math.cos(heading) * to_target.x + math.sin(heading) * to_target.y > 0.95 * math.hypot(to_target.x, to_target.y)


def test_constant_velocity_agent_stops_holding_speed_after_a_collision(town01_world: carla.World, town01_trip) -> None:
    vehicle = spawn_at(town01_world, town01_trip[0])
    parked = park_ahead(town01_world, vehicle, 30.0)
    agent = ConstantVelocityAgent(vehicle, target_speed=30.0, opt_dict={"ignore_vehicles": True, "restart_time": 2.0})
    agent.set_destination(town01_trip[1])
    states: list[bool] = []

    def step() -> carla.VehicleControl:
        states.append(agent.is_constant_velocity_active)
        return agent.run_step()

    drive = run(town01_world, vehicle, step, max_steps=200)
    assert parked.id in drive.collisions
    off = states.index(False)
    assert True in states[off:], "the constant velocity came back after restart_time"
    back = states.index(True, off)
    assert (back - off) * DT == pytest.approx(2.0, abs=0.15)
    agent.destroy_sensor()
