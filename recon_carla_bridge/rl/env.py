"""`ReconDrivingEnv`: a Gymnasium environment over the episode loop (`EpisodeRunner`) in reconstructed scenes and
CARLA towns, with DAA adversaries drawn per episode (see `episodes`).

One `step` is one decision of `anchor_horizon` s (several world ticks). Actions: RAD's anchors as a
MultiDiscrete (lateral index, longitudinal index), infeasible ones masked (`action_masks()`, info['action_mask'];
an infeasible anchor is replaced by the nearest feasible one, info['projected']), driven as a bicycle-model arc by
the world's kinematics; or continuous (steer, throttle/brake) in [-1, 1]² applied as vehicle control.
Observations: {'state': the privileged vector, 'bev': optional raster, 'camera': optional low-resolution front
image}; only the camera renders, once per decision. Rewards and terminations as RAD (`rewards`), from the world's
collision events and map only.
"""
from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import math
import threading
import time
from typing import Any

import carla
import gymnasium as gym
import numpy as np

from recon_carla_bridge.adversary.behaviours import drive_step
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.lanes import lane_reference
from recon_carla_bridge.episode import EpisodeCallback, EpisodeRunner, EpisodeTask
from recon_carla_bridge.rl.adversary_callback import AdversaryCallback
from recon_carla_bridge.rl.anchors import AnchorGrid, arc_to, feasible_mask
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.cousin_paths import accepted_cousins, pick_cousin
from recon_carla_bridge.rl.episodes import EpisodeDraw, EpisodeSampler
from recon_carla_bridge.rl.observations import (ActorState, EgoState, bev_raster, path_errors, state_layout,
                                                state_vector)
from recon_carla_bridge.rl.rewards import DecisionOutcome, judge_decision

NO_CONTROL = carla.VehicleControl()
CAMERA_MOUNT = carla.Transform(carla.Location(x=1.5, z=1.6))
PATH_AHEAD_M = 400.0


def open_world(scene: str, seed: int, maps: dict[str, Any]) -> Any:
    """A fresh world of a reconstructed scene or a CARLA town (the road network is parsed once per env and kept in
    `maps`, shared by its worlds, which only read it; a town's map once per process, shared by the envs of the
    process as well)."""
    from recon_carla_bridge.scene.scene_world import is_scene, open_scene_world, scene_map
    from recon_carla_bridge.world.world import World

    if is_scene(scene):
        if scene not in maps:
            maps[scene] = scene_map(scene)
        return open_scene_world(scene, seed=seed, render_backend="cpu", road_map=maps[scene])
    if scene not in maps:
        maps[scene] = _town_map(scene)
    return World(maps[scene], seed=seed)


@functools.lru_cache(maxsize=8)
def _town_map(scene: str) -> Any:
    """The parsed map of a town (read-only to the worlds: they keep their state apart from it)."""
    from recon_carla_bridge.world.maps import load_map

    return load_map(scene)


class FrontCamera(EpisodeCallback):
    """A low-resolution front camera that renders once per decision (sensor_tick = the decision's length)."""

    def __init__(self, width: int, height: int, fov: float, period: float) -> None:
        """Images of width × height pixels, `fov` degrees, every `period` s."""
        self.width, self.height, self.fov, self.period = width, height, fov, period
        self.sensor: Any = None
        self.image: np.ndarray = np.zeros((height, width, 3), dtype=np.uint8)
        self.frame = -1
        self.deliveries = 0  # images rendered since the camera was built
        self._arrived = threading.Condition()

    def on_episode_start(self, runner: EpisodeRunner) -> None:
        """Mount the camera on the ego."""
        blueprint = runner.world.get_blueprint_library().find("sensor.camera.rgb")
        for key, value in (("image_size_x", self.width), ("image_size_y", self.height), ("fov", self.fov),
                           ("sensor_tick", self.period)):
            blueprint.set_attribute(key, str(value))
        self.frame = -1
        self.sensor = runner.world.spawn_actor(blueprint, CAMERA_MOUNT, attach_to=runner.ego)
        self.sensor.listen(self._deliver)

    def _deliver(self, image: Any) -> None:
        pixels = np.frombuffer(image.raw_data, dtype=np.uint8).reshape(image.height, image.width, 4)
        with self._arrived:
            self.image, self.frame = pixels[:, :, 2::-1].copy(), int(image.frame)
            self.deliveries += 1
            self._arrived.notify_all()

    def wait(self, frame: int, timeout: float = 60.0) -> np.ndarray:
        """The image of `frame` (or a later one), waiting for its delivery."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self.frame >= frame, timeout):
                raise RuntimeError(f"FrontCamera: no image of frame {frame} within {timeout:g} s")
            return self.image

    def on_episode_end(self, runner: EpisodeRunner, reason: str) -> None:
        """Unmount the camera."""
        if self.sensor is not None:
            try:
                self.sensor.stop()
                self.sensor.destroy()
            except RuntimeError:
                pass
            self.sensor = None


class ReconDrivingEnv(gym.Env):
    """Driving with RAD's anchors (or continuous control) against DAA adversaries; see the module docstring."""

    metadata = {"render_modes": []}
    external_camera = False  # True: no FrontCamera; a batched renderer fills 'camera' (`rl.batched_camera`)

    def __init__(self, config: RLConfig, split: str = "train", seed: int = 0) -> None:
        """Episodes of `config.env.templates` in `split` ('train' or 'heldout'), drawn from `seed` on."""
        super().__init__()
        self.config, self.settings, self.reward_settings = config, config.env, config.reward
        self.split = split
        self.grid = AnchorGrid(lateral_bins=self.settings.lateral_bins, longitudinal_bins=self.settings.longitudinal_bins,
                               horizon=self.settings.anchor_horizon)
        self.layout = state_layout(self.settings.nearby_actors)
        spaces: dict[str, gym.Space] = {"state": gym.spaces.Box(-10.0, 10.0, (len(self.layout),), np.float32)}
        if self.settings.bev:
            size = self.settings.bev_size
            spaces["bev"] = gym.spaces.Box(0, 255, (2, size, size), np.uint8)
        if self.settings.observation == "camera":
            spaces["camera"] = gym.spaces.Box(0, 255, (self.settings.camera_height, self.settings.camera_width, 3),
                                              np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        if self.settings.action == "anchors":
            self.action_space = gym.spaces.MultiDiscrete([self.grid.lateral_bins, self.grid.longitudinal_bins])
        else:
            self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.ticks_per_decision = max(1, round(self.settings.anchor_horizon * self.settings.frame_rate))
        self.dt = 1.0 / self.settings.frame_rate
        self._sampler = EpisodeSampler(self.settings.templates, split, seed)
        self._maps: dict[str, Any] = {}
        self._cousins: dict[str, list[tuple[str, Any]]] = {}  # scene: its accepted CTG cousins
        self.cousin = ""  # the name of this episode's cousin ('' when the path is the start lane)
        self.runner: EpisodeRunner | None = None
        self.adversary: AdversaryCallback | None = None
        self.camera: FrontCamera | None = None
        self.draw: EpisodeDraw | None = None
        self.path: Any = None
        self.ego_state: EgoState | None = None
        self.steps = 0
        self._mask: np.ndarray | None = None
        self._path_start = 0.0
        self.target_speed = self.settings.target_speed
        self._full_decision = True
        self._lane_paths: dict[tuple[str, float, float], Any] = {}  # (scene, x, y): the start lane's reference line
        self._routes: dict[tuple[str, float, float], list] = {}  # the same key: the route along that line
        # cumulative wall time (for bench/): inside step() and reset(), in the world's ticks (episode loop, adversary,
        # sensors), the part of those ticks that rendered cameras, and waits for camera images
        self.timings = {"step_s": 0.0, "reset_s": 0.0, "world_tick_s": 0.0, "render_s": 0.0, "camera_wait_s": 0.0,
                        "ticks": 0.0}  # and the number of world ticks the decisions ran

    # ---- gymnasium ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """A new episode: the next draw of the sampler (re-seeded when `seed` is given), or options['draw']."""
        started = time.perf_counter()
        try:
            return self._reset(seed, options)
        finally:
            self.timings["reset_s"] += time.perf_counter() - started

    def _reset(self, seed: int | None, options: dict[str, Any] | None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._sampler = EpisodeSampler(self.settings.templates, self.split, seed)
        draw = (options or {}).get("draw") or self._sampler.draw()
        self._close_episode()
        self.draw, self.steps = draw, 0
        template = draw.template
        self.target_speed = template.speed if template.speed is not None else self.settings.target_speed
        world = open_world(template.scene, draw.seed, self._maps)
        wmap = world.get_map()
        x, y, yaw = template.ego
        self.cousin = ""
        if template.cousins:  # CTG: start on a seeded cousin of the logged drive, which is the expert path
            self.cousin, trajectory = pick_cousin(self._cousins_of(template.scene), draw.seed)
            (x, y), yaw = trajectory.xy[0], math.degrees(float(trajectory.yaw[0]))
        waypoint = wmap.get_waypoint(carla.Location(x, y, 0.0))
        start = carla.Transform(carla.Location(x, y, waypoint.transform.location.z), carla.Rotation(yaw=yaw))
        self.path = (ReferenceLine(trajectory.xy[::5]) if template.cousins
                     else self._lane_path(template.scene, x, y, waypoint))
        route = self._route(start, None if template.cousins else (template.scene, float(x), float(y)))
        callbacks: list[EpisodeCallback] = []
        self.adversary = AdversaryCallback(draw) if draw.spec is not None else None
        if self.adversary is not None:
            callbacks.append(self.adversary)
        self.camera = None
        if self.settings.observation == "camera" and not self.external_camera:
            self.camera = FrontCamera(self.settings.camera_width, self.settings.camera_height, self.settings.camera_fov,
                                      self.settings.anchor_horizon - 0.5 * self.dt)
            callbacks.append(self.camera)
        share = np.random.default_rng([draw.seed, 1]).uniform(self.settings.start_speed_min, 1.0)
        callbacks.append(_InitialSpeed(self.target_speed * share, yaw))
        self.runner = EpisodeRunner(callbacks, frame_rate=self.settings.frame_rate, collect_sensor_data=False)
        with contextlib.redirect_stdout(io.StringIO()):
            self.runner.reset(EpisodeTask(world=world, route=route, name=template.name or template.scene), seed=draw.seed)
        self.ego_state = self._read_ego(None, (0.0, 0.0))
        self._full_decision = True
        self._path_start = path_errors(self.path, self.ego_state.xy, self.ego_state.yaw)[0]
        self._mask = None
        info = {"action_mask": self.action_masks(), "episode_seed": draw.seed, "template": template.name or template.scene,
                "adversary_error": self.adversary.error if self.adversary else "", "cousin": self.cousin}
        return self._observe(), info

    def step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        """One decision: drive the anchor (or hold the control) for `anchor_horizon` s, then judge it."""
        started = time.perf_counter()
        try:
            return self._step(action)
        finally:
            self.timings["step_s"] += time.perf_counter() - started

    def _step(self, action: Any) -> tuple[dict, float, bool, bool, dict]:
        if self.runner is None or self.ego_state is None:
            raise RuntimeError("ReconDrivingEnv.step before reset")
        before = self.ego_state
        projected = False
        hits: list[Any] = []
        if self.settings.action == "anchors":
            lateral_index, longitudinal_index = (int(a) for a in np.asarray(action).reshape(-1)[:2])
            mask = self.action_masks()
            if not mask[lateral_index, longitudinal_index]:
                lateral_index, longitudinal_index = _nearest_true(mask, lateral_index, longitudinal_index)
                projected = True
            lateral, longitudinal = self.grid.displacement(lateral_index, longitudinal_index)
            with contextlib.redirect_stdout(io.StringIO()):  # the episode loop's and adversary's prints
                hits = self._drive_anchor(lateral, longitudinal)
            last_action = (lateral, longitudinal)
        else:
            steer, pedal = (float(np.clip(a, -1.0, 1.0)) for a in np.asarray(action).reshape(-1)[:2])
            control = carla.VehicleControl(throttle=max(pedal, 0.0), brake=max(-pedal, 0.0), steer=steer)
            with contextlib.redirect_stdout(io.StringIO()):
                hits = self._hold_control(control)
            last_action = (0.0, 0.0)
        self.steps += 1
        self.ego_state = self._read_ego(before, last_action)
        self._mask = None
        actors = self._actors()
        outcome = judge_decision(self.reward_settings, hits, self.runner.world.get_map(), self.runner.ego, self.path,
                                 before, self.ego_state, actors if self.reward_settings.headway > 0 else None)
        terminated = outcome.terminal or self.runner.done
        truncated = not terminated and self.steps >= self.settings.max_steps
        info = self._info(outcome, projected)
        return self._observe(actors), outcome.reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """(lateral_bins, longitudinal_bins) bool: the anchors the bicycle model can drive from the current speed."""
        if self._mask is None:
            speed = self.ego_state.speed if self.ego_state is not None else 0.0
            self._mask = feasible_mask(self.grid, speed)
            if not self._mask.any():  # the grid is too coarse for this speed: the straight anchor nearest coasting
                coasting = int(np.argmin(np.abs(self.grid.longitudinal - speed * self.grid.horizon)))
                self._mask[self.grid.lateral_bins // 2, coasting] = True
        return self._mask

    def close(self) -> None:
        """End the episode and drop the worlds."""
        self._close_episode()
        self._maps.clear()

    # ---- inside -------------------------------------------------------------------------------------
    def _close_episode(self) -> None:
        if self.runner is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                self.runner.close()
            self.runner = None

    def _cousins_of(self, scene: str) -> list[tuple[str, Any]]:
        if scene not in self._cousins:
            self._cousins[scene] = accepted_cousins(scene, lambda name: open_world(name, 0, self._maps))
        return self._cousins[scene]

    def _lane_path(self, scene: str, x: float, y: float, waypoint: carla.Waypoint) -> Any:
        """The reference line of the start lane (the start of a template's episodes is fixed: built once per env)."""
        key = (scene, float(x), float(y))
        if key not in self._lane_paths:
            self._lane_paths[key] = lane_reference(waypoint, behind=10.0, ahead=PATH_AHEAD_M)
        return self._lane_paths[key]

    def _route(self, start: carla.Transform, key: tuple[str, float, float] | None) -> list[tuple[carla.Transform, Any]]:
        """The route along the path from `start`; kept per `key` (the start lane's key of `_lane_path`: the path and
        the start are the template's), None: built afresh (a cousin's path). Its transforms are read-only."""
        from agents.navigation.local_planner import RoadOption

        if key is not None and key in self._routes:
            return list(self._routes[key])
        s0 = self.path.to_frenet(np.array([start.location.x, start.location.y]))[0]
        marks = s0 + np.arange(0.0, PATH_AHEAD_M - 20.0, 2.0)
        xy = self.path.to_world(marks, np.zeros_like(marks))
        yaws = np.degrees(self.path.heading(marks))
        route = [(carla.Transform(carla.Location(float(p[0]), float(p[1]), start.location.z), carla.Rotation(yaw=float(y))),
                  RoadOption.LANEFOLLOW) for p, y in zip(xy, yaws)]
        if key is not None:
            self._routes[key] = route
        return list(route)

    def _drive_anchor(self, lateral: float, longitudinal: float) -> list[Any]:
        """Drive the arc to the anchor tick by tick (pose and velocity set, the world ticks); the hits on the way."""
        ego = self.ego_state
        arc = arc_to(lateral, longitudinal, ego.speed, self.settings.anchor_horizon)
        c, s = math.cos(ego.yaw), math.sin(ego.yaw)
        times = np.arange(self.ticks_per_decision + 1) * (self.settings.anchor_horizon / self.ticks_per_decision)
        forward, right, turn = arc.pose_at(times)
        xy = ego.xy + np.stack([forward * c - right * s, forward * s + right * c], axis=1)
        hits: list[Any] = []
        self._full_decision = False
        for k in range(self.ticks_per_decision):
            drive_step(self.runner.ego, xy[k], ego.yaw + turn[k], xy[k + 1], ego.yaw + turn[k + 1], times[1])
            hits.extend(self._tick(NO_CONTROL))
            if hits or self.runner.done:
                return hits
        self._full_decision = True
        return hits

    def _hold_control(self, control: carla.VehicleControl) -> list[Any]:
        hits: list[Any] = []
        self._full_decision = False
        for _ in range(self.ticks_per_decision):
            hits.extend(self._tick(control))
            if hits or self.runner.done:
                return hits
        self._full_decision = True
        return hits

    def _tick(self, control: carla.VehicleControl) -> tuple[Any, ...]:
        """One world tick through the episode loop (callers silence stdout around a decision's ticks)."""
        simulation = getattr(self.runner.world, "simulation", None)
        rendered = simulation.render_seconds if simulation is not None else 0.0
        started = time.perf_counter()
        self.runner.step(control)
        self.timings["world_tick_s"] += time.perf_counter() - started
        self.timings["ticks"] += 1
        if simulation is not None:
            self.timings["render_s"] += simulation.render_seconds - rendered
        return self.runner.hits

    def _read_ego(self, before: EgoState | None, last_action: tuple[float, float]) -> EgoState:
        transform = self.runner.ego.get_transform()
        velocity = self.runner.ego.get_velocity()
        yaw = math.radians(transform.rotation.yaw)
        speed = math.hypot(velocity.x, velocity.y)
        xy = np.array([transform.location.x, transform.location.y])
        if before is None:
            return EgoState(xy, yaw, speed, 0.0, 0.0, last_action)
        horizon = self.settings.anchor_horizon
        turn = (yaw - before.yaw + math.pi) % (2 * math.pi) - math.pi
        return EgoState(xy, yaw, speed, (speed - before.speed) / horizon, turn / horizon, last_action)

    def _actors(self) -> list[ActorState]:
        actors = []
        ego_id = self.runner.ego.id
        for vehicle in self._vehicles():
            if vehicle.id == ego_id:
                continue
            transform, velocity, extent = vehicle.get_transform(), vehicle.get_velocity(), vehicle.bounding_box.extent
            if transform.location.z < -100.0:  # a logged vehicle not shown at this time
                continue
            actors.append(ActorState(np.array([transform.location.x, transform.location.y]),
                                     math.radians(transform.rotation.yaw), np.array([velocity.x, velocity.y]),
                                     2.0 * extent.x, 2.0 * extent.y))
        return actors

    def _vehicles(self) -> list[Any]:
        """The world's vehicles, as `get_actors().filter('vehicle.*')` lists them (read straight from the simulation
        when there is one: no actor list of every light and sensor each decision)."""
        world = self.runner.world
        simulation = getattr(world, "simulation", None)
        if simulation is None:
            return list(world.get_actors().filter("vehicle.*"))
        return [simulation.facade(state.actor_id) for state in simulation.alive_states()
                if fnmatch.fnmatchcase(state.type_id, "vehicle.*")]

    def _observe(self, actors: list[ActorState] | None = None) -> dict[str, np.ndarray]:
        """The observation of the present state (`actors`: the other vehicles now, when the caller has them)."""
        actors = self._actors() if actors is None else actors
        observation = {"state": state_vector(self.ego_state, self.path, self.target_speed, 0, actors,
                                             self.settings.nearby_actors, self.settings.sensing_radius)}
        if self.settings.bev:
            observation["bev"] = bev_raster(self.ego_state, self.path, actors, self.settings.bev_size,
                                            self.settings.bev_metres)
        if self.camera is not None:  # a decision cut short (a collision) ends the episode: its last image will do
            started = time.perf_counter()
            observation["camera"] = self.camera.wait(self.runner.frame if self._full_decision else self.camera.frame)
            self.timings["camera_wait_s"] += time.perf_counter() - started
        elif self.settings.observation == "camera":  # external: blank until the batched renderer fills it
            observation["camera"] = np.zeros(self.observation_space["camera"].shape, dtype=np.uint8)
        return observation

    def _info(self, outcome: DecisionOutcome, projected: bool) -> dict[str, Any]:
        s, offset, heading_error = path_errors(self.path, self.ego_state.xy, self.ego_state.yaw)
        return {"action_mask": self.action_masks(), "projected": projected, "events": list(outcome.events),
                "reward_lateral": outcome.lateral, "reward_longitudinal": outcome.longitudinal,
                "offset": offset, "heading_error": heading_error, "progress": s - self._path_start,
                "speed": self.ego_state.speed, "acceleration": self.ego_state.acceleration,
                "lateral_acceleration": self.ego_state.speed * self.ego_state.yaw_rate,
                "time": self.runner.time, "planned_length": self.settings.max_steps * self.settings.anchor_horizon
                * self.target_speed}


class _InitialSpeed(EpisodeCallback):
    """Starts the ego moving at `speed` m/s along its heading (the episodes begin in motion, as logged)."""

    def __init__(self, speed: float, yaw_degrees: float) -> None:
        self.speed, self.yaw = speed, math.radians(yaw_degrees)

    def on_episode_start(self, runner: EpisodeRunner) -> None:
        """Set the ego's velocity before the reset's last tick."""
        runner.ego.set_target_velocity(carla.Vector3D(self.speed * math.cos(self.yaw), self.speed * math.sin(self.yaw), 0))


def _nearest_true(mask: np.ndarray, row: int, col: int) -> tuple[int, int]:
    rows, cols = np.nonzero(mask)
    best = int(np.argmin((rows - row) ** 2 + (cols - col) ** 2))
    return int(rows[best]), int(cols[best])
