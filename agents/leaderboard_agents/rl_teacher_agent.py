"""A leaderboard agent driven by a policy trained with `recon-carla train il|rl` — the PRIVILEGED TEACHER.

It is not a sensor-only agent: besides its declared speedometer it reads the ego and the vehicles around it from the
world (through ScenarioRunner's CarlaDataProvider, as leaderboard autopilots do), to build the same privileged state
vector the policy was trained on (`recon_carla_bridge.rl.observations`). The route it follows is the dense route the
evaluator planned (CarlaDataProvider's, privileged too; the sparse global plan where there is none); it stops at its end. Every `anchor_horizon` s it picks the policy's most likely feasible anchor and drives the
bicycle-model arc to it with throttle/brake along the arc's speed profile and pure-pursuit steering at the arc's end
point (the leaderboard takes controls, not poses).

    recon-carla evaluate --agent agents/leaderboard_agents/rl_teacher_agent.py \
        --agent-config recon_carla_bridge/data/policies/daa_teacher_rl.pt --routes scenarios/routes/kitti_0013.xml
"""
from __future__ import annotations

import math
from pathlib import Path

import carla
import numpy as np
import torch
from leaderboard.autoagents import autonomous_agent
from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.anchors import AnchorGrid, arc_to, feasible_mask
from recon_carla_bridge.rl.checkpoint import load_checkpoint
from recon_carla_bridge.rl.observations import ActorState, EgoState, motion_rates, state_vector

DEFAULT_CHECKPOINT = REPO_ROOT / "recon_carla_bridge" / "data" / "policies" / "daa_teacher_rl.pt"
MAX_ACCELERATION = 3.5  # m/s^2 at full throttle (the world's vehicle model)
MAX_DECELERATION = 8.0  # m/s^2 at full brake
MAX_STEER_DEG = 70.0  # wheel angle at steer = 1
SPEED_GAIN = 1.0  # 1/s, feedback on the arc's speed profile
END_MARGIN_M = 2.0  # stop this close to the route's end
MIN_AIM_M = 1.0  # m ahead below which pure pursuit stops aiming at the anchor's end point


def get_entry_point() -> str:
    """The agent class the evaluator instantiates."""
    return "RLTeacherAgent"


def _route_line(points: list[carla.Location]) -> ReferenceLine:
    xy = np.array([[p.x, p.y] for p in points], dtype=float)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(xy, axis=0), axis=1) > 0.1])
    xy = xy[keep]
    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    marks = np.arange(0.0, travelled[-1] + 1e-9, 1.0)
    return ReferenceLine(np.stack([np.interp(marks, travelled, xy[:, i]) for i in (0, 1)], axis=1))


class RLTeacherAgent(autonomous_agent.AutonomousAgent):
    """A trained decoupled-anchor policy on privileged state (see the module docstring)."""

    def setup(self, path_to_conf_file: str) -> None:
        """Load the checkpoint named by the config path (default: the committed RL teacher)."""
        self.track = autonomous_agent.Track.SENSORS
        path = Path(path_to_conf_file) if path_to_conf_file else DEFAULT_CHECKPOINT
        self.policy, data = load_checkpoint(path)
        self.policy.eval()
        interface, env = data["interface"], data["config"]["env"]
        action = interface["action"]
        self.grid = AnchorGrid(action["lateral_max"], action["longitudinal_max"], action["lateral_bins"],
                               action["longitudinal_bins"], action["horizon"])
        self.nearby, self.radius = env["nearby_actors"], env["sensing_radius"]
        self.target_speed = env["target_speed"]
        self.wheelbase = 2.9
        self._path: ReferenceLine | None = None
        self._arc = None
        self._decided_at = -math.inf
        self._last: tuple[float, float] = (0.0, 0.0)
        self._previous: tuple[float, float, float] | None = None  # (time, speed, yaw) at the last decision

    def sensors(self) -> list[dict]:
        """Only the speedometer; the state is read from the world (privileged teacher)."""
        return [{"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"}]

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """Decide an anchor every horizon, and steer and pedal along its arc in between."""
        hero = CarlaDataProvider.get_hero_actor()
        if hero is None:
            raise RuntimeError("no vehicle with role_name 'hero' in the world")
        if self._path is None:  # the dense route the evaluator planned (privileged), else the agent's sparse plan
            dense = CarlaDataProvider.get_ego_vehicle_route() or []
            points = [location for location, _ in dense] or [t.location for t, _ in self._global_plan_world_coord]
            self._path = _route_line(points)
        speed = float(input_data["speed"][1]["speed"])
        transform = hero.get_transform()
        s, _ = self._path.to_frenet(np.array([transform.location.x, transform.location.y]))
        if s >= self._path.length - END_MARGIN_M:  # the route is done: stop
            return carla.VehicleControl(throttle=0.0, brake=1.0, steer=0.0)
        if timestamp - self._decided_at >= self.grid.horizon - 1e-6:
            self._decide(hero, transform, speed, timestamp)
        elapsed = timestamp - self._decided_at
        wanted = self._arc.speed_at(elapsed + 0.05)
        acceleration = self._arc.acceleration + SPEED_GAIN * (wanted - speed)
        if self._arc.length <= 1e-9 or wanted <= 0.05:
            acceleration = min(acceleration, -2.0)
        steer = math.atan(self._pursuit_curvature(transform) * self.wheelbase) / math.radians(MAX_STEER_DEG)
        return carla.VehicleControl(throttle=float(np.clip(acceleration / MAX_ACCELERATION, 0.0, 1.0)),
                                    brake=float(np.clip(-acceleration / MAX_DECELERATION, 0.0, 1.0)),
                                    steer=float(np.clip(steer, -1.0, 1.0)))

    def _pursuit_curvature(self, transform: carla.Transform) -> float:
        """Curvature of the arc from the ego's pose now through the anchor's end point (pure pursuit), so that steering
        lag does not pile up; the arc's own curvature once the point is too close to aim at."""
        yaw = math.radians(transform.rotation.yaw)
        dx, dy = self._target[0] - transform.location.x, self._target[1] - transform.location.y
        forward = dx * math.cos(yaw) + dy * math.sin(yaw)
        right = -dx * math.sin(yaw) + dy * math.cos(yaw)
        if forward < MIN_AIM_M:
            return self._arc.curvature
        return 2.0 * right / (forward * forward + right * right)

    def _decide(self, hero, transform: carla.Transform, speed: float, timestamp: float) -> None:
        yaw = math.radians(transform.rotation.yaw)
        acceleration, yaw_rate = motion_rates(self._previous, timestamp, speed, yaw)
        ego = EgoState(np.array([transform.location.x, transform.location.y]), yaw, speed, acceleration, yaw_rate,
                       self._last)
        actors = []
        for vehicle in hero.get_world().get_actors().filter("vehicle.*"):
            if vehicle.id == hero.id:
                continue
            t, v, e = vehicle.get_transform(), vehicle.get_velocity(), vehicle.bounding_box.extent
            if t.location.z < -100.0:
                continue
            actors.append(ActorState(np.array([t.location.x, t.location.y]), math.radians(t.rotation.yaw),
                                     np.array([v.x, v.y]), 2 * e.x, 2 * e.y))
        state = state_vector(ego, self._path, self.target_speed, 0, actors, self.nearby, self.radius)
        mask = feasible_mask(self.grid, speed)
        if not mask.any():
            mask[self.grid.lateral_bins // 2, int(np.argmin(np.abs(self.grid.longitudinal - speed * self.grid.horizon)))] = True
        lateral, longitudinal = self.policy.act({"state": torch.as_tensor(state[None])}, torch.as_tensor(mask[None]),
                                                deterministic=True)
        self._last = self.grid.displacement(int(lateral[0]), int(longitudinal[0]))
        self._arc = arc_to(self._last[0], self._last[1], speed, self.grid.horizon)
        forward, right = self._last[1], self._last[0]
        self._target = (transform.location.x + forward * math.cos(yaw) - right * math.sin(yaw),
                        transform.location.y + forward * math.sin(yaw) + right * math.cos(yaw))
        self._decided_at, self._previous = timestamp, (timestamp, speed, yaw)
