"""A leaderboard agent driven by the CAMERA STUDENT (`recon-carla train student`) - a sensor-only agent.

It declares a front rgb camera (the student's resolution, field of view and mount), the speedometer, an IMU and a
GNSS, and reads nothing else from the world: its pose is the GNSS fix (mapped to the map frame with the route's
own first point, which the leaderboard hands the agent in both GPS and world coordinates, and smoothed by dead
reckoning on the speedometer and the compass) and the compass heading; the route is the global plan the
leaderboard gave it. Every `anchor_horizon` s it builds the student's observation (`recon_carla_bridge.rl.student`:
the image and the ego/route slots), picks the student's most likely feasible anchor and drives the bicycle-model
arc to it as `rl_teacher_agent` does (throttle/brake along the arc's speed profile, pure pursuit to the anchor's
end point); it stops at the route's end.

    recon-carla evaluate --agent agents/leaderboard_agents/rl_camera_agent.py \
        --agent-config recon_carla_bridge/data/policies/camera_student_expert6.pt --routes scenarios/routes/kitti_0013.xml
"""
from __future__ import annotations

import math
from pathlib import Path

import carla
import numpy as np
import torch
from leaderboard.autoagents import autonomous_agent

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.anchors import AnchorGrid, arc_to, feasible_mask
from recon_carla_bridge.rl.checkpoint import load_checkpoint
from recon_carla_bridge.rl.env import CAMERA_MOUNT
from recon_carla_bridge.rl.observations import motion_rates
from recon_carla_bridge.rl.student import STUDENT_LAYOUT, sensor_state

DEFAULT_CHECKPOINT = REPO_ROOT / "recon_carla_bridge" / "data" / "policies" / "camera_student_expert6.pt"
EARTH_RADIUS_M = 6378137.0  # CARLA's geolocation sphere
MAX_ACCELERATION = 3.5  # m/s^2 at full throttle (the world's vehicle model)
MAX_DECELERATION = 8.0  # m/s^2 at full brake
MAX_STEER_DEG = 70.0  # wheel angle at steer = 1
WHEELBASE_M = 2.9
SPEED_GAIN = 1.0  # 1/s, feedback on the arc's speed profile
END_MARGIN_M = 2.0  # stop this close to the route's end
MIN_AIM_M = 1.0  # m ahead below which pure pursuit stops aiming at the anchor's end point
GNSS_GAIN = 0.05  # share of the GNSS innovation taken per reading (the rest: dead reckoning)


def get_entry_point() -> str:
    """The agent class the evaluator instantiates."""
    return "RLCameraAgent"


def route_line(points: list[tuple[float, float]]) -> ReferenceLine:
    """The route as a reference line through its (x, y) points, resampled every metre."""
    xy = np.asarray(points, dtype=float)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(xy, axis=0), axis=1) > 0.1])
    xy = xy[keep]
    if len(xy) < 2:
        raise InputError("rl_camera_agent: the global plan has fewer than two distinct points")
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    marks = np.arange(0.0, travelled[-1] + 1e-9, 1.0)
    return ReferenceLine(np.stack([np.interp(marks, travelled, xy[:, i]) for i in (0, 1)], axis=1))


class GnssFrame:
    """GNSS (latitude, longitude) to the map's (x, y), anchored at a route point known in both (CARLA's north = -y)."""

    def __init__(self, latitude: float, longitude: float, x: float, y: float) -> None:
        """The anchor: a route point's geolocation and world position."""
        self.latitude, self.longitude, self.x, self.y = latitude, longitude, x, y
        # CARLA's Mercator about the map's reference latitude (near the route): east m per degree of longitude shrink
        # with cos(latitude), north m per degree of latitude do not (to first order about the reference)
        self.east_per_degree = EARTH_RADIUS_M * math.pi / 180.0 * math.cos(math.radians(latitude))
        self.north_per_degree = EARTH_RADIUS_M * math.pi / 180.0

    def to_world(self, latitude: float, longitude: float) -> np.ndarray:
        """(x, y) m in the map frame."""
        return np.array([self.x + (longitude - self.longitude) * self.east_per_degree,
                         self.y - (latitude - self.latitude) * self.north_per_degree])


class RLCameraAgent(autonomous_agent.AutonomousAgent):
    """The distilled camera student on its declared sensors only (see the module docstring)."""

    def setup(self, path_to_conf_file: str) -> None:
        """Load the student checkpoint named by the config path (default: the committed camera student)."""
        self.track = autonomous_agent.Track.SENSORS
        path = Path(path_to_conf_file) if path_to_conf_file else DEFAULT_CHECKPOINT
        self.policy, data = load_checkpoint(path)
        interface = data["interface"]
        if list(interface["state_layout"]) != list(STUDENT_LAYOUT) or "camera" not in interface["images"]:
            raise InputError(f"{path}: not a camera student checkpoint (state layout of {len(interface['state_layout'])} "
                             f"slots, images {sorted(interface['images'])}); rl_teacher_agent.py drives privileged ones")
        self.policy.eval()
        env, action = data["config"]["env"], interface["action"]
        _, self.height, self.width = interface["images"]["camera"]
        self.fov = float(env["camera_fov"])
        self.grid = AnchorGrid(action["lateral_max"], action["longitudinal_max"], action["lateral_bins"],
                               action["longitudinal_bins"], action["horizon"])
        self.target_speed = float(env["target_speed"])
        self._route: ReferenceLine | None = None
        self._gnss: GnssFrame | None = None
        self._xy: np.ndarray | None = None  # the pose estimate (m, map frame)
        self._last_time = 0.0
        self._arc = None
        self._target = (0.0, 0.0)
        self._decided_at = -math.inf
        self._last: tuple[float, float] = (0.0, 0.0)
        self._previous: tuple[float, float, float] | None = None  # (time, speed, yaw) at the last decision

    def sensors(self) -> list[dict]:
        """The front camera the student was trained with, the speedometer, an IMU and a GNSS - nothing else."""
        mount = CAMERA_MOUNT.location
        return [{"type": "sensor.camera.rgb", "x": mount.x, "y": mount.y, "z": mount.z, "roll": 0.0, "pitch": 0.0,
                 "yaw": 0.0, "width": int(self.width), "height": int(self.height), "fov": self.fov, "id": "front"},
                {"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"},
                {"type": "sensor.other.imu", "x": 0.0, "y": 0.0, "z": 0.0, "roll": 0.0, "pitch": 0.0, "yaw": 0.0,
                 "sensor_tick": 0.05, "id": "imu"},
                {"type": "sensor.other.gnss", "x": 0.0, "y": 0.0, "z": 0.0, "sensor_tick": 0.05, "id": "gnss"}]

    def _locate(self, input_data: dict, speed: float, yaw: float, timestamp: float) -> np.ndarray:
        """The pose estimate: dead reckoning on speed and heading, pulled towards each GNSS fix."""
        if self._route is None:  # the plan the leaderboard handed over, and the GNSS anchor at its first point
            self._route = route_line([(t.location.x, t.location.y) for t, _ in self._global_plan_world_coord])
            gps, first = self._global_plan[0][0], self._global_plan_world_coord[0][0].location
            self._gnss = GnssFrame(float(gps["lat"]), float(gps["lon"]), first.x, first.y)
        latitude, longitude = float(input_data["gnss"][1][0]), float(input_data["gnss"][1][1])
        fix = self._gnss.to_world(latitude, longitude)
        if self._xy is None:
            self._xy = fix
        else:
            step = max(0.0, timestamp - self._last_time)
            predicted = self._xy + speed * step * np.array([math.cos(yaw), math.sin(yaw)])
            self._xy = predicted + GNSS_GAIN * (fix - predicted)
        self._last_time = timestamp
        return self._xy

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """Decide an anchor every horizon from the sensors, and steer and pedal along its arc in between."""
        speed = float(input_data["speed"][1]["speed"])
        yaw = float(input_data["imu"][1][6]) - math.pi / 2.0  # compass (north = 0) to CARLA's yaw
        xy = self._locate(input_data, speed, yaw, timestamp)
        s, _ = self._route.to_frenet(xy)
        if s >= self._route.length - END_MARGIN_M:  # the route is done: stop
            return carla.VehicleControl(throttle=0.0, brake=1.0, steer=0.0)
        if timestamp - self._decided_at >= self.grid.horizon - 1e-6:
            self._decide(input_data, xy, yaw, speed, timestamp)
        elapsed = timestamp - self._decided_at
        wanted = self._arc.speed_at(elapsed + 0.05)
        acceleration = self._arc.acceleration + SPEED_GAIN * (wanted - speed)
        if self._arc.length <= 1e-9 or wanted <= 0.05:
            acceleration = min(acceleration, -2.0)
        steer = math.atan(self._pursuit_curvature(xy, yaw) * WHEELBASE_M) / math.radians(MAX_STEER_DEG)
        return carla.VehicleControl(throttle=float(np.clip(acceleration / MAX_ACCELERATION, 0.0, 1.0)),
                                    brake=float(np.clip(-acceleration / MAX_DECELERATION, 0.0, 1.0)),
                                    steer=float(np.clip(steer, -1.0, 1.0)))

    def _pursuit_curvature(self, xy: np.ndarray, yaw: float) -> float:
        """Curvature of the arc from the pose now through the anchor's end point; the arc's own when too close."""
        dx, dy = self._target[0] - xy[0], self._target[1] - xy[1]
        forward = dx * math.cos(yaw) + dy * math.sin(yaw)
        right = -dx * math.sin(yaw) + dy * math.cos(yaw)
        if forward < MIN_AIM_M:
            return self._arc.curvature
        return 2.0 * right / (forward * forward + right * right)

    def observation(self, input_data: dict, xy: np.ndarray, yaw: float, speed: float,
                    timestamp: float) -> dict[str, np.ndarray]:
        """The student's observation from the sensors: {'state': `STUDENT_LAYOUT` slots, 'camera': H x W x 3 RGB}."""
        acceleration, yaw_rate = motion_rates(self._previous, timestamp, speed, yaw)
        state = sensor_state(abs(speed), acceleration, yaw_rate, xy, yaw, self._last, self._route, self.target_speed)
        bgra = np.asarray(input_data["front"][1])
        return {"state": state, "camera": np.ascontiguousarray(bgra[:, :, 2::-1])}

    def _decide(self, input_data: dict, xy: np.ndarray, yaw: float, speed: float, timestamp: float) -> None:
        seen = self.observation(input_data, xy, yaw, speed, timestamp)
        mask = feasible_mask(self.grid, speed)
        if not mask.any():
            mask[self.grid.lateral_bins // 2, int(np.argmin(np.abs(self.grid.longitudinal - speed * self.grid.horizon)))] = True
        batch = {k: torch.as_tensor(v[None]) for k, v in seen.items()}
        lateral, longitudinal = self.policy.act(batch, torch.as_tensor(mask[None]), deterministic=True)
        self._last = self.grid.displacement(int(lateral[0]), int(longitudinal[0]))
        self._arc = arc_to(self._last[0], self._last[1], speed, self.grid.horizon)
        forward, right = self._last[1], self._last[0]
        self._target = (xy[0] + forward * math.cos(yaw) - right * math.sin(yaw),
                        xy[1] + forward * math.sin(yaw) + right * math.cos(yaw))
        self._decided_at, self._previous = timestamp, (timestamp, speed, yaw)
