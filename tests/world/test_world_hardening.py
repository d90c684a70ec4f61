"""Hostile input never poisons the world, and the smaller gaps of long runs are closed: forces and velocities are
checked, a non-finite step is refused naming the actor, OpenDRIVE that would crash libcarla is refused naming the
road and attribute, walkers have their AI controller, and a few calls no longer walk for minutes."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR
from recon_carla_bridge.world.maps import ReconMap
from recon_carla_bridge.world.simulation import NonFiniteStateError

STRAIGHT = (BUNDLED_MAPS_DIR / "StraightRoad.xodr").read_text(encoding="utf-8")


@pytest.mark.parametrize(("call", "message"), [
    (lambda v: v.add_impulse(carla.Vector3D(math.nan, 0, 0)), "add_impulse: x = nan is non-finite"),
    (lambda v: v.add_force(carla.Vector3D(0, math.inf, 0)), "add_force: y = inf is non-finite"),
    (lambda v: v.enable_constant_velocity(carla.Vector3D(math.nan, 0, 0)), "enable_constant_velocity: x = nan"),
    (lambda v: v.add_impulse(carla.Vector3D(1e12, 0, 0)), "add_impulse: x = 1e\\+12 N·s is beyond"),
    (lambda v: v.add_impulse(carla.Vector3D(1e8, 0, 0)), "add_impulse: it would give the actor a speed of"),
    (lambda v: v.add_force(carla.Vector3D(1e20, 0, 0)), "add_force: x = 1e\\+20 N is beyond"),
    (lambda v: v.set_target_velocity(carla.Vector3D(5e3, 0, 0)), "set_target_velocity: x = 5000 m/s is beyond"),
    (lambda v: v.set_transform(carla.Transform(carla.Location(1e30, 0, 0))), "set_transform location: x = 1e\\+30 m is beyond"),
    (lambda v: v.add_torque(carla.Vector3D(math.nan, 0, 0)), "add_torque: x = nan is non-finite"),
])
def test_forces_velocities_and_poses_refuse_non_finite_or_absurd_input_and_the_world_goes_on(
        straight_world: carla.World, spawn_vehicle: Callable, call: Callable, message: str) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    vehicle.apply_control(carla.VehicleControl(throttle=0.6))
    with pytest.raises(InputError, match=f"actor {vehicle.id} {message}"):
        call(vehicle)
    for _ in range(20):
        straight_world.tick()  # before: every later tick raised until the actor was destroyed
    location = vehicle.get_location()
    assert math.isfinite(location.x) and location.x > 50.5


def test_a_step_that_would_produce_a_non_finite_state_is_refused_naming_the_actor(
        straight_world: carla.World, spawn_vehicle: Callable) -> None:
    """The last line of defence: whatever slips past the input checks, a tick never publishes NaN."""
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    straight_world.tick()
    before = vehicle.get_location()
    straight_world.simulation.state_of(vehicle.id).speed = math.nan  # as an internal bug would
    with pytest.raises(NonFiniteStateError, match=f"actor {vehicle.id} \\(vehicle.lincoln.mkz_2020\\): location became"):
        straight_world.tick()
    after = vehicle.get_location()
    assert (after.x, after.y) == pytest.approx((before.x, before.y))
    straight_world.tick()  # the world steps on, the actor at rest where it was
    assert vehicle.get_velocity().length() == 0.0 and math.isfinite(vehicle.get_location().x)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('length="400.0">', 'length="-400.0">', "road 1 <road>: attribute 'length' = '-400.0' must be in"),
    ('<laneSection s="0">', '<laneSection s="1e30">', "road 1 <laneSection>: attribute 's' = '1e30' is out of range"),
    ('<laneSection s="0">', '<laneSection s="450">', "road 1 <laneSection>: attribute 's' = '450' lies past the road's end"),
    ('<width a="3.5"', '<width a="nan"', "road 1 <width>: attribute 'a' = 'nan' must be a finite number"),
    ('hdg="0" length="400.0"', 'hdg="0" length="inf"', "road 1 <geometry>: attribute 'length' = 'inf'"),
    ('id="1" junction="-1"', 'id="one" junction="-1"', "attribute 'id' = 'one' is not an integer"),
])
def test_opendrive_that_crashes_libcarla_is_refused_naming_file_road_and_attribute(old: str, new: str, message: str) -> None:
    assert old in STRAIGHT
    source = Path("/maps/Broken.xodr")
    with pytest.raises(InputError, match=f"{source}: .*{message}"):
        ReconMap("Broken", STRAIGHT.replace(old, new, 1), source)
    with pytest.raises(InputError, match=message):  # also through the plain carla.Map that planning code builds
        carla.Map("Broken", STRAIGHT.replace(old, new, 1))


@pytest.mark.parametrize(("call", "message"), [
    (lambda wp, m: wp.next(math.inf), "Waypoint.next: distance inf"),
    (lambda wp, m: wp.previous(5000.0), "Waypoint.previous: distance 5000.0"),
    (lambda wp, m: wp.get_landmarks(math.nan), "Waypoint.get_landmarks: distance nan"),
    (lambda wp, m: m.generate_waypoints(1e-6), "Map.generate_waypoints: distance 1e-06 is below"),
    (lambda wp, m: m.get_waypoint(carla.Location(math.nan, 0, 0)), "Map.get_waypoint: location.x = nan"),
    (lambda wp, m: m.get_waypoint_xodr(1, -1, math.nan), "Map.get_waypoint_xodr: s = nan"),
])
def test_native_map_calls_that_crash_or_hang_are_refused_with_carlas_error_type(call: Callable, message: str) -> None:
    wmap = ReconMap("Loop", (BUNDLED_MAPS_DIR / "Loop.xodr").read_text(encoding="utf-8"))
    waypoint = wmap.get_waypoint(carla.Location(0, 0, 0))
    with pytest.raises(RuntimeError, match=message):  # CARLA raises RuntimeError for a bad distance; so do we
        call(waypoint, wmap)


def test_next_until_lane_end_on_a_looped_lane_stops_after_one_lap(loop_world: carla.World) -> None:
    waypoint = loop_world.get_map().get_waypoint(carla.Location(0, 0, 0))
    started = time.perf_counter()
    walked = waypoint.next_until_lane_end(1.0)
    assert time.perf_counter() - started < 2.0
    assert 0 < len(walked) < 700  # before: 100,000 steps round and round the ~590 m ring
    assert all(w.road_id == waypoint.road_id and w.lane_id == waypoint.lane_id for w in walked)


def test_walker_ai_controller_walks_its_walker_to_the_target(straight_world: carla.World) -> None:
    library = straight_world.get_blueprint_library()
    walker = straight_world.spawn_actor(library.find("walker.pedestrian.0001"), carla.Transform(carla.Location(20, 9, 1)))
    controller = straight_world.spawn_actor(library.find("controller.ai.walker"), carla.Transform(), walker)
    assert isinstance(controller, carla.WalkerAIController)
    controller.start()
    controller.go_to_location(carla.Location(30, 9, 0))
    controller.set_max_speed(2.0)
    for _ in range(20):
        straight_world.tick()
    assert walker.get_location().x == pytest.approx(22.0, abs=0.1) and walker.get_velocity().x == pytest.approx(2.0)
    for _ in range(120):
        straight_world.tick()
    assert walker.get_location().x == pytest.approx(30.0, abs=0.6) and walker.get_velocity().length() == 0.0
    with pytest.raises(InputError, match="attach it to a walker"):
        straight_world.spawn_actor(library.find("controller.ai.walker"), carla.Transform())
    controller.destroy()
    with pytest.raises(RuntimeError, match="destroyed actor"):
        controller.go_to_location(carla.Location(0, 9, 0))


def test_a_sensor_stops_emitting_once_its_parent_is_destroyed(straight_world: carla.World, spawn_vehicle: Callable,
                                                              attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    _, measurements = attach_sensor(straight_world, vehicle, "sensor.other.imu")
    straight_world.tick()
    assert len(measurements) == 1
    vehicle.destroy()
    for _ in range(5):
        straight_world.tick()
    assert len(measurements) == 1


def test_traffic_lights_from_a_waypoint_grow_linearly_with_distance(carla_maps_dir: Path) -> None:
    world = recon_carla_bridge.Client(town="Town01", map_dirs=[carla_maps_dir]).get_world()
    waypoint = world.get_map().get_waypoint(carla.Location(100, 2, 0))
    started = time.perf_counter()
    far = world.get_traffic_lights_from_waypoint(waypoint, 4000.0)  # before: 116 s
    assert time.perf_counter() - started < 5.0
    near = world.get_traffic_lights_from_waypoint(waypoint, 100.0)
    assert {light.id for light in near} <= {light.id for light in far} and len(far) > len(near) > 0
    assert np.isfinite([light.get_location().x for light in far]).all()
