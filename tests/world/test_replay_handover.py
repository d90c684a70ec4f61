"""A logged vehicle held behind a slow ego (it waits and catches up by turns) is handed to lane following at the
speed it really moved, not at its last catch-up jump: it must not drive into the ego when its log ends."""
from __future__ import annotations

import math

import carla
import numpy as np

import recon_carla_bridge
from recon_carla_bridge.scene.scene_world import TrackReplay

EGO_SPEED = 2.0  # m/s
LOG_SPEED = 11.0  # m/s: the follower's log drives much faster than the ego
LOG_END_S = 2.0  # 22 m of log: it ends while the follower is held


def test_a_held_follower_is_handed_over_at_its_mean_speed_and_does_not_hit_the_ego() -> None:
    world = recon_carla_bridge.Client(town="StraightRoad").get_world()
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    start = world.get_map().get_spawn_points()[0]
    forward = start.get_forward_vector()
    library = world.get_blueprint_library()
    ego_start = carla.Transform(start.location + forward * 12.0, start.rotation)
    ego = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), ego_start)
    follower = world.spawn_actor(library.find("vehicle.mini.cooper_s"), start)
    times = np.linspace(0.0, LOG_END_S, 21)
    direction = np.array([forward.x, forward.y, 0.0])
    origin = np.array([start.location.x, start.location.y, start.location.z])
    locations = origin + np.outer(times * LOG_SPEED, direction)
    world.simulation.set_replay(follower.id, TrackReplay(times, locations, np.full(len(times), start.rotation.yaw),
                                                         hold_after_end=False), drive_after=LOG_END_S)
    hits: list[int] = []
    sensor = world.spawn_actor(library.find("sensor.other.collision"), carla.Transform(), attach_to=ego)
    sensor.listen(lambda event: hits.append(event.other_actor.id))
    speeds_at_handover = []
    for _ in range(240):  # 12 s: the log (delayed by the waits) ends and the follower drives on
        ego.set_target_velocity(carla.Vector3D(forward.x * EGO_SPEED, forward.y * EGO_SPEED, 0.0))
        replayed = world.simulation.is_replayed(follower.id)
        world.tick()
        if replayed and not world.simulation.is_replayed(follower.id):
            speeds_at_handover.append(follower.get_velocity().length())
    world.tick()
    assert speeds_at_handover, "the follower's log never ended"
    assert speeds_at_handover[0] < EGO_SPEED + 1.5  # its stop-and-go mean, not the 11 m/s catch-up jump
    assert follower.id not in hits
    gap = ego.get_location().distance(follower.get_location())
    assert gap > 4.0 and math.isfinite(gap)
