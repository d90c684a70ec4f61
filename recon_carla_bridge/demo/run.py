"""The main job: drive an agent through a reconstructed scene and record what its camera saw.

Loads a scene (the bundled KITTI drive 0013, 115 m of street, by default), spawns the ego where the log starts, drives it
with CARLA's BasicAgent along its lane on the episode loop (`EpisodeRunner`, with the logged front camera
and a driving log as callbacks), and writes an MP4 (camera beside a bird's-eye view), the BEV plot and a
metrics JSON.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon_carla_bridge.episode import EpisodeCallback, EpisodeRunner, EpisodeTask, TimeLimit
from recon_carla_bridge.paths import DEFAULT_SCENE

MIN_CRUISE_KMH = 12.0  # a stop-and-go log still gets a moving demo


@dataclass(frozen=True)
class DemoConfig:
    """Settings of `recon-carla demo` (configs/demo.yaml)."""

    scene: str = DEFAULT_SCENE  # scene name (`recon-carla scenes`) or a scene folder
    duration_s: float = 10.0  # simulated seconds to drive
    world_hz: float = 20.0  # simulation steps per second
    camera_hz: float = 10.0  # camera frames per second (and the video frame rate)
    camera_scale: float = 0.5  # image size relative to the logged camera
    target_speed_kmh: float | None = None  # BasicAgent cruise speed; None: the logged ego's (`logged_cruise_speed_kmh`)
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


class DemoCamera(EpisodeCallback):
    """The front camera of the demo's video: the scene's logged camera, mounted on the ego, at camera_hz."""

    def __init__(self, config: DemoConfig) -> None:
        """A camera scaled by `config.camera_scale` (spawned when the episode starts)."""
        self.config = config
        self.frames: list[np.ndarray] = []  # (H, W, 3) uint8 RGB
        self.name = ""
        self._camera: Any = None
        self._first_frame: int | None = None  # images of reset's ticks (before driving) are not kept

    def on_episode_start(self, runner: EpisodeRunner) -> None:
        """Mount the logged camera on the ego."""
        from recon_carla_bridge.scene.scene_world import logged_camera_transform

        world, config = runner.world, self.config
        self.name, mount, fov, width, height = logged_camera_transform(world.scene_bundle)
        blueprint = world.get_blueprint_library().find("sensor.camera.rgb")
        blueprint.set_attribute("image_size_x", str(max(1, round(width * config.camera_scale))))
        blueprint.set_attribute("image_size_y", str(max(1, round(height * config.camera_scale))))
        blueprint.set_attribute("fov", f"{fov:.4f}")
        blueprint.set_attribute("sensor_tick", f"{1.0 / config.camera_hz:.6f}")
        self._camera = world.spawn_actor(blueprint, mount, attach_to=runner.ego)
        self._camera.listen(self._keep)

    def _keep(self, image: Any) -> None:
        if self._first_frame is not None and image.frame > self._first_frame:
            self.frames.append(np.frombuffer(image.raw_data, np.uint8).reshape(image.height, image.width, 4)[:, :, 2::-1].copy())

    def on_step_start(self, runner: EpisodeRunner, control: Any) -> None:
        """Driving starts: keep the images of the ticks from here on."""
        if self._first_frame is None:
            self._first_frame = runner.frame

    def on_episode_end(self, runner: EpisodeRunner, reason: str) -> None:
        """Remove the camera (a GPU camera's last image is delivered, from the sensor thread, before it goes)."""
        if self._camera is not None:
            self._camera.destroy()
            self._camera = None


class DrivingLog(EpisodeCallback):
    """What the demo measures per tick: the ego's path, the other vehicles, collisions and lane invasions."""

    def __init__(self) -> None:
        """An empty log (sensors are mounted when the episode starts)."""
        self.trajectory: list[dict[str, Any]] = []
        self.others: list[list[tuple[float, float, float, float, float]]] = []
        self.collisions: list[dict[str, Any]] = []
        self.invasions: list[int] = []
        self._sensors: list[Any] = []
        self._stepped = False

    def on_episode_start(self, runner: EpisodeRunner) -> None:
        """Mount collision and lane-invasion sensors on the ego."""
        import carla

        library = runner.world.get_blueprint_library()
        collision = runner.world.spawn_actor(library.find("sensor.other.collision"), carla.Transform(), attach_to=runner.ego)
        lanes = runner.world.spawn_actor(library.find("sensor.other.lane_invasion"), carla.Transform(), attach_to=runner.ego)
        collision.listen(lambda e: self.collisions.append({"frame": e.frame, "other": e.other_actor.type_id}))
        lanes.listen(lambda e: self.invasions.append(e.frame))
        self._sensors = [collision, lanes]

    def on_step_start(self, runner: EpisodeRunner, control: Any) -> None:
        """The next tick is a driving tick (reset's own ticks are not logged)."""
        self._stepped = True

    def on_step_end(self, runner: EpisodeRunner) -> str | None:
        """Log the ego and the vehicles shown (those hidden under the map are not)."""
        if not self._stepped:
            return None
        ego = runner.ego
        transform, velocity = ego.get_transform(), ego.get_velocity()
        self.trajectory.append({"t": runner.time, "x": transform.location.x, "y": transform.location.y,
                                "yaw": transform.rotation.yaw, "speed": math.hypot(velocity.x, velocity.y)})
        self.others.append([(a.get_location().x, a.get_location().y, a.get_transform().rotation.yaw,
                             2.0 * a.bounding_box.extent.x, 2.0 * a.bounding_box.extent.y)
                            for a in runner.world.get_actors().filter("vehicle.*")
                            if a.id != ego.id and a.get_location().z > -100])
        return None

    def on_episode_end(self, runner: EpisodeRunner, reason: str) -> None:
        """Remove the sensors."""
        for sensor in self._sensors:
            sensor.destroy()
        self._sensors = []


def logged_cruise_speed_kmh(world_from_ego: np.ndarray, timestamps: np.ndarray) -> float:
    """The logged ego's median speed while it moves (> 1 m/s) in km/h, at least MIN_CRUISE_KMH: the demo's ego
    then drives about as far as the log did and stays inside the reconstruction."""
    steps = np.linalg.norm(np.diff(world_from_ego[:, :3, 3], axis=0), axis=1)
    speeds = steps / np.maximum(np.diff(timestamps), 1e-3)
    moving = speeds[speeds > 1.0]
    return max(float(np.median(moving)) * 3.6 if len(moving) else 0.0, MIN_CRUISE_KMH)


def run_demo(config: DemoConfig, progress: bool = True) -> DemoResult:
    """Run the demo on the episode loop: BasicAgent drives, `DemoCamera` and `DrivingLog` collect, then the
    video, BEV plot and metrics are written."""
    from tqdm import tqdm

    from agents.navigation.basic_agent import BasicAgent
    from recon_carla_bridge.scenario.ego_agents import lane_destination
    from recon_carla_bridge.scene.scene_world import ego_start_transform, open_scene_world

    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    world = open_scene_world(config.scene, seed=config.seed, render_backend=config.render_backend)
    bundle = world.scene_bundle
    camera, log = DemoCamera(config), DrivingLog()
    runner = EpisodeRunner([camera, log, TimeLimit(config.duration_s)], frame_rate=config.world_hz)
    runner.reset(EpisodeTask(world, start=ego_start_transform(bundle), name=f"demo {bundle.name}"), seed=config.seed)
    target_speed = (config.target_speed_kmh if config.target_speed_kmh is not None
                    else logged_cruise_speed_kmh(bundle.world_from_ego, bundle.timestamps))
    agent = BasicAgent(runner.ego, target_speed=target_speed)
    agent.follow_speed_limits(False)
    agent.set_destination(lane_destination(world.get_map(), runner.ego.get_location(), 200.0))
    steps = int(round(config.duration_s * config.world_hz))
    loop_started, tick_before = time.perf_counter(), runner.tick_seconds
    with tqdm(total=steps, desc="demo: driving", unit="tick", disable=not progress) as bar:
        done = False
        while not done:
            done = runner.step(agent.run_step()).done
            bar.update()
    runner.close()
    loop_seconds = time.perf_counter() - loop_started  # driving: agent, world, sensors, the trajectory log
    tick_seconds = runner.tick_seconds - tick_before  # inside world.tick(): the world step and the camera renders
    wall = time.perf_counter() - started
    frames, trajectory, others = camera.frames, log.trajectory, log.others
    lane_offsets = _lane_offsets(world.get_map(), trajectory)
    metrics = {
        "scene": bundle.name,
        "camera": camera.name,
        "sim_seconds": len(trajectory) / config.world_hz,
        "wall_seconds": round(wall, 2),
        "camera_frames": len(frames),
        "camera_frames_per_wall_second": round(len(frames) / max(loop_seconds, 1e-9), 3),
        "camera_frames_per_tick_second": round(len(frames) / max(tick_seconds, 1e-9), 3),
        "driving_loop_seconds": round(loop_seconds, 2),
        "distance_m": round(float(sum(math.hypot(b["x"] - a["x"], b["y"] - a["y"]) for a, b in zip(trajectory, trajectory[1:]))), 2),
        "mean_speed_mps": round(float(np.mean([p["speed"] for p in trajectory])), 3),
        "collisions": log.collisions,
        "lane_invasions": len(log.invasions),
        "max_lane_offset_m": round(float(np.max(np.abs(lane_offsets))), 3) if lane_offsets else None,
        "other_vehicles_shown": [len(others[0]), len(others[-1])] if others else [0, 0],  # first and last tick
        "target_speed_kmh": round(target_speed, 2),
        "render_backend": _chosen_backend(config.render_backend),
        "config": asdict(config),
    }
    bev_path = out_dir / "bev.png"
    video_path = out_dir / "demo.mp4"
    from recon_carla_bridge.demo.figures import write_bev_plot, write_video

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
