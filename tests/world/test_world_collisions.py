"""Collisions: the collision sensor fires once per new contact, with the other actor and an impulse,
and the bodies are pushed apart."""
from __future__ import annotations

import math
from collections.abc import Callable

import carla
import pytest

DT = 0.05


def _gap_along_x(rear: carla.Actor, front: carla.Actor) -> float:
    """Free distance between two vehicles in one lane along +x (negative when they overlap)."""
    return (front.get_location().x - front.bounding_box.extent.x) - (rear.get_location().x + rear.bounding_box.extent.x)


def test_rear_end_collision_fires_once_for_each_car(straight_world: carla.World, spawn_vehicle: Callable,
                                                    attach_sensor: Callable) -> None:
    rear = spawn_vehicle(straight_world, 50.0, 1.75)
    front = spawn_vehicle(straight_world, 70.0, 1.75, blueprint="vehicle.tesla.model3")
    _, rear_events = attach_sensor(straight_world, rear, "sensor.other.collision")
    _, front_events = attach_sensor(straight_world, front, "sensor.other.collision")
    rear.set_target_velocity(carla.Vector3D(10.0, 0.0, 0.0))  # then it coasts into the parked car
    frames = []
    for _ in range(60):
        frames.append(straight_world.tick())
        if rear_events:
            rear.apply_control(carla.VehicleControl(brake=1.0))
    assert len(rear_events) == 1 and len(front_events) == 1, "one event per sensor for one new contact"
    hit, felt = rear_events[0], front_events[0]
    assert isinstance(hit, carla.CollisionEvent) and isinstance(hit, carla.SensorData)
    assert hit.frame == felt.frame and hit.frame in frames
    assert hit.actor == rear and hit.other_actor == front
    assert felt.actor == front and felt.other_actor == rear
    assert hit.normal_impulse.length() > 1000.0, "a 10 m/s hit of 1.8 t cars"
    assert hit.normal_impulse.x < 0.0 < felt.normal_impulse.x, "each is pushed away from the other"
    assert hit.normal_impulse.length() == pytest.approx(felt.normal_impulse.length())
    # momentum went into the front car, and the two are apart again
    assert front.get_location().x > 70.0 + 1.0
    assert _gap_along_x(rear, front) > 0.0
    assert straight_world.simulation.last_contacts.all == []


def test_events_match_the_contacts_that_begin(straight_world: carla.World, spawn_vehicle: Callable,
                                              attach_sensor: Callable) -> None:
    """A car driving on into a fixed barrier touches it on many ticks (bouncing off and coming back):
    the sensor reports each contact that begins, never one that goes on."""
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    barrier = straight_world.spawn_actor(straight_world.get_blueprint_library().find("static.prop.streetbarrier"),
                                         carla.Transform(carla.Location(60.0, 1.75, 0.3), carla.Rotation(yaw=90.0)))
    _, events = attach_sensor(straight_world, vehicle, "sensor.other.collision")
    vehicle.apply_control(carla.VehicleControl(throttle=0.4))
    touching, beginnings = [], []
    for _ in range(160):
        frame = straight_world.tick()
        touches = any(vehicle.id in (c.actor_a, c.actor_b) for c in straight_world.simulation.last_contacts.all)
        if touches and not (touching and touching[-1]):
            beginnings.append(frame)
        touching.append(touches)
    assert sum(touching) > len(beginnings) + 5, "it kept pressing against the barrier"
    assert [e.frame for e in events] == beginnings
    assert all(e.other_actor == barrier for e in events)
    assert barrier.get_location().x == pytest.approx(60.0), "a static prop is not moved"
    assert vehicle.get_location().x < 60.0 - vehicle.bounding_box.extent.x + 0.5, "and the car does not drive through"


def test_separating_and_hitting_again_is_a_second_collision(straight_world: carla.World, spawn_vehicle: Callable,
                                                            attach_sensor: Callable) -> None:
    rear = spawn_vehicle(straight_world, 50.0, 1.75)
    front = spawn_vehicle(straight_world, 70.0, 1.75)
    _, events = attach_sensor(straight_world, rear, "sensor.other.collision")
    for _ in range(2):
        rear.set_target_velocity(carla.Vector3D(8.0, 0.0, 0.0))
        for _ in range(80):
            straight_world.tick()
            if _gap_along_x(rear, front) < 1.0:
                rear.apply_control(carla.VehicleControl(brake=1.0))
        front.apply_control(carla.VehicleControl(brake=1.0))
        for _ in range(40):
            straight_world.tick()
        rear.apply_control(carla.VehicleControl())
        rear.set_transform(carla.Transform(carla.Location(front.get_location().x - 20.0, 1.75, 0.5)))
        front.apply_control(carla.VehicleControl())
    assert len(events) == 2 and all(e.other_actor == front for e in events)
    assert events[0].frame < events[1].frame


def test_collision_with_a_walker(straight_world: carla.World, spawn_vehicle: Callable, attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    walker = straight_world.spawn_actor(straight_world.get_blueprint_library().find("walker.pedestrian.0001"),
                                        carla.Transform(carla.Location(60.0, 1.75, 1.0)))
    _, events = attach_sensor(straight_world, vehicle, "sensor.other.collision")
    vehicle.set_target_velocity(carla.Vector3D(5.0, 0.0, 0.0))
    for _ in range(60):
        straight_world.tick()
    assert len(events) == 1
    assert isinstance(events[0].other_actor, carla.Walker) and events[0].other_actor == walker
    assert math.isfinite(events[0].normal_impulse.length()) and events[0].normal_impulse.length() > 0.0


def test_crossing_paths_collide_side_on(crossing_world: carla.World, spawn_vehicle: Callable,
                                        attach_sensor: Callable) -> None:
    """Two cars sent into the junction at the same time from perpendicular arms hit each other."""
    wmap = crossing_world.get_map()
    east = wmap.get_waypoint_xodr(1, 1, 20.0).transform  # heading west towards the junction
    south = wmap.get_waypoint_xodr(2, 1, 20.0).transform  # arm 2, heading towards the junction
    first = spawn_vehicle(crossing_world, east.location.x, east.location.y, east.rotation.yaw)
    second = spawn_vehicle(crossing_world, south.location.x, south.location.y, south.rotation.yaw)
    _, events = attach_sensor(crossing_world, first, "sensor.other.collision")
    for vehicle, transform in ((first, east), (second, south)):
        forward = transform.get_forward_vector()
        vehicle.set_target_velocity(carla.Vector3D(forward.x * 8.0, forward.y * 8.0, 0.0))
    for _ in range(140):
        crossing_world.tick()
    assert len(events) == 1 and events[0].other_actor == second
    location = first.get_location()
    assert math.hypot(location.x, location.y) < 15.0, "they met in the junction"
