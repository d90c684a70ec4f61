"""Drive an ego vehicle ~300 m across Town01 with CARLA's BasicAgent, in synchronous mode.

A plain CARLA user script: it expects a CARLA server on localhost:2000 and prints one JSON line
at the end: {"reached": ..., "collisions": ..., "route_length_m": ..., "sim_time_s": ...}.
"""
import itertools
import json
import math

import carla

from agents.navigation.basic_agent import BasicAgent
from agents.navigation.global_route_planner import GlobalRoutePlanner

TARGET_ROUTE_M = 300.0
MAX_SIM_TIME_S = 120.0
DT = 0.05


def route_length(route):
    """Length in metres of a GlobalRoutePlanner route [(waypoint, road_option), ...]."""
    return sum(a[0].transform.location.distance(b[0].transform.location) for a, b in itertools.pairwise(route))


def main():
    client = carla.Client('localhost', 2000)
    client.set_timeout(10.0)
    world = client.load_world('Town01')

    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = DT
    world.apply_settings(settings)

    world_map = world.get_map()
    spawn_points = world_map.get_spawn_points()
    start = spawn_points[0]

    # The destination: the spawn point whose route from the start is closest to 300 m.
    planner = GlobalRoutePlanner(world_map, 2.0)
    best, best_length = None, -1.0
    for candidate in spawn_points[1:]:
        if candidate.location.distance(start.location) > TARGET_ROUTE_M:
            continue
        length = route_length(planner.trace_route(start.location, candidate.location))
        if best is None or abs(length - TARGET_ROUTE_M) < abs(best_length - TARGET_ROUTE_M):
            best, best_length = candidate, length

    blueprint_library = world.get_blueprint_library()
    ego_bp = blueprint_library.find('vehicle.lincoln.mkz_2020')
    ego_bp.set_attribute('role_name', 'hero')
    ego = world.spawn_actor(ego_bp, start)

    collisions = []
    collision_bp = blueprint_library.find('sensor.other.collision')
    collision_sensor = world.spawn_actor(collision_bp, carla.Transform(), attach_to=ego)
    collision_sensor.listen(lambda event: collisions.append(event.other_actor.type_id))

    world.tick()
    agent = BasicAgent(ego, target_speed=30)
    agent.set_destination(best.location)

    sim_time = 0.0
    while not agent.done() and sim_time < MAX_SIM_TIME_S:
        ego.apply_control(agent.run_step())
        world.tick()
        sim_time = world.get_snapshot().timestamp.elapsed_seconds

    final = ego.get_location()
    result = {
        'reached': agent.done(),
        'collisions': len(collisions),
        'route_length_m': round(best_length, 1),
        'sim_time_s': round(sim_time, 2),
        'distance_to_destination_m': round(math.hypot(final.x - best.location.x, final.y - best.location.y), 2),
    }

    collision_sensor.stop()
    collision_sensor.destroy()
    ego.destroy()
    settings.synchronous_mode = False
    settings.fixed_delta_seconds = None
    world.apply_settings(settings)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
