"""Friction triggers as CARLA has them: extents in centimetres, wheel friction capping tyre force at
friction × load, and srunner's OpenSCENARIO default trigger (far off Town01) changing nothing there."""
from __future__ import annotations

import math
from collections.abc import Callable

import carla
import pytest

from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.world.kinematics import GRAVITY

DT = 0.05
LAUNCH_SPEED = 15.0  # m/s


def _friction_trigger(world: carla.World, location: carla.Location, friction: float, extent_cm: float) -> carla.Actor:
    blueprint = world.get_blueprint_library().find("static.trigger.friction")
    blueprint.set_attribute("friction", str(friction))
    for axis in "xyz":
        blueprint.set_attribute(f"extent_{axis}", str(extent_cm))
    return world.spawn_actor(blueprint, carla.Transform(location))


def _braking_distance(world: carla.World, vehicle: carla.Vehicle) -> float:
    """Metres from LAUNCH_SPEED to rest under full brake."""
    yaw = math.radians(vehicle.get_transform().rotation.yaw)
    vehicle.set_target_velocity(carla.Vector3D(LAUNCH_SPEED * math.cos(yaw), LAUNCH_SPEED * math.sin(yaw), 0.0))
    vehicle.apply_control(carla.VehicleControl())
    world.tick()
    start = vehicle.get_location()
    vehicle.apply_control(carla.VehicleControl(brake=1.0))
    for _ in range(int(20.0 / DT)):
        world.tick()
        velocity = vehicle.get_velocity()
        if math.hypot(velocity.x, velocity.y) < 1e-3:
            break
    return vehicle.get_location().distance(start)


def _town01_vehicle(world: carla.World) -> carla.Vehicle:
    """A vehicle on Town01's long straight along y (x ~ 392), heading +y."""
    waypoint = world.get_map().get_waypoint(carla.Location(392.5, 80.0, 0.0))
    transform = waypoint.transform
    transform.location.z += 0.3
    return world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"), transform)


def test_srunner_default_friction_trigger_leaves_town01_braking_unchanged(open_town_world: Callable) -> None:
    """srunner's ChangeRoadFriction (run for every .xosc, frictionScaleFactor 1.0) spawns its trigger at
    (-10000, -10000) m with extent 1e6 cm: a 10 km half size that ends at x = y = 0, off Town01's roads."""
    install_srunner_alias()
    from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
    from srunner.scenariomanager.scenarioatomics.atomic_behaviors import ChangeRoadFriction

    reference_world = open_town_world("Town01")
    reference = _braking_distance(reference_world, _town01_vehicle(reference_world))

    world = open_town_world("Town01")
    CarlaDataProvider.set_world(world)
    try:
        behaviour = ChangeRoadFriction(1.0)
        behaviour.initialise()
        behaviour.update()
    finally:
        CarlaDataProvider.cleanup()
    trigger = world.get_actors().filter("static.trigger.friction")[0]
    assert trigger.bounding_box.extent.x == pytest.approx(10000.0)  # metres: the cm attribute / 100
    assert _braking_distance(world, _town01_vehicle(world)) == pytest.approx(reference, abs=1e-6)
    assert reference < LAUNCH_SPEED**2 / (2 * 7.0), "full brake stops the car at about its 8 m/s² limit"


def test_friction_caps_tyre_force_at_friction_times_load(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    """Inside a trigger of friction 0.3 the car brakes at ~0.3 g; beside it at its own brake limit."""
    dry = _braking_distance(straight_world, spawn_vehicle(straight_world, 10.0, 1.75))
    _friction_trigger(straight_world, carla.Location(200.0, 1.75, 0.0), 0.3, extent_cm=10000.0)  # 100 m half size
    wet = _braking_distance(straight_world, spawn_vehicle(straight_world, 110.0, 1.75))
    assert wet == pytest.approx(LAUNCH_SPEED**2 / (2 * 0.3 * GRAVITY), rel=0.12)  # rolling resistance, drag
    assert dry < 0.4 * wet


def test_friction_trigger_extent_is_centimetres(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    """A trigger with extent 500 (cm) covers 5 m around its centre: a car 20 m away keeps its grip."""
    _friction_trigger(straight_world, carla.Location(30.0, 1.75, 0.0), 0.0, extent_cm=500.0)
    outside = spawn_vehicle(straight_world, 50.0, 1.75)
    inside = spawn_vehicle(straight_world, 30.0, 1.75)
    for vehicle in (outside, inside):
        vehicle.apply_control(carla.VehicleControl(throttle=1.0))
    for _ in range(10):
        straight_world.tick()
    assert outside.get_velocity().length() > 1.0, "outside the 5 m box the car accelerates"
    assert inside.get_velocity().length() == pytest.approx(0.0, abs=1e-6), "on ice (friction 0) the wheels spin"
