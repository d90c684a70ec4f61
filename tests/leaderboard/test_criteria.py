"""Infraction criteria on the real Town01 roads with hand-driven ego trajectories."""
from __future__ import annotations

import math

import carla
import numpy as np
import pytest

from recon_carla_bridge.leaderboard.criteria import (
    CollisionHit,
    LightState,
    TickSnapshot,
    build_route_criteria,
)
from recon_carla_bridge.leaderboard.criteria.conduct import CollisionTest
from recon_carla_bridge.leaderboard.criteria.signals import (
    RunningRedLightTest,
    RunningStopTest,
    StopSignGeometry,
    TrafficLightGeometry,
)
from recon_carla_bridge.leaderboard.events import TrafficEventType
from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.scene.scene_world import load_place_map as load_map
from recon_carla_bridge.leaderboard.routes import Pose, RouteConfig

DT = 0.05
EXTENT = carla.Vector3D(2.45, 1.05, 0.75)


@pytest.fixture(scope="module")
def town01(shared_data) -> carla.Map:
    return load_map("Town01")


def _tick(frame: int, x: float, y: float, yaw: float, speed: float, **kwargs) -> TickSnapshot:
    velocity = carla.Vector3D(speed * math.cos(math.radians(yaw)), speed * math.sin(math.radians(yaw)), 0.0)
    transform = carla.Transform(carla.Location(x, y, 0.0), carla.Rotation(yaw=yaw))
    return TickSnapshot(frame=frame, time=frame * DT, transform=transform, velocity=velocity, extent=EXTENT, **kwargs)


def _stop_waypoint(town01: carla.Map) -> carla.Waypoint:
    """The last waypoint of the westbound lane of road 12 before the junction at x ≈ 101 (y = 195.15)."""
    waypoint = town01.get_waypoint(carla.Location(115.0, 195.15, 0.0))
    while not waypoint.next(0.5)[0].is_junction:
        waypoint = waypoint.next(0.5)[0]
    return waypoint


@pytest.mark.parametrize("red, expected", [(True, 1), (False, 0)])
def test_red_light_counts_once_when_crossing_the_stop_line_on_red(town01, red, expected):
    stop = _stop_waypoint(town01)
    light = TrafficLightGeometry(26, (102.79, 192.55, 0.0), (101.2, 195.1, 0.0), (stop,))
    test = RunningRedLightTest("RunningRedLightTest", lights=(light,), world_map=town01)
    for frame, x in enumerate(np.arange(118.0, 96.0, -0.4)):  # 8 m/s westwards through the stop line
        test.update(_tick(frame, float(x), 195.15, 180.0, 8.0, lights=(LightState(26, red),)))
    assert len(test.events) == expected
    if expected:
        assert test.events[0].type == TrafficEventType.TRAFFIC_LIGHT_INFRACTION
        assert test.events[0].message == "Agent ran a red light 26 at (x=102.79, y=192.55, z=0.0)"


def test_red_light_is_not_run_by_a_car_stopping_before_the_line(town01):
    stop = _stop_waypoint(town01)
    light = TrafficLightGeometry(26, (102.79, 192.55, 0.0), (101.2, 195.1, 0.0), (stop,))
    test = RunningRedLightTest("RunningRedLightTest", lights=(light,), world_map=town01)
    front_at_line = stop.transform.location.x + EXTENT.x  # the ego's nose exactly on the stop line
    for frame, x in enumerate(np.linspace(118.0, front_at_line, 40)):
        test.update(_tick(frame, float(x), 195.15, 180.0, 4.0, lights=(LightState(26, True),)))
    assert test.events == []


def test_collisions_with_one_actor_count_once_and_a_standing_ego_is_not_at_fault():
    test = CollisionTest("CollisionTest")
    frame = 0
    for _ in range(10):  # the same car for half a second
        test.update(_tick(frame, 0.0, 0.0, 0.0, 5.0, collisions=(CollisionHit(7, "vehicle.audi.tt"),)))
        frame += 1
    for k in range(300):  # drive away 30 m, then hit a pedestrian, while a parked ego is hit by a car
        test.update(_tick(frame, 0.1 * k, 0.0, 0.0, 5.0))
        frame += 1
    test.update(_tick(frame, 30.0, 0.0, 0.0, 5.0, collisions=(CollisionHit(9, "walker.pedestrian.0001"),)))
    for k in range(200):
        test.update(_tick(frame + 1 + k, 30.0 + 0.2 * k, 0.0, 0.0, 5.0))
    frame += 201
    test.update(_tick(frame, 200.0, 0.0, 0.0, 0.0, collisions=(CollisionHit(11, "vehicle.audi.tt"),)))
    assert [e.type for e in test.events] == [TrafficEventType.COLLISION_VEHICLE, TrafficEventType.COLLISION_PEDESTRIAN]


def test_route_criteria_on_a_drive_in_the_opposite_lane(town01):
    """Following the route in the oncoming lane: completion advances, outside-lanes ≈ the share driven there."""
    config = RouteConfig("9", "Town01", (Pose(338.7, 226.75), Pose(338.7, 150.0)), source=None, format="2.0")
    planned = plan_route(config, town01)
    criteria = build_route_criteria(planned, town01)
    points, yaws = planned.points, planned.yaws
    half = len(points) // 2
    frame = 0
    for index in range(len(points) - 1):
        right = np.array([-math.sin(math.radians(yaws[index])), math.cos(math.radians(yaws[index]))])
        offset = -3.75 * right if index >= half else np.zeros(2)  # second half: one lane to the left
        for step in np.linspace(0.0, 1.0, 3, endpoint=False):
            x, y = points[index, :2] + step * (points[index + 1, :2] - points[index, :2]) + offset
            if criteria.update(_tick(frame, float(x), float(y), float(yaws[index]), 8.0)):
                break
            frame += 1
    events = {event.type: event for event in criteria.events()}
    assert events[TrafficEventType.ROUTE_COMPLETION].data["route_completed"] > 95.0
    outside = events[TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION]
    assert 40.0 < outside.data["percentage"] < 55.0
    assert TrafficEventType.ROUTE_DEVIATION not in events


@pytest.mark.parametrize("stops, expected", [(False, 1), (True, 0)])
def test_stop_sign_is_run_unless_the_ego_stops_in_its_area(town01, stops, expected):
    stop = _stop_waypoint(town01).transform.location  # use the lane end before the junction as a stop line
    sign = StopSignGeometry(5, (stop.x, stop.y - 3.0, 0.0), (stop.x + 1.5, stop.y, 0.0), (1.5, 1.6))
    test = RunningStopTest("RunningStopTest", stops=(sign,), world_map=town01)
    xs = list(np.arange(118.0, stop.x + 1.0, -0.4))
    speeds = [8.0] * len(xs)
    if stops:
        xs += [xs[-1]] * 10  # standing still for half a second inside the stop area
        speeds += [0.0] * 10
    xs += list(np.arange(xs[-1] - 0.4, 90.0, -0.4))
    speeds += [8.0] * (len(xs) - len(speeds))
    for frame, (x, speed) in enumerate(zip(xs, speeds)):
        test.update(_tick(frame, float(x), 195.15, 180.0, speed))
    assert [event.type for event in test.events] == [TrafficEventType.STOP_INFRACTION] * expected
