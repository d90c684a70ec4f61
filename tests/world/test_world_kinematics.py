"""Vehicles under VehicleControl (the kinematic bicycle), direct pose/velocity setters, and
property tests of the pure kinematics and box-overlap functions."""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import carla
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.world import kinematics
from recon_carla_bridge.world.blueprint_catalog import VEHICLES
from recon_carla_bridge.world.geometry import obb_overlap_2d

DT = 0.05
SPECS = {spec.blueprint_id: spec for spec in VEHICLES}


def _speed(vehicle: carla.Actor) -> float:
    velocity = vehicle.get_velocity()
    return math.hypot(velocity.x, velocity.y)


def _drive(world: carla.World, vehicle: carla.Vehicle, control: carla.VehicleControl, ticks: int) -> list[float]:
    """Apply `control` and tick; returns the speed after each tick."""
    vehicle.apply_control(control)
    speeds = []
    for _ in range(ticks):
        world.tick()
        speeds.append(_speed(vehicle))
    return speeds


def _launch(world: carla.World, vehicle: carla.Vehicle, speed: float) -> None:
    """Bring a vehicle to `speed` m/s along its heading in one tick."""
    yaw = math.radians(vehicle.get_transform().rotation.yaw)
    vehicle.set_target_velocity(carla.Vector3D(speed * math.cos(yaw), speed * math.sin(yaw), 0.0))
    vehicle.apply_control(carla.VehicleControl())
    world.tick()


def test_full_throttle_accelerates_then_saturates_below_top_speed(straight_world: carla.World,
                                                                  spawn_vehicle: Callable) -> None:
    blueprint = "vehicle.micro.microlino"
    vehicle = spawn_vehicle(straight_world, 10.0, 1.75, blueprint=blueprint)
    speeds = _drive(straight_world, vehicle, carla.VehicleControl(throttle=1.0), int(60.0 / DT))
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(speeds)), "full throttle never slows the car"
    first_second_gain = speeds[19]
    last_second_gain = speeds[-1] - speeds[-21]
    assert first_second_gain > 2.0
    assert last_second_gain < 0.01 * first_second_gain, "acceleration fades out: the speed saturates"
    assert 0.8 * SPECS[blueprint].max_speed < speeds[-1] <= SPECS[blueprint].max_speed
    assert first_second_gain <= SPECS[blueprint].max_accel * 1.0 + 1e-6
    location = vehicle.get_location()
    assert location.y == pytest.approx(1.75) and location.x > 10.0 + 0.5 * speeds[-1] * 60.0


def test_partial_throttle_reaches_speed_more_slowly(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    full = spawn_vehicle(straight_world, 10.0, 1.75)
    half = spawn_vehicle(straight_world, 10.0, 5.25)
    full.apply_control(carla.VehicleControl(throttle=1.0))
    half.apply_control(carla.VehicleControl(throttle=0.5))
    for _ in range(60):
        straight_world.tick()
    assert 0.3 * _speed(full) < _speed(half) < 0.7 * _speed(full)


def test_full_brake_stops_within_the_braking_distance(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 10.0, 1.75)
    _launch(straight_world, vehicle, 15.0)
    start_x = vehicle.get_location().x
    speeds = _drive(straight_world, vehicle, carla.VehicleControl(brake=1.0), 80)
    assert speeds[-1] == 0.0
    stopped_at = speeds.index(0.0)
    max_decel = SPECS["vehicle.lincoln.mkz_2020"].max_decel
    assert stopped_at * DT == pytest.approx(15.0 / max_decel, abs=0.15)
    travelled = vehicle.get_location().x - start_x
    assert 15.0**2 / (2 * max_decel) - 2.0 < travelled < 15.0**2 / (2 * max_decel) + 1.0
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(speeds))
    stopped = vehicle.get_location()
    for _ in range(20):
        straight_world.tick()
    assert vehicle.get_location().distance(stopped) < 1e-9, "braking never turns into reversing"


def test_hand_brake_stops_a_moving_car_more_gently_than_the_brake(straight_world: carla.World,
                                                                  spawn_vehicle: Callable) -> None:
    braked = spawn_vehicle(straight_world, 10.0, 1.75)
    hand_braked = spawn_vehicle(straight_world, 10.0, 5.25)
    _launch(straight_world, braked, 10.0)
    _launch(straight_world, hand_braked, 10.0)
    braked.apply_control(carla.VehicleControl(brake=1.0))
    hand_braked.apply_control(carla.VehicleControl(hand_brake=True))
    ticks_to_stop = {}
    for tick in range(1, 200):
        straight_world.tick()
        for name, vehicle in (("brake", braked), ("hand_brake", hand_braked)):
            if name not in ticks_to_stop and _speed(vehicle) == 0.0:
                ticks_to_stop[name] = tick
    assert set(ticks_to_stop) == {"brake", "hand_brake"}
    assert ticks_to_stop["brake"] < ticks_to_stop["hand_brake"]
    # a held hand brake keeps a car at rest even with some throttle... as long as throttle loses
    hand_braked.apply_control(carla.VehicleControl(throttle=0.2, hand_brake=True))
    here = hand_braked.get_location()
    for _ in range(20):
        straight_world.tick()
    assert hand_braked.get_location().distance(here) < 1e-9


def test_reverse_gear_drives_backwards_up_to_the_reverse_limit(straight_world: carla.World,
                                                               spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 200.0, 1.75)
    speeds = _drive(straight_world, vehicle, carla.VehicleControl(throttle=1.0, reverse=True), 400)
    assert vehicle.get_location().x < 200.0 - 50.0
    assert vehicle.get_velocity().x < 0.0
    assert vehicle.get_transform().rotation.yaw == pytest.approx(0.0, abs=1e-6), "still facing +x"
    assert max(speeds) <= kinematics.REVERSE_MAX_SPEED + 1e-6
    assert vehicle.get_control().reverse is True


@pytest.mark.parametrize("steer", [0.3, -0.3, 1.0, -1.0])
def test_steer_turns_the_way_carla_does(straight_world: carla.World, spawn_vehicle: Callable, steer: float) -> None:
    """Positive steer turns right; in CARLA's left-handed frame that increases yaw (towards +y)."""
    vehicle = spawn_vehicle(straight_world, 100.0, 1.75)
    _launch(straight_world, vehicle, 5.0)
    _drive(straight_world, vehicle, carla.VehicleControl(throttle=0.3, steer=steer), 10)
    transform = vehicle.get_transform()
    assert math.copysign(1.0, transform.rotation.yaw) == math.copysign(1.0, steer)
    assert abs(transform.rotation.yaw) > 3.0
    assert math.copysign(1.0, transform.location.y - 1.75) == math.copysign(1.0, steer)
    yaw_rate = vehicle.get_angular_velocity().z
    assert math.copysign(1.0, yaw_rate) == math.copysign(1.0, steer)
    assert vehicle.get_wheel_steer_angle(carla.VehicleWheelLocation.FL_Wheel) * steer > 0.0


def test_steady_steer_drives_a_circle_of_the_bicycle_radius(straight_world: carla.World,
                                                             spawn_vehicle: Callable) -> None:
    spec = SPECS["vehicle.lincoln.mkz_2020"]
    vehicle = spawn_vehicle(straight_world, 200.0, 1.75)
    _launch(straight_world, vehicle, 4.0)
    vehicle.apply_control(carla.VehicleControl(steer=0.5))  # coasting slowly: tyre grip is no limit
    points = []
    for _ in range(200):
        straight_world.tick()
        location = vehicle.get_location()
        points.append((location.x, location.y))
    xy = np.array(points[10:])
    # least-squares circle: x² + y² = 2ax + 2by + c
    design = np.column_stack([2.0 * xy[:, 0], 2.0 * xy[:, 1], np.ones(len(xy))])
    (a, b, c), *_ = np.linalg.lstsq(design, (xy**2).sum(axis=1), rcond=None)
    radius = math.sqrt(c + a * a + b * b)
    wheel = math.radians(0.5 * spec.max_steer_deg)
    expected = math.hypot(spec.wheelbase / math.tan(wheel), spec.wheelbase / 2.0)  # at the centre of gravity
    assert radius == pytest.approx(expected, rel=0.05)
    assert np.abs(np.hypot(xy[:, 0] - a, xy[:, 1] - b) - radius).max() < 0.1
    assert b > 1.75, "a right turn (positive steer) circles around a centre on the +y side"


def test_nan_control_is_rejected_and_the_world_carries_on(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    vehicle.apply_control(carla.VehicleControl(throttle=0.5))
    for field in ("throttle", "steer", "brake"):
        control = carla.VehicleControl(throttle=0.5)
        setattr(control, field, math.nan)
        with pytest.raises(InputError, match=field):
            vehicle.apply_control(control)
    with pytest.raises(InputError, match="VehicleControl"):
        vehicle.apply_control(carla.WalkerControl())
    assert vehicle.get_control().throttle == pytest.approx(0.5), "the last good control stays"
    for _ in range(20):
        straight_world.tick()
    location = vehicle.get_location()
    assert all(math.isfinite(v) for v in (location.x, location.y, location.z))
    assert location.x > 50.0


def test_control_values_are_clamped_to_carla_ranges(straight_world: carla.World, spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    vehicle.apply_control(carla.VehicleControl(throttle=3.0, steer=-7.0, brake=-1.0))
    control = vehicle.get_control()
    assert (control.throttle, control.steer, control.brake) == (1.0, -1.0, 0.0)


def test_set_target_velocity_sets_speed_then_the_car_coasts(straight_world: carla.World,
                                                            spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    vehicle.set_target_velocity(carla.Vector3D(12.0, 0.0, 0.0))
    straight_world.tick()
    assert vehicle.get_velocity().x == pytest.approx(12.0)
    assert vehicle.get_location().x == pytest.approx(50.0 + 12.0 * DT)
    speeds = _drive(straight_world, vehicle, carla.VehicleControl(), 40)
    assert 10.0 < speeds[-1] < 12.0, "no throttle: it coasts, slowly losing speed"
    assert vehicle.get_location().x > 50.0 + 20.0
    with pytest.raises(InputError):
        vehicle.set_target_velocity(carla.Vector3D(math.inf, 0.0, 0.0))


def test_set_transform_keeps_the_pose_then_the_vehicle_falls_onto_the_road(loop_world: carla.World,
                                                                           spawn_vehicle: Callable) -> None:
    """As in CARLA: the vehicle is where it was put, 3 m up, and gravity brings it down in ~0.8 s."""
    wmap = loop_world.get_map()
    vehicle = spawn_vehicle(loop_world, *_xy(wmap.get_waypoint_xodr(4, -1, 20.0)))
    target = wmap.get_waypoint_xodr(2, -1, 40.0).transform  # on top of the hill, z = 4
    lifted = carla.Transform(target.location + carla.Location(z=3.0), target.rotation)
    vehicle.set_transform(lifted)
    transform = vehicle.get_transform()
    assert transform.location.distance(lifted.location) < 1e-6, "the pose as given"
    assert transform.rotation.yaw == pytest.approx(target.rotation.yaw, abs=1e-3)
    heights = []
    for _ in range(30):
        loop_world.tick()
        heights.append(vehicle.get_location().z - target.location.z)
    assert all(b <= a for a, b in itertools.pairwise(heights)), "it only falls"
    landed = next(i for i, h in enumerate(heights) if abs(h) < 1e-6)
    assert 0.7 < (landed + 1) * DT < 0.9, "a 3 m free fall takes sqrt(2 * 3 / g) = 0.78 s"
    assert vehicle.get_location().distance(target.location) < 0.05, "it rests on the road where it was put"
    with pytest.raises(InputError):
        vehicle.set_transform(carla.Transform(carla.Location(math.nan, 0.0, 0.0)))
    assert vehicle.get_transform().location.distance(target.location) < 0.05


def test_without_physics_only_set_transform_moves_the_actor(straight_world: carla.World,
                                                            spawn_vehicle: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    _launch(straight_world, vehicle, 10.0)
    vehicle.set_simulate_physics(False)
    assert _speed(vehicle) == 0.0
    here = vehicle.get_location()
    _drive(straight_world, vehicle, carla.VehicleControl(throttle=1.0), 20)
    assert vehicle.get_location().distance(here) < 1e-9
    floating = carla.Transform(carla.Location(80.0, 5.25, 3.0), carla.Rotation(pitch=5.0, yaw=30.0, roll=2.0))
    vehicle.set_transform(floating)
    straight_world.tick()
    transform = vehicle.get_transform()
    assert transform.location.distance(floating.location) < 1e-6, "kept exactly where it was put, in the air"
    assert (transform.rotation.pitch, transform.rotation.yaw, transform.rotation.roll) == pytest.approx((5.0, 30.0, 2.0))
    vehicle.set_simulate_physics(True)
    straight_world.tick()
    assert 0.0 < vehicle.get_location().z < 3.0, "physics on: it falls"
    for _ in range(20):
        straight_world.tick()
    assert vehicle.get_location().z == pytest.approx(0.0, abs=1e-6), "and lands on the road"


def _xy(waypoint: carla.Waypoint) -> tuple[float, float, float]:
    location = waypoint.transform.location
    return location.x, location.y, waypoint.transform.rotation.yaw


def test_vehicles_follow_the_road_surface_over_the_hill(loop_world: carla.World, spawn_vehicle: Callable) -> None:
    wmap = loop_world.get_map()
    start = wmap.get_waypoint_xodr(1, -1, 5.0)  # at the foot of the hill, on the flat
    vehicle = spawn_vehicle(loop_world, *_xy(start))
    vehicle.set_autopilot(True)
    heights, errors = [], []
    for _ in range(int(30.0 / DT)):
        loop_world.tick()
        location = vehicle.get_location()
        road = wmap.get_waypoint(location)
        heights.append(location.z)
        errors.append(abs(location.z - road.transform.location.z))
    assert max(heights) > 3.5, "it drove over the top of the hill"
    assert max(errors) < 0.15, "never floats above nor sinks into the road"


# ---- properties of the pure functions --------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def vehicle_batches(draw: st.DrawFn) -> tuple[kinematics.VehicleBatch, float]:
    """Any finite controls (including out-of-range ones) and states of 1-4 vehicles, and a step the
    world accepts (up to 1 s). Limits span the blueprint catalog: at most 4 m/s² of drive and top
    speeds from 10 m/s (with a*dt above half the top speed, one explicit step can overshoot it)."""
    count = draw(st.integers(1, 4))

    def column(strategy: st.SearchStrategy[float]) -> np.ndarray:
        return np.array(draw(st.lists(strategy, min_size=count, max_size=count)), dtype=float)

    def flags() -> np.ndarray:
        return np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)))

    batch = kinematics.VehicleBatch(
        x=column(st.floats(-1e4, 1e4)), y=column(st.floats(-1e4, 1e4)), yaw=column(st.floats(-math.pi, math.pi)),
        speed=column(st.floats(-60.0, 60.0)), steer_angle=column(st.floats(-1.2, 1.2)),
        throttle=column(finite), brake=column(finite), steer=column(finite),
        reverse=flags(), hand_brake=flags(),
        wheelbase=column(st.floats(0.5, 8.0)), max_steer=column(st.floats(0.1, 1.3)),
        max_accel=column(st.floats(0.5, 4.0)), max_decel=column(st.floats(1.0, 12.0)),
        max_speed=column(st.floats(10.0, 80.0)),
    )
    return batch, draw(st.floats(1e-3, 1.0))


def test_the_catalog_lies_within_the_property_ranges() -> None:
    """The kinematics properties below cover every blueprint: their limits are in the drawn ranges."""
    assert max(spec.max_accel for spec in VEHICLES) <= 4.0
    assert min(spec.max_speed for spec in VEHICLES) >= 10.0
    assert kinematics.REVERSE_MAX_SPEED >= 2.0 * 4.0 * 1.0  # reverse: a*dt <= top/2 as well


@settings(max_examples=300, deadline=None, database=None)
@given(vehicle_batches())
def test_step_vehicles_stays_finite_and_bounded(case: tuple[kinematics.VehicleBatch, float]) -> None:
    batch, dt = case
    result = kinematics.step_vehicles(batch, dt)
    for name in ("x", "y", "yaw", "speed", "steer_angle", "yaw_rate", "longitudinal_accel"):
        values = getattr(result, name)
        assert values.shape == batch.x.shape and np.all(np.isfinite(values)), name
    assert np.all(np.abs(result.yaw) <= math.pi + 1e-9)
    assert np.all(np.abs(result.steer_angle) <= np.maximum(np.abs(batch.steer_angle), batch.max_steer) + 1e-9)
    assert np.all(np.abs(result.speed) <= np.maximum(np.abs(batch.speed), np.maximum(batch.max_speed, 8.0)) + 1e-6)
    step = np.hypot(result.x - batch.x, result.y - batch.y)
    assert np.all(step <= np.maximum(np.abs(batch.speed), np.abs(result.speed)) * dt + 1e-6)


@settings(max_examples=200, deadline=None, database=None)
@given(vehicle_batches())
def test_without_throttle_a_vehicle_never_speeds_up_nor_reverses(case: tuple[kinematics.VehicleBatch, float]) -> None:
    batch, dt = case
    batch.throttle = np.zeros_like(batch.throttle)
    result = kinematics.step_vehicles(batch, dt)
    assert np.all(np.abs(result.speed) <= np.abs(batch.speed) + 1e-9)
    assert np.all(result.speed * batch.speed >= 0.0), "resistance brings a car to rest, never backwards"


def _polygon(center: tuple[float, float], half: tuple[float, float], yaw: float) -> Polygon:
    c, s = math.cos(yaw), math.sin(yaw)
    corners = [(sx * half[0], sy * half[1]) for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    return Polygon([(center[0] + c * x - s * y, center[1] + s * x + c * y) for x, y in corners])


boxes = st.tuples(
    st.tuples(st.floats(-6.0, 6.0), st.floats(-6.0, 6.0)),
    st.tuples(st.floats(0.1, 5.0), st.floats(0.1, 3.0)),
    st.floats(-math.pi, math.pi),
)


@settings(max_examples=400, deadline=None, database=None)
@given(boxes, boxes)
@example(box_a=((0.0, 0.0), (2.5, 1.0), 0.0), box_b=((1.5, 0.0), (1.0, 1.0), 1.0))  # three axes tie
def test_obb_overlap_is_symmetric_and_agrees_with_polygon_intersection(box_a: tuple, box_b: tuple) -> None:
    centers = np.array([box_a[0], box_b[0]])
    halves = np.array([box_a[1], box_b[1]])
    yaws = np.array([box_a[2], box_b[2]])
    forward, depth, normal = obb_overlap_2d(centers, halves, yaws, np.array([[0, 1]]))
    backward, depth_back, normal_back = obb_overlap_2d(centers, halves, yaws, np.array([[1, 0]]))
    polygon_a, polygon_b = _polygon(*box_a), _polygon(*box_b)
    area = polygon_a.intersection(polygon_b).area
    gap = polygon_a.distance(polygon_b)
    if area < 1e-6 and gap < 1e-6:
        return  # touching: either answer is right
    assert bool(forward[0]) == bool(backward[0]) == (area > 0.0)
    if forward[0]:
        assert depth[0] == pytest.approx(depth_back[0], abs=1e-9)
        assert np.linalg.norm(normal[0]) == pytest.approx(1.0)
        if abs(normal[0] @ (centers[1] - centers[0])) > 1e-9:  # (coincident centres have no direction)
            assert normal[0] @ normal_back[0] == pytest.approx(-1.0), "the normal points from the first box to the second"
        assert normal[0] @ (centers[1] - centers[0]) >= -1e-9
        pushed = _polygon(tuple(centers[1] + normal[0] * (depth[0] + 1e-6)), box_b[1], box_b[2])
        assert polygon_a.intersection(pushed).area < 1e-6, "moving b by depth along the normal separates them"
