"""Spawning, attaching, finding and destroying actors; the CARLA classes they pass as."""
from __future__ import annotations

import math
from collections.abc import Callable

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR

EGO = "vehicle.lincoln.mkz_2020"  # spawn_vehicle's default blueprint


def test_client_and_world_pass_as_carla_classes(straight_world: carla.World) -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    assert isinstance(client, carla.Client)
    world = client.load_world("Loop")
    assert isinstance(world, carla.World) and client.get_world() is world
    assert isinstance(world.get_map(), carla.Map)
    assert isinstance(world.get_snapshot(), carla.WorldSnapshot)
    assert isinstance(world.get_blueprint_library(), carla.BlueprintLibrary)
    assert isinstance(world.get_spectator(), carla.Actor)
    assert "/Game/Carla/Maps/Loop" in client.get_available_maps()
    assert client.get_client_version() == client.get_server_version() == "0.9.16"


def test_spawn_returns_carla_vehicle_on_the_road(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75, yaw=0.0)
    assert isinstance(vehicle, carla.Vehicle) and isinstance(vehicle, carla.Actor)
    assert vehicle.type_id == EGO and vehicle.is_alive
    assert vehicle.attributes["role_name"] == "autopilot"
    transform = vehicle.get_transform()
    assert (transform.location.x, transform.location.y) == pytest.approx((50.0, 1.75))
    assert transform.location.z == pytest.approx(0.0, abs=1e-6), "vehicles rest on the road surface"
    extent = vehicle.bounding_box.extent
    assert extent.x > extent.y > 0.5 and extent.z > 0.5
    assert vehicle.get_velocity().length() == 0.0


def test_spawn_on_an_occupied_spot_fails(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    spawn_vehicle(straight_world, 50.0, 1.75)
    library = straight_world.get_blueprint_library()
    overlapping = carla.Transform(carla.Location(52.0, 2.0, 0.5))
    with pytest.raises(RuntimeError, match="collision at spawn position"):
        straight_world.spawn_actor(library.find("vehicle.audi.a2"), overlapping)
    assert straight_world.try_spawn_actor(library.find("vehicle.audi.a2"), overlapping) is None
    assert len(straight_world.get_actors().filter("vehicle.*")) == 1
    # the next lane is free
    beside = straight_world.try_spawn_actor(library.find("vehicle.audi.a2"), carla.Transform(carla.Location(50.0, 5.25, 0.5)))
    assert isinstance(beside, carla.Vehicle)


def test_spawn_rejects_what_is_not_a_blueprint_and_non_finite_poses(straight_world: carla.World) -> None:
    library = straight_world.get_blueprint_library()
    with pytest.raises(InputError, match="blueprint"):
        straight_world.spawn_actor("vehicle.audi.a2", carla.Transform())
    with pytest.raises(InputError, match="non-finite"):
        straight_world.spawn_actor(library.find("vehicle.audi.a2"), carla.Transform(carla.Location(math.nan, 0.0, 0.0)))
    assert len(straight_world.get_actors().filter("vehicle.*")) == 0


def test_attached_sensor_follows_its_parent(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 100.0, 1.75, yaw=90.0)
    library = straight_world.get_blueprint_library()
    relative = carla.Transform(carla.Location(x=1.5, z=2.4))
    sensor = straight_world.spawn_actor(library.find("sensor.other.gnss"), relative, attach_to=vehicle)
    assert isinstance(sensor, carla.Sensor) and sensor.parent == vehicle
    expected = vehicle.get_transform().transform(carla.Location(x=1.5, z=2.4))
    assert sensor.get_location().distance(expected) < 1e-4
    assert sensor.get_transform().rotation.yaw == pytest.approx(90.0)
    vehicle.set_target_velocity(carla.Vector3D(0.0, 10.0, 0.0))
    straight_world.tick()
    moved = vehicle.get_transform().transform(carla.Location(x=1.5, z=2.4))
    assert sensor.get_location().distance(moved) < 1e-4
    assert vehicle.get_location().y == pytest.approx(1.75 + 10.0 * 0.05)
    # a sensor never collides with its own parent, and the pair can spawn on top of each other
    assert straight_world.simulation.last_contacts.all == []


def test_get_actors_filters_by_type_and_ids(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    car = spawn_vehicle(straight_world, 50.0, 1.75)
    truck = spawn_vehicle(straight_world, 100.0, 1.75, blueprint="vehicle.carlamotors.firetruck")
    walker = straight_world.spawn_actor(straight_world.get_blueprint_library().find("walker.pedestrian.0001"),
                                        carla.Transform(carla.Location(150.0, 9.0, 1.0)))
    assert isinstance(walker, carla.Walker)
    everything = straight_world.get_actors()
    assert {a.id for a in everything.filter("vehicle.*")} == {car.id, truck.id}
    assert [a.id for a in everything.filter("*firetruck")] == [truck.id]
    assert [a.id for a in everything.filter("walker.*")] == [walker.id]
    assert len(everything.filter("spectator")) == 1
    chosen = straight_world.get_actors([truck.id, 987654])
    assert [a.id for a in chosen] == [truck.id]
    assert everything.find(car.id) == car and everything.find(987654) is None
    assert straight_world.get_actor(car.id) is car


def test_destroy_removes_the_actor(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    sensor = straight_world.spawn_actor(straight_world.get_blueprint_library().find("sensor.other.imu"),
                                        carla.Transform(), attach_to=vehicle)
    straight_world.tick()
    assert straight_world.get_snapshot().has_actor(vehicle.id)
    assert sensor.destroy() is True
    assert vehicle.destroy() is True
    assert vehicle.destroy() is False, "destroying twice reports False"
    assert not vehicle.is_alive and straight_world.get_actor(vehicle.id) is None
    assert vehicle.id not in {a.id for a in straight_world.get_actors()}
    with pytest.raises(RuntimeError, match="destroyed"):
        vehicle.apply_control(carla.VehicleControl(throttle=1.0))
    with pytest.raises(RuntimeError):
        straight_world.spawn_actor(straight_world.get_blueprint_library().find("sensor.other.imu"),
                                   carla.Transform(), attach_to=vehicle)
    straight_world.tick()
    assert not straight_world.get_snapshot().has_actor(vehicle.id)
    # the spot is free again
    assert spawn_vehicle(straight_world, 50.0, 1.75).is_alive


def test_spawned_high_above_the_road_lands_on_it(loop_world: carla.World) -> None:
    """ScenarioRunner spawns some actors 100 m up and relies on gravity; they must end on the road."""
    wmap = loop_world.get_map()
    waypoint = wmap.get_waypoint_xodr(1, -1, 110.0)  # on the hill, ~2 m up
    assert waypoint.transform.location.z > 1.0
    transform = carla.Transform(waypoint.transform.location + carla.Location(z=105.0), waypoint.transform.rotation)
    vehicle = loop_world.spawn_actor(loop_world.get_blueprint_library().find(EGO), transform)
    assert vehicle.get_location().z == pytest.approx(waypoint.transform.location.z, abs=0.05)


def test_actor_identity_and_hash(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    first = spawn_vehicle(straight_world, 50.0, 1.75)
    second = spawn_vehicle(straight_world, 80.0, 1.75)
    assert first != second and first == straight_world.get_actor(first.id)
    assert len({first, second, straight_world.get_actor(first.id)}) == 2
    ids = [a.id for a in straight_world.get_actors()]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    assert np.all(np.diff(ids) > 0)
