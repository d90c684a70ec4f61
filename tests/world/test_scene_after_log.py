"""A reconstructed scene past the end of its log, and where in it to spawn (bundled KITTI scene, 7.7 s log)."""
from __future__ import annotations

import math

import carla
import pytest

import recon_carla_bridge
from recon_carla_bridge.scene.scene_world import ego_start_transform


@pytest.fixture
def world() -> carla.World:
    world = recon_carla_bridge.Client(scene="kitti").get_world()
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    return world


def _shown(world: carla.World) -> dict[str, carla.Location]:
    return {a.attributes["role_name"]: a.get_location() for a in world.get_actors().filter("vehicle.*")
            if a.get_location().z > -100}


def _tick_until(world: carla.World, seconds: float) -> None:
    while world.get_snapshot().timestamp.elapsed_seconds < seconds - 1e-6:
        world.tick()


def test_logged_traffic_stays_and_drives_on_after_the_log_ends(world: carla.World) -> None:
    log_end = float(world.scene_bundle.timestamps[-1] - world.scene_bundle.timestamps[0])
    _tick_until(world, log_end - 0.5)
    before = _shown(world)
    _tick_until(world, log_end + 2.5)
    after = _shown(world)
    assert set(before) <= set(after)  # no logged vehicle vanished when the log ended
    drivers = [a for a in world.get_actors().filter("vehicle.*")
               if a.attributes["role_name"] in before and not world.simulation.is_replayed(a.id)]
    assert drivers  # moving vehicles were handed to lane following
    _tick_until(world, log_end + 4.5)
    later = _shown(world)
    moved = [a for a in drivers if later[a.attributes["role_name"]].distance(after[a.attributes["role_name"]]) > 2.0]
    assert moved, "no logged vehicle drove on after its log"
    wmap = world.get_map()

    def along_a_lane(actor: carla.Actor) -> bool:
        waypoint = wmap.get_waypoint(actor.get_location())
        heading = abs((actor.get_transform().rotation.yaw - waypoint.transform.rotation.yaw + 180) % 360 - 180)
        return waypoint.transform.location.distance(actor.get_location()) < waypoint.lane_width / 2 and heading < 20

    assert sum(along_a_lane(actor) for actor in moved) >= 3  # those that ended on the road follow their lanes


def test_spawn_points_inside_the_reconstruction_come_first(world: carla.World) -> None:
    wmap = world.get_map()
    points = wmap.get_spawn_points()
    inside = [wmap.is_reconstructed(t.location) for t in points]
    assert inside[0] and not inside[-1]
    assert inside == sorted(inside, reverse=True)  # inside first, then outside
    assert len(wmap.reconstructed_spawn_points()) == sum(inside)
    start = ego_start_transform(world.scene_bundle).location
    assert points[0].location.distance(start) < 5.0  # the first is where the logged ego started
    assert math.hypot(points[-1].location.x - start.x, points[-1].location.y - start.y) > 40.0


def test_a_town_map_is_all_inside(world: carla.World) -> None:
    town = recon_carla_bridge.Client(town="StraightRoad").get_world().get_map()
    assert all(town.is_reconstructed(t.location) for t in town.get_spawn_points())
