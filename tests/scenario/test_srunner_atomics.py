"""srunner's own atomic behaviours on our world, ticked as ScenarioManager ticks them (behaviour, then world)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import carla
import py_trees
import pytest

import recon_carla_bridge
from recon_carla_bridge.compat_imports import install_srunner_alias

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_behaviors import ActorTransformSetter  # noqa: E402


@pytest.fixture
def town01(carla_maps_dir: Path) -> Iterator[carla.World]:
    """Town01, synchronous at 20 Hz, registered with srunner's CarlaDataProvider."""
    client = recon_carla_bridge.Client(map_dirs=[carla_maps_dir])
    world = client.load_world("Town01")
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    CarlaDataProvider.set_client(client)
    CarlaDataProvider.set_world(world)
    yield world
    CarlaDataProvider.cleanup()


def _tick_until_done(behaviour: py_trees.behaviour.Behaviour, world: carla.World, ticks: int) -> list[py_trees.common.Status]:
    statuses = []
    for _ in range(ticks):
        behaviour.tick_once()
        statuses.append(behaviour.status)
        if behaviour.status != py_trees.common.Status.RUNNING:
            break
        world.tick()
    return statuses


def test_vehicle_set_one_metre_above_the_road_passes_actor_transform_setter(town01: carla.World) -> None:
    """ActorTransformSetter waits until the actor is within 1 m of its target, z included: a target 1 m above
    the road is reached (CARLA keeps the pose it is given), and the vehicle then lands on the road."""
    road = town01.get_map().get_waypoint(carla.Location(392.5, 80.0, 0.0)).transform
    vehicle = CarlaDataProvider.request_new_actor("vehicle.lincoln.mkz_2020", road)
    town01.tick()
    target = carla.Transform(road.location + carla.Location(y=30.0, z=1.0), road.rotation)
    statuses = _tick_until_done(ActorTransformSetter(vehicle, target), town01, ticks=20)
    assert statuses[-1] == py_trees.common.Status.SUCCESS, statuses
    for _ in range(20):
        town01.tick()
    location = vehicle.get_location()
    assert location.z == pytest.approx(road.location.z, abs=1e-6), "it fell onto the road"
    assert location.distance(carla.Location(target.location.x, target.location.y, road.location.z)) < 0.05


def test_hidden_vehicle_is_revealed_above_the_road_and_falls(town01: carla.World) -> None:
    """srunner's CutIn hides its car 100 m under the map with physics off and reveals it 105 m higher:
    ActorTransformSetter succeeds at once, turns physics on, and the car falls onto the road."""
    road = town01.get_map().get_waypoint(carla.Location(392.5, 80.0, 0.0)).transform
    hidden = carla.Transform(road.location + carla.Location(z=-100.0), road.rotation)
    vehicle = CarlaDataProvider.request_new_actor("vehicle.tesla.model3", hidden)
    vehicle.set_simulate_physics(False)
    town01.tick()
    visible = carla.Transform(vehicle.get_location() + carla.Location(z=105.0), road.rotation)
    statuses = _tick_until_done(ActorTransformSetter(vehicle, visible), town01, ticks=5)
    assert statuses == [py_trees.common.Status.SUCCESS]
    heights = []
    for _ in range(40):
        town01.tick()
        heights.append(vehicle.get_location().z)
    assert heights[0] > 4.0 and heights[-1] == pytest.approx(road.location.z, abs=1e-6)
