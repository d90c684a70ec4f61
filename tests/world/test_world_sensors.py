"""Sensors delivered inside world.tick(): lane invasion, GNSS, IMU, speedometer, OpenDRIVE map,
cameras; and what happens when a user's callback fails."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import carla
import numpy as np
import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.api.utils.route_manipulation import _location_to_gps

DT = 0.05
METRES_PER_DEGREE_LATITUDE = 111_320.0


def _corners_y(vehicle: carla.Actor) -> list[float]:
    """CARLA y of the vehicle's four bounding-box corners (ground plane)."""
    transform, extent = vehicle.get_transform(), vehicle.bounding_box.extent
    return [transform.transform(carla.Location(sx * extent.x, sy * extent.y, 0.0)).y
            for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1))]


def test_lane_invasion_fires_when_a_corner_crosses_a_marking(straight_world: carla.World, spawn_vehicle: Callable,
                                                             attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 5.25)  # lane -2, the outer lane towards +x
    sensor, events = attach_sensor(straight_world, vehicle, "sensor.other.lane_invasion")
    vehicle.apply_control(carla.VehicleControl(throttle=0.4))
    for _ in range(40):
        straight_world.tick()
    assert events == [], "driving straight in the lane crosses nothing"
    vehicle.apply_control(carla.VehicleControl(throttle=0.3, steer=-0.08))  # drift left, towards lane -1
    first_corner_over = None
    for _ in range(120):
        frame = straight_world.tick()
        if first_corner_over is None and min(_corners_y(vehicle)) < 3.5:  # the broken line at y = 3.5
            first_corner_over = frame
    assert first_corner_over is not None and events
    first = events[0]
    assert isinstance(first, carla.LaneInvasionEvent) and first.actor == vehicle
    assert first.frame == first_corner_over
    assert all(isinstance(m, carla.LaneMarking) for e in events for m in e.crossed_lane_markings)
    assert [m.type for m in first.crossed_lane_markings] == [carla.LaneMarkingType.Broken]
    assert first.crossed_lane_markings[0].lane_change == carla.LaneChange.Both
    crossed = [m.type for e in events for m in e.crossed_lane_markings]
    if min(_corners_y(vehicle)) < 0.0:  # drifted on over the centre line
        assert carla.LaneMarkingType.Solid in crossed
    sensor.stop()
    assert not sensor.is_listening()


def _gnss_after_tick(world: carla.World, fixes: list) -> carla.GnssMeasurement:
    world.tick()
    return fixes[-1]


def test_gnss_longitude_grows_eastwards(straight_world: carla.World, spawn_vehicle: Callable,
                                        attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    _, fixes = attach_sensor(straight_world, vehicle, "sensor.other.gnss")
    start = _gnss_after_tick(straight_world, fixes)
    assert isinstance(start, carla.GnssMeasurement) and start.frame == straight_world.get_snapshot().frame
    assert start.latitude == pytest.approx(49.0, abs=1e-3) and start.longitude == pytest.approx(8.4, abs=1e-2)
    assert start.altitude == pytest.approx(0.0, abs=1e-6)
    vehicle.set_target_velocity(carla.Vector3D(10.0, 0.0, 0.0))  # east (+x)
    for _ in range(20):
        straight_world.tick()
    east_m = vehicle.get_location().x - 50.0
    east = fixes[-1]
    assert east.latitude == pytest.approx(start.latitude, abs=1e-7)  # (CARLA's float32 locations: mm)
    metres_per_degree_lon = METRES_PER_DEGREE_LATITUDE * math.cos(math.radians(start.latitude))
    assert (east.longitude - start.longitude) * metres_per_degree_lon == pytest.approx(east_m, rel=0.03)


def test_gnss_latitude_grows_northwards_like_the_compass_and_gps_routes(
        straight_world: carla.World, spawn_vehicle: Callable, attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75, yaw=-90.0)  # facing north: compass 0
    _, fixes = attach_sensor(straight_world, vehicle, "sensor.other.gnss")
    start = _gnss_after_tick(straight_world, fixes)
    vehicle.set_simulate_physics(False)  # carry it 30 m north (-y), off the road
    vehicle.set_transform(carla.Transform(carla.Location(50.0, 1.75 - 30.0, 0.0), carla.Rotation(yaw=-90.0)))
    north = _gnss_after_tick(straight_world, fixes)
    assert north.longitude == pytest.approx(start.longitude, abs=1e-7)
    assert (north.latitude - start.latitude) * METRES_PER_DEGREE_LATITUDE == pytest.approx(30.0, rel=0.03)
    route_point = _location_to_gps(49.0, 8.4, vehicle.get_location())
    assert north.latitude == pytest.approx(route_point["lat"], abs=1e-6)


def test_gnss_noise_is_seeded(straight_world: carla.World, spawn_vehicle: Callable, attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    noisy = {"noise_lat_stddev": "0.00001", "noise_lon_stddev": "0.00001", "noise_seed": "7"}
    _, first = attach_sensor(straight_world, vehicle, "sensor.other.gnss", **noisy)
    _, second = attach_sensor(straight_world, vehicle, "sensor.other.gnss", **noisy)
    _, clean = attach_sensor(straight_world, vehicle, "sensor.other.gnss")
    for _ in range(30):
        straight_world.tick()
    latitudes = np.array([m.latitude for m in first])
    assert [m.latitude for m in first] == [m.latitude for m in second], "same seed, same noise"
    assert len({m.latitude for m in clean}) == 1, "a parked car without noise"
    errors = latitudes - clean[0].latitude
    assert 0.3e-5 < errors.std() < 3e-5


@pytest.mark.parametrize(("yaw", "compass"), [(-90.0, 0.0), (0.0, math.pi / 2), (90.0, math.pi), (180.0, 1.5 * math.pi)])
def test_imu_at_rest_feels_gravity_and_points_its_compass(straight_world: carla.World, spawn_vehicle: Callable,
                                                          attach_sensor: Callable, yaw: float, compass: float) -> None:
    """Compass: 0 facing north (CARLA -y), pi/2 facing east (+x), clockwise."""
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75, yaw=yaw)
    _, samples = attach_sensor(straight_world, vehicle, "sensor.other.imu")
    for _ in range(3):
        straight_world.tick()
    sample = samples[-1]
    assert isinstance(sample, carla.IMUMeasurement)
    assert (sample.accelerometer.x, sample.accelerometer.y, sample.accelerometer.z) == pytest.approx((0.0, 0.0, 9.81), abs=1e-6)
    assert sample.gyroscope.length() == pytest.approx(0.0, abs=1e-9)
    assert math.cos(sample.compass - compass) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= sample.compass < 2 * math.pi


def test_imu_feels_forward_acceleration_and_braking(straight_world: carla.World, spawn_vehicle: Callable,
                                                    attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75, yaw=0.0)
    _, samples = attach_sensor(straight_world, vehicle, "sensor.other.imu")
    vehicle.apply_control(carla.VehicleControl(throttle=1.0))
    speeds = []
    for _ in range(20):
        straight_world.tick()
        speeds.append(vehicle.get_velocity().x)
    measured = samples[-1].accelerometer.x
    assert measured == pytest.approx((speeds[-1] - speeds[-2]) / DT, rel=1e-6)
    assert measured > 2.0
    vehicle.apply_control(carla.VehicleControl(brake=1.0))
    straight_world.tick()
    assert samples[-1].accelerometer.x < -5.0


def test_speedometer_reports_signed_forward_speed(straight_world: carla.World, spawn_vehicle: Callable,
                                                  attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 100.0, 1.75, yaw=0.0)
    _, readings = attach_sensor(straight_world, vehicle, "sensor.speedometer")
    vehicle.apply_control(carla.VehicleControl(throttle=0.6))
    for _ in range(30):
        straight_world.tick()
    assert readings[-1].data["speed"] == pytest.approx(vehicle.get_velocity().length())
    assert readings[-1].data["speed"] > 2.0
    assert readings[-1].frame == straight_world.get_snapshot().frame
    vehicle.apply_control(carla.VehicleControl(brake=1.0))
    for _ in range(40):
        straight_world.tick()
    vehicle.apply_control(carla.VehicleControl(throttle=0.6, reverse=True))
    for _ in range(30):
        straight_world.tick()
    assert readings[-1].data["speed"] == pytest.approx(-vehicle.get_velocity().length())
    assert readings[-1].data["speed"] < -1.0


def test_opendrive_map_sensor_hands_out_the_map(crossing_world: carla.World, spawn_vehicle: Callable,
                                                attach_sensor: Callable) -> None:
    spawn = crossing_world.get_map().get_spawn_points()[0]
    vehicle = spawn_vehicle(crossing_world, spawn.location.x, spawn.location.y, spawn.rotation.yaw)
    _, readings = attach_sensor(crossing_world, vehicle, "sensor.opendrive_map", reading_frequency="1")
    crossing_world.tick()
    text = readings[-1].data["opendrive"]
    assert text == crossing_world.get_map().to_opendrive()
    rebuilt = carla.Map("copy", text)
    assert len(rebuilt.get_topology()) == len(crossing_world.get_map().get_topology())


def test_a_failing_callback_does_not_stop_the_world(straight_world: carla.World, spawn_vehicle: Callable,
                                                    attach_sensor: Callable) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    failing, _ = attach_sensor(straight_world, vehicle, "sensor.other.imu")
    calls: list[int] = []

    def broken(measurement: carla.SensorData) -> None:
        calls.append(measurement.frame)
        raise ZeroDivisionError("user bug in the callback")

    failing.listen(broken)
    _, healthy = attach_sensor(straight_world, vehicle, "sensor.other.gnss")
    vehicle.apply_control(carla.VehicleControl(throttle=0.5))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = [straight_world.tick() for _ in range(5)]
    assert calls == frames, "the failing callback is still called every tick"
    assert [m.frame for m in healthy] == frames, "other sensors are unaffected"
    assert straight_world.get_snapshot().frame == frames[-1] and vehicle.get_location().x > 50.0
    errors = straight_world.simulation.sensor_errors
    assert len(errors) == 5 and all("ZeroDivisionError" in e and "user bug in the callback" in e for e in errors)
    # Warned once (a long run must not print a warning every tick); every failure is still kept, newest last.
    assert sum(issubclass(w.category, RuntimeWarning) and "ZeroDivisionError" in str(w.message) for w in caught) == 1
    assert straight_world.simulation.sensor_errors.counts[failing.id] == 5


@pytest.mark.parametrize(("attribute", "value"), [("image_size_x", "0"), ("image_size_x", "100000"),
                                                  ("image_size_y", "-4"), ("fov", "0"), ("fov", "270")])
def test_camera_with_impossible_settings_is_an_input_error(straight_world: carla.World, spawn_vehicle: Callable,
                                                           attribute: str, value: str) -> None:
    vehicle = spawn_vehicle(straight_world, 50.0, 1.75)
    blueprint = straight_world.get_blueprint_library().find("sensor.camera.rgb")
    blueprint.set_attribute(attribute, value)
    with pytest.raises(InputError, match=attribute) as error:
        straight_world.spawn_actor(blueprint, carla.Transform(carla.Location(x=1.5, z=2.4)), attach_to=vehicle)
    assert "sensor.camera.rgb" in str(error.value)
    assert len(straight_world.get_actors().filter("sensor.*")) == 0


def test_rgb_camera_on_a_map_without_reconstruction_delivers_images(crossing_world: carla.World, spawn_vehicle: Callable,
                                                    attach_sensor: Callable) -> None:
    spawn = crossing_world.get_map().get_spawn_points()[0]
    vehicle = spawn_vehicle(crossing_world, spawn.location.x, spawn.location.y, spawn.rotation.yaw)
    _, images = attach_sensor(crossing_world, vehicle, "sensor.camera.rgb", carla.Transform(carla.Location(x=1.5, z=2.4)),
                              image_size_x="64", image_size_y="48")
    frame = crossing_world.tick()
    assert crossing_world.get_snapshot().frame == frame
    assert len(images) == 1 and isinstance(images[0], carla.Image)
    assert (images[0].width, images[0].height, images[0].frame) == (64, 48, frame)
    assert len(images[0].raw_data) == 64 * 48 * 4
    pixels = np.frombuffer(images[0].raw_data, dtype=np.uint8).reshape(48, 64, 4)
    assert len(np.unique(pixels[:, :, :3].reshape(-1, 3), axis=0)) > 1, "the road is drawn, not a blank frame"
