"""Background traffic as each leaderboard generation makes it: seeded, reproducible, moving, and off on request."""
from __future__ import annotations

from pathlib import Path

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.leaderboard.background_traffic import (
    SPAWN_FREE_RADIUS,
    TOWN_AMOUNT_V1,
    TrafficSettings,
    start_background_traffic,
)
from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.scene.scene_world import load_place_map as load_map
from recon_carla_bridge.leaderboard.routes import parse_routes_file

V1_ROUTE = """<routes><route id="0" town="Town01">
    <waypoint x="338.70" y="226.75" z="0.0" pitch="0" roll="0" yaw="-90"/>
    <waypoint x="321.99" y="194.67" z="0.0" pitch="0" roll="0" yaw="180"/>
</route></routes>"""
V2_ROUTE = """<routes><route id="0" town="Town01">
    <waypoints><position x="300.0" y="195.2" z="0.0"/><position x="120.0" y="195.2" z="0.0"/></waypoints>
</route></routes>"""


def _world_with_ego(tmp_path: Path, route_xml: str) -> tuple:
    path = tmp_path / "routes.xml"
    path.write_text(route_xml)
    (config,) = parse_routes_file(path)
    planned = plan_route(config, load_map("Town01"))
    world = recon_carla_bridge.Client().load_world("Town01")
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    start = planned.route[0][0]
    blueprint = world.get_blueprint_library().find("vehicle.lincoln.mkz_2020")
    blueprint.set_attribute("role_name", "hero")
    ego = world.spawn_actor(blueprint, carla.Transform(carla.Location(start.location.x, start.location.y, 0.5),
                                                        start.rotation))
    return world, ego, planned


def _layout(world) -> list[tuple[str, float, float]]:
    return sorted((a.type_id, round(a.get_location().x, 2), round(a.get_location().y, 2))
                  for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "background")


def test_1_0_route_fills_the_town_with_its_leaderboard_amount_of_moving_vehicles(carla_maps_dir, tmp_path):
    world, ego, planned = _world_with_ego(tmp_path, V1_ROUTE)
    traffic = start_background_traffic(world, ego, planned, TrafficSettings(seed=3))
    background = [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "background"]
    assert len(background) == TOWN_AMOUNT_V1["Town01"] == traffic.summary()["spawned"] == 120
    starts = {a.id: a.get_location() for a in background}
    for _ in range(60):
        world.tick()
        traffic.tick()
    moved = [a for a in background if a.get_location().distance(starts[a.id]) > 3.0]
    assert len(moved) > 60  # driven by the traffic manager (some wait at red lights or behind others)
    first = _layout(world)
    traffic.close()
    assert not _layout(world)

    again_world, again_ego, _ = _world_with_ego(tmp_path, V1_ROUTE)
    again = start_background_traffic(again_world, again_ego, planned, TrafficSettings(seed=3))
    same_start = _layout(again_world)
    other_world, other_ego, _ = _world_with_ego(tmp_path, V1_ROUTE)
    start_background_traffic(other_world, other_ego, planned, TrafficSettings(seed=4))
    assert same_start != _layout(other_world)  # another seed, other vehicles and places
    for _ in range(60):
        again_world.tick()
        again.tick()
    assert _layout(again_world) == first  # same seed: the same traffic, to the centimetre


def test_vehicle_count_and_off_switch(carla_maps_dir, tmp_path):
    world, ego, planned = _world_with_ego(tmp_path, V1_ROUTE)
    start_background_traffic(world, ego, planned, TrafficSettings(vehicles=7))
    assert len(_layout(world)) == 7
    world, ego, planned = _world_with_ego(tmp_path, V1_ROUTE)
    off = start_background_traffic(world, ego, planned, TrafficSettings(enabled=False))
    assert not _layout(world) and off.summary()["mode"] == "off"


def test_2_0_route_keeps_traffic_around_the_ego_as_it_moves(carla_maps_dir, tmp_path):
    world, ego, planned = _world_with_ego(tmp_path, V2_ROUTE)
    traffic = start_background_traffic(world, ego, planned, TrafficSettings(seed=0))
    near = [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "background"]
    assert 3 <= len(near) <= 12, len(near)
    distances = [a.get_location().distance(ego.get_location()) for a in near]
    assert min(distances) >= SPAWN_FREE_RADIUS - 1.0 and max(distances) < 60.0
    first_ids = {a.id for a in near}
    for step in range(1, 121):  # carry the ego 120 m down its route, ticking the world
        target = planned.points[min(step, len(planned.points) - 1)]
        ego.set_transform(carla.Transform(carla.Location(float(target[0]), float(target[1]), 0.3),
                                          carla.Rotation(yaw=float(planned.yaws[step]))))
        world.tick()
        traffic.tick()
    now = [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name") == "background"]
    assert now and {a.id for a in now} - first_ids  # new vehicles appeared along the way
    distances = np.array([a.get_location().distance(ego.get_location()) for a in now])
    assert distances.max() < 120.0  # the ones left far behind were removed
    assert traffic.summary()["removed"] > 0


@pytest.mark.parametrize("route_format, spacing", [("1.0", 50.0), ("2.0", 200.0)])
def test_global_plan_density_follows_the_route_file_not_the_constructor(route_format, spacing):
    """A leaderboard-2.0-style agent class (no own __init__) on a 1.0 route gets 1.0's 50 m plan, and vice versa."""
    from recon_carla_bridge.leaderboard.agent_host import build_agent, plan_sample_distance
    from recon_carla_bridge.leaderboard.api.autoagents.autonomous_agent import AutonomousAgent

    class NoInitAgent(AutonomousAgent):
        pass

    class LegacyAgent(AutonomousAgent):
        def __init__(self, path_to_conf_file):
            super().__init__(path_to_conf_file)

    route = [(carla.Transform(carla.Location(float(x), 0.0, 0.0)), 4) for x in range(0, 1001)]  # 4: LANEFOLLOW
    gps = [({"lat": 0.0, "lon": float(x), "z": 0.0}, 4) for x in range(0, 1001)]
    for agent_class in (NoInitAgent, LegacyAgent):
        agent = build_agent(agent_class, "", gps, route, plan_sample_distance(route_format))
        xs = [t.location.x for t, _ in agent._global_plan_world_coord]
        assert np.diff(xs).max() == pytest.approx(spacing, abs=3.0), (agent_class.__name__, xs[:5])
