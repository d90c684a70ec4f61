"""The main job: drive an agent through a reconstructed scene and record what its camera saw.

Loads a scene (the bundled KITTI one by default), spawns the ego where the log starts, drives it
with CARLA's BasicAgent along its lane, renders the logged front camera from the Gaussian scene,
and writes an MP4 (camera beside a bird's-eye view), the BEV plot and a metrics JSON.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DemoConfig:
    """Settings of `recon-carla demo` (configs/demo.yaml)."""

    scene: str = "kitti"  # bundled scene name or a scene folder
    duration_s: float = 10.0  # simulated seconds to drive
    world_hz: float = 20.0  # simulation steps per second
    camera_hz: float = 10.0  # camera frames per second (and the video frame rate)
    camera_scale: float = 0.5  # image size relative to the logged camera
    target_speed_kmh: float = 12.0  # BasicAgent cruise speed (the log is stop-and-go traffic; faster leaves the reconstructed views)
    render_backend: str = "auto"  # auto | cpu | gsplat
    out_dir: str = "out/demo"  # where the video, plot and metrics go
    seed: int = 0


@dataclass
class DemoResult:
    """What the demo wrote and measured."""

    video: str
    bev_plot: str
    metrics_file: str
    metrics: dict[str, Any]


def run_demo(config: DemoConfig, progress: bool = True) -> DemoResult:
    """Run the demo; see the module docstring."""
    import carla
    from tqdm import tqdm

    from agents.navigation.basic_agent import BasicAgent
    from recon_carla_bridge.scene_world import ego_start_transform, logged_camera_transform, open_scene_world

    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    world = open_scene_world(config.scene, seed=config.seed, render_backend=config.render_backend)
    bundle = world.scene_bundle
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 1.0 / config.world_hz
    world.apply_settings(settings)
    library = world.get_blueprint_library()
    ego = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"), ego_start_transform(bundle))
    camera_name, mount, fov, width, height = logged_camera_transform(bundle)
    camera_bp = library.find("sensor.camera.rgb")
    camera_bp.set_attribute("image_size_x", str(max(1, round(width * config.camera_scale))))
    camera_bp.set_attribute("image_size_y", str(max(1, round(height * config.camera_scale))))
    camera_bp.set_attribute("fov", f"{fov:.4f}")
    camera_bp.set_attribute("sensor_tick", f"{1.0 / config.camera_hz:.6f}")
    camera = world.spawn_actor(camera_bp, mount, attach_to=ego)
    collision_bp = library.find("sensor.other.collision")
    collision_sensor = world.spawn_actor(collision_bp, carla.Transform(), attach_to=ego)
    lane_bp = library.find("sensor.other.lane_invasion")
    lane_sensor = world.spawn_actor(lane_bp, carla.Transform(), attach_to=ego)
    frames: list[np.ndarray] = []
    collisions: list[dict[str, Any]] = []
    invasions: list[int] = []
    camera.listen(lambda image: frames.append(np.frombuffer(image.raw_data, np.uint8).reshape(image.height, image.width, 4)[:, :, 2::-1].copy()))
    collision_sensor.listen(lambda e: collisions.append({"frame": e.frame, "other": e.other_actor.type_id}))
    lane_sensor.listen(lambda e: invasions.append(e.frame))

    agent = BasicAgent(ego, target_speed=config.target_speed_kmh)
    agent.follow_speed_limits(False)
    from recon_carla_bridge.scenario.ego_agents import lane_destination

    agent.set_destination(lane_destination(world.get_map(), ego.get_location(), 200.0))
    trajectory: list[dict[str, Any]] = []
    others: list[list[tuple[float, float, float, float, float]]] = []
    steps = int(round(config.duration_s * config.world_hz))
    tick_seconds = 0.0  # inside world.tick(): the world step and the camera renders
    loop_started = time.perf_counter()
    for _ in tqdm(range(steps), desc="demo: driving", unit="tick", disable=not progress):
        ego.apply_control(agent.run_step())
        tick_start = time.perf_counter()
        world.tick()
        tick_seconds += time.perf_counter() - tick_start
        transform, velocity = ego.get_transform(), ego.get_velocity()
        trajectory.append({"t": world.get_snapshot().timestamp.elapsed_seconds, "x": transform.location.x,
                           "y": transform.location.y, "yaw": transform.rotation.yaw,
                           "speed": math.hypot(velocity.x, velocity.y)})
        others.append([(a.get_location().x, a.get_location().y, a.get_transform().rotation.yaw,
                        2.0 * a.bounding_box.extent.x, 2.0 * a.bounding_box.extent.y)
                       for a in world.get_actors().filter("vehicle.*") if a.id != ego.id and a.get_location().z > -100])
    for sensor in (camera, collision_sensor, lane_sensor):
        sensor.destroy()  # a GPU camera's last image is delivered (from the sensor thread) before it goes
    loop_seconds = time.perf_counter() - loop_started  # driving: agent, world, sensors, the trajectory log
    wall = time.perf_counter() - started
    lane_offsets = _lane_offsets(world.get_map(), trajectory)
    metrics = {
        "scene": bundle.name,
        "camera": camera_name,
        "sim_seconds": steps / config.world_hz,
        "wall_seconds": round(wall, 2),
        "camera_frames": len(frames),
        "camera_frames_per_wall_second": round(len(frames) / max(loop_seconds, 1e-9), 3),
        "camera_frames_per_tick_second": round(len(frames) / max(tick_seconds, 1e-9), 3),
        "driving_loop_seconds": round(loop_seconds, 2),
        "distance_m": round(float(sum(math.hypot(b["x"] - a["x"], b["y"] - a["y"]) for a, b in zip(trajectory, trajectory[1:]))), 2),
        "mean_speed_mps": round(float(np.mean([p["speed"] for p in trajectory])), 3),
        "collisions": collisions,
        "lane_invasions": len(invasions),
        "max_lane_offset_m": round(float(np.max(np.abs(lane_offsets))), 3) if lane_offsets else None,
        "render_backend": _chosen_backend(config.render_backend),
        "config": asdict(config),
    }
    bev_path = out_dir / "bev.png"
    video_path = out_dir / "demo.mp4"
    from recon_carla_bridge.demo_video import write_bev_plot, write_video

    write_bev_plot(world.get_map(), trajectory, others, bev_path)
    write_video(frames, world.get_map(), trajectory, others, config.world_hz / config.camera_hz, video_path,
                fps=config.camera_hz, progress=progress)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return DemoResult(str(video_path), str(bev_path), str(metrics_path), metrics)


def _lane_offsets(wmap: Any, trajectory: list[dict[str, Any]]) -> list[float]:
    import carla

    offsets = []
    for point in trajectory:
        waypoint = wmap.get_waypoint(carla.Location(point["x"], point["y"], 0.0))
        if waypoint is None:
            continue
        centre = waypoint.transform.location
        offsets.append(math.hypot(point["x"] - centre.x, point["y"] - centre.y))
    return offsets


def _chosen_backend(requested: str) -> str:
    from recon_carla_bridge.recon.render import choose_backend

    return choose_backend(requested)
