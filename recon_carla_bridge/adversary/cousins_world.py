"""CTG on a world: cousins of the logged ego trajectory of a reconstructed scene (or of a lane drive in a CARLA
town), checked against the map's driving lanes and the logged actors replayed in step, written as route XML.

    python -m recon_carla_bridge.adversary.cousins_world kitti --out /tmp/kitti_cousins.xml
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import carla
import numpy as np

from recon_carla_bridge.adversary.cousins import check_cousin, make_cousin, route_xml, shape_summary, standard_specs
from recon_carla_bridge.adversary.lanes import adjacent_driving_lane, on_drivable_lanes
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.errors import InputError


def logged_ego(world: carla.World) -> Trajectory:
    """The scene's logged ego trajectory (CARLA frame)."""
    from recon_carla_bridge.scene.frames import scene_pose_to_carla

    bundle = getattr(world, "scene_bundle", None)
    if bundle is None:
        raise InputError(f"map {world.get_map().name}: not a reconstructed scene (no logged ego trajectory)")
    transforms = [scene_pose_to_carla(pose) for pose in bundle.world_from_ego]
    xy = np.array([[t.location.x, t.location.y] for t in transforms])
    times = np.asarray(bundle.timestamps, dtype=float) - float(bundle.timestamps[0])
    grid = np.arange(0.0, times[-1], 0.1)
    resampled = np.stack([np.interp(grid, times, xy[:, 0]), np.interp(grid, times, xy[:, 1])], axis=1)
    return Trajectory.from_positions(grid, resampled, float(grid[-1]), np.radians(transforms[0].rotation.yaw))


def replayed_actors(world: carla.World, times: np.ndarray) -> list[Trajectory]:
    """Every logged vehicle's trajectory, by ticking the world through the log (at the log's sample times)."""
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, float(times[1] - times[0])
    world.apply_settings(settings)
    actors = [a for a in world.get_actors().filter("vehicle.*") if a.attributes.get("role_name", "").startswith("log_")]
    poses = np.zeros((len(actors), len(times), 3))
    for k in range(len(times)):
        for i, actor in enumerate(actors):
            transform = actor.get_transform()
            poses[i, k] = transform.location.x, transform.location.y, np.radians(transform.rotation.yaw)
        world.tick()
    trajectories = []
    for i in range(len(actors)):
        visible = poses[i, :, 0] > -1e4
        xy = np.where(visible[:, None], poses[i, :, :2], 1e6)  # hidden: far away
        speed = np.linalg.norm(np.gradient(xy, times, axis=0), axis=1)
        trajectories.append(Trajectory(times, xy, poses[i, :, 2], np.where(visible, speed, 0.0), float(times[-1])))
    return trajectories


def lane_offsets(wmap: carla.Map, log: Trajectory) -> list[float]:
    """Signed d (m) of each same-direction driving lane beside the ego's lane at the log's start."""
    start = carla.Location(float(log.xy[0, 0]), float(log.xy[0, 1]), 0.0)
    waypoint = wmap.get_waypoint(start)
    offsets = []
    yaw = float(log.yaw[0])
    normal = np.array([-np.sin(yaw), np.cos(yaw)])
    for side in ("left", "right"):
        lane = adjacent_driving_lane(waypoint, side)
        if lane is not None:
            delta = np.array([lane.transform.location.x - waypoint.transform.location.x,
                              lane.transform.location.y - waypoint.transform.location.y])
            offsets.append(float(delta @ normal))
    return offsets


def main(argv: list[str] | None = None) -> int:
    """Generate, check and write the cousins of a scene's logged drive; print counts by cause as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("town", help="a reconstructed scene's name (e.g. kitti)")
    parser.add_argument("--out", required=True, help="route XML to write")
    args = parser.parse_args(argv)
    import recon_carla_bridge

    world = recon_carla_bridge.Client().load_world(args.town)
    wmap = world.get_map()
    log = logged_ego(world)
    actors = replayed_actors(world, log.t)
    specs = standard_specs(lane_offsets(wmap, log), log.duration)
    causes: Counter[str] = Counter()
    accepted = {}
    for spec in specs:
        cousin = check_cousin(spec, make_cousin(log, spec), actors, on_road=lambda xy: on_drivable_lanes(wmap, xy))
        causes[cousin.rejection.split(":")[0].split(" with")[0] or "accepted"] += 1
        print(f"{spec.name:28s} {cousin.rejection or 'accepted'}")
        if not cousin.rejection:
            accepted[spec.name] = cousin.trajectory
    Path(args.out).write_text(route_xml(accepted, wmap.name))
    shapes = {name: shape_summary(trajectory, log) for name, trajectory in accepted.items()}
    share_after = sum(bool(shape["non_straight"]) for shape in shapes.values()) / max(1, len(shapes))
    print(json.dumps({"cousins": len(specs), "by_cause": dict(causes),
                      "non_straight_share": {"log": float(shape_summary(log, log)["non_straight"]), "cousins": share_after},
                      "shapes": shapes}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
