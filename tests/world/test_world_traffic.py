"""The traffic manager (autopilot) and traffic lights."""
from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable

import carla
import pytest
from shapely.geometry import Polygon

import recon_carla_bridge
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR

DT = 0.05


def _footprint(actor: carla.Actor) -> Polygon:
    """The actor's bounding box on the ground, in world x/y."""
    transform, box = actor.get_transform(), actor.bounding_box
    corners = [transform.transform(carla.Location(box.location.x + sx * box.extent.x, box.location.y + sy * box.extent.y, 0.0))
               for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    return Polygon([(c.x, c.y) for c in corners])


def _overlapping_pairs(actors: list[carla.Actor]) -> list[tuple[int, int]]:
    """Pairs of actors whose footprints overlap by more than 1 cm²."""
    footprints = {a.id: _footprint(a) for a in actors}
    return [(a.id, b.id) for a, b in itertools.combinations(actors, 2)
            if a.get_location().distance(b.get_location()) < 15.0
            and footprints[a.id].intersection(footprints[b.id]).area > 1e-4]


def _yaw_difference(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _spawn_autopilot_fleet(world: carla.World, spawn_points: list[carla.Transform], seed: int = 0) -> list[carla.Vehicle]:
    rng = random.Random(seed)
    cars = [bp for bp in world.get_blueprint_library().filter("vehicle.*") if bp.get_attribute("base_type") == "car"]
    fleet = []
    for transform in spawn_points:
        vehicle = world.try_spawn_actor(rng.choice(cars), transform)
        if vehicle is not None:
            vehicle.set_autopilot(True)
            fleet.append(vehicle)
    return fleet


def _collision_log(world: carla.World, vehicles: list[carla.Vehicle]) -> list[carla.CollisionEvent]:
    events: list[carla.CollisionEvent] = []
    blueprint = world.get_blueprint_library().find("sensor.other.collision")
    for vehicle in vehicles:
        world.spawn_actor(blueprint, carla.Transform(), attach_to=vehicle).listen(events.append)
    return events


def test_autopilot_drives_along_lanes_without_touching(loop_world: carla.World) -> None:
    wmap = loop_world.get_map()
    fleet = _spawn_autopilot_fleet(loop_world, wmap.get_spawn_points()[::6])
    assert len(fleet) >= 10
    events = _collision_log(loop_world, fleet)
    travelled = {v.id: 0.0 for v in fleet}
    previous = {v.id: v.get_location() for v in fleet}
    for tick in range(int(30.0 / DT)):
        loop_world.tick()
        for vehicle in fleet:
            location = vehicle.get_location()
            travelled[vehicle.id] += location.distance(previous[vehicle.id])
            previous[vehicle.id] = location
        if tick % 10 == 0:
            assert _overlapping_pairs(fleet) == [], f"tick {tick}"
    assert events == []
    for vehicle in fleet:
        assert travelled[vehicle.id] > 50.0, vehicle
        location = vehicle.get_location()
        lane = wmap.get_waypoint(location, project_to_road=False)
        assert lane is not None and lane.lane_type == carla.LaneType.Driving, vehicle
        assert lane.transform.location.distance(location) < 0.6, "near the lane centre"
        assert _yaw_difference(vehicle.get_transform().rotation.yaw, lane.transform.rotation.yaw) < 15.0
        assert abs(location.z - lane.transform.location.z) < 0.15
        speed_kmh = 3.6 * vehicle.get_velocity().length()
        assert speed_kmh < vehicle.get_speed_limit() + 1.0, "the TM keeps below the limit"


def test_autopilot_off_hands_the_car_back(loop_world: carla.World) -> None:
    vehicle = _spawn_autopilot_fleet(loop_world, loop_world.get_map().get_spawn_points()[:1])[0]
    for _ in range(60):
        loop_world.tick()
    assert vehicle.get_velocity().length() > 3.0
    vehicle.set_autopilot(False)
    vehicle.apply_control(carla.VehicleControl(brake=1.0))
    for _ in range(60):
        loop_world.tick()
    assert vehicle.get_velocity().length() == 0.0
    assert vehicle.get_control().brake == 1.0, "the TM no longer overrides the user's control"


def test_traffic_manager_settings_slow_a_car_down() -> None:
    client = recon_carla_bridge.Client("localhost", 2000, map_dirs=[BUNDLED_MAPS_DIR])
    world = client.load_world("Loop")
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, DT
    world.apply_settings(settings)
    traffic_manager = client.get_trafficmanager(8000)
    traffic_manager.set_synchronous_mode(True)
    assert traffic_manager.get_port() == 8000
    points = world.get_map().get_spawn_points()
    fast, slow = _spawn_autopilot_fleet(world, [points[0], points[len(points) // 2]])
    traffic_manager.vehicle_percentage_speed_difference(slow, 70.0)  # 30 % of the limit
    for _ in range(int(15.0 / DT)):
        world.tick()
    limit = fast.get_speed_limit() / 3.6
    assert fast.get_velocity().length() > 0.55 * limit
    assert slow.get_velocity().length() < 0.35 * limit


def test_autopilot_cars_do_not_collide_at_an_unsignalized_junction(crossing_world: carla.World) -> None:
    spawn_points = crossing_world.get_map().get_spawn_points()
    random.Random(0).shuffle(spawn_points)
    fleet = _spawn_autopilot_fleet(crossing_world, spawn_points[:16])
    events = _collision_log(crossing_world, fleet)
    for _ in range(int(45.0 / DT)):
        crossing_world.tick()
    assert [(e.actor.id, e.other_actor.id, e.frame) for e in events] == []


# ---- CARLA towns (shared data) ----------------------------------------------------------------
def test_autopilot_follows_the_road_surface_on_town04(open_town_world: Callable) -> None:
    world = open_town_world("Town04")
    wmap = world.get_map()
    spawn_points = wmap.get_spawn_points()
    heights = [t.location.z for t in spawn_points]
    assert max(heights) - min(heights) > 5.0, "Town04 has hills and bridges"
    # the spawn points highest and lowest above the ground, a few of each
    chosen = sorted(spawn_points, key=lambda t: t.location.z)
    fleet = _spawn_autopilot_fleet(world, chosen[:4] + chosen[-4:])
    assert len(fleet) == 8
    worst = 0.0
    for _ in range(int(20.0 / DT)):
        world.tick()
        for vehicle in fleet:
            location = vehicle.get_location()
            road = wmap.get_waypoint(location)
            worst = max(worst, abs(location.z - road.transform.location.z))
    assert worst < 0.3
    assert all(v.get_location().distance(t.location) > 50.0 for v, t in zip(fleet, chosen[:4] + chosen[-4:]))


def test_town01_traffic_lights_cycle_one_green_per_group(open_town_world: Callable) -> None:
    world = open_town_world("Town01")
    lights = list(world.get_actors().filter("traffic.traffic_light"))
    assert len(lights) >= 20
    assert all(isinstance(light, carla.TrafficLight) for light in lights)
    groups = {tuple(sorted(m.id for m in light.get_group_traffic_lights())) for light in lights}
    assert all(len(group) >= 2 for group in groups)
    assert sorted(i for group in groups for i in group) == sorted(light.id for light in lights), "groups partition the lights"
    for light in lights:
        volume = light.trigger_volume
        assert isinstance(volume, carla.BoundingBox) and volume.extent.x > 0.0 and volume.extent.y > 0.0
        assert light.get_stop_waypoints() and all(isinstance(w, carla.Waypoint) for w in light.get_stop_waypoints())
    watched = lights[0]
    history: list[tuple[carla.TrafficLightState, float]] = []
    for _ in range(int(50.0 / DT)):
        world.tick()
        now = world.get_snapshot().timestamp.elapsed_seconds
        if not history or history[-1][0] != watched.get_state():
            history.append((watched.get_state(), now))
        for group in groups:
            lit = [i for i in group if world.get_actor(i).get_state() != carla.TrafficLightState.Red]
            assert len(lit) <= 1, "one light of a group is green or yellow at a time"
    states = [state for state, _ in history]
    green, yellow, red = carla.TrafficLightState.Green, carla.TrafficLightState.Yellow, carla.TrafficLightState.Red
    start = states.index(green)
    assert states[start:start + 3] == [green, yellow, red]
    durations = [b - a for (_, a), (_, b) in zip(history[start:], history[start + 1:])]
    assert durations[0] == pytest.approx(watched.get_green_time(), abs=DT + 1e-6)
    assert durations[1] == pytest.approx(watched.get_yellow_time(), abs=DT + 1e-6)
    assert green in states[start + 3:], "its turn comes round again"


def _upstream(stop: carla.Waypoint, distance: float) -> carla.Waypoint:
    behind = stop.previous(distance)
    assert behind, "the controlled lane continues behind the stop line"
    return behind[0]


def _stop_line(light: carla.TrafficLight) -> carla.Waypoint:
    """The stop line: where the light's trigger volume ends, ahead of its stop waypoint (which lies under it)."""
    stop = light.get_stop_waypoints()[0]
    volume, pole = light.trigger_volume, light.get_transform()
    centre = pole.transform(carla.Location(volume.location))
    yaw = math.radians(pole.rotation.yaw + volume.rotation.yaw)
    offset = centre - stop.transform.location
    ahead = offset.x * math.cos(yaw) + offset.y * math.sin(yaw) + volume.extent.x
    return stop.next(ahead)[0] if ahead > 0.05 else stop


def _before_line(vehicle: carla.Actor, stop: carla.Waypoint) -> float:
    """Signed distance (m) of the vehicle's front ahead of the stop line (negative: before it)."""
    forward = stop.transform.get_forward_vector()
    delta = vehicle.get_location() - stop.transform.location
    return delta.x * forward.x + delta.y * forward.y + vehicle.bounding_box.extent.x


def test_autopilot_stops_at_a_red_light_and_goes_on_green(open_town_world: Callable) -> None:
    world = open_town_world("Town01")
    light = world.get_actors().filter("traffic.traffic_light")[0]
    stop = _stop_line(light)
    for member in light.get_group_traffic_lights():
        member.set_state(carla.TrafficLightState.Red)
        member.freeze(True)
    start = _upstream(stop, 40.0).transform
    start.location.z += 0.5
    vehicle = world.spawn_actor(world.get_blueprint_library().find("vehicle.tesla.model3"), start)
    vehicle.set_autopilot(True)
    for _ in range(int(20.0 / DT)):
        world.tick()
    assert vehicle.get_velocity().length() < 0.1
    assert -8.0 < _before_line(vehicle, stop) < 0.5, "waiting just before the stop line"
    for member in light.get_group_traffic_lights():
        member.freeze(False)
    light.set_state(carla.TrafficLightState.Green)
    light.freeze(True)
    for _ in range(int(10.0 / DT)):
        world.tick()
    assert _before_line(vehicle, stop) > 10.0, "green: it drove on through the junction"


def test_a_car_waiting_at_red_is_at_that_traffic_light(open_town_world: Callable) -> None:
    world = open_town_world("Town01")
    light = world.get_actors().filter("traffic.traffic_light")[0]
    for member in light.get_group_traffic_lights():
        member.set_state(carla.TrafficLightState.Red)
        member.freeze(True)
    start = _upstream(light.get_stop_waypoints()[0], 40.0).transform
    start.location.z += 0.5
    vehicle = world.spawn_actor(world.get_blueprint_library().find("vehicle.tesla.model3"), start)
    vehicle.set_autopilot(True)
    for _ in range(int(20.0 / DT)):
        world.tick()
    assert vehicle.get_velocity().length() < 0.1
    assert vehicle.is_at_traffic_light()
    assert vehicle.get_traffic_light() == light
    assert vehicle.get_traffic_light_state() == carla.TrafficLightState.Red


def test_world_finds_traffic_lights_by_opendrive_id_and_junction(open_town_world: Callable) -> None:
    world = open_town_world("Town01")
    light = world.get_actors().filter("traffic.traffic_light")[0]
    assert world.get_traffic_light_from_opendrive_id(light.get_opendrive_id()) == light
    junction = light.get_stop_waypoints()[0].next(10.0)[0].get_junction()
    assert light in world.get_traffic_lights_in_junction(junction.id)
    upstream = _upstream(light.get_stop_waypoints()[0], 5.0)
    assert light in world.get_traffic_lights_from_waypoint(upstream, 20.0)
