"""`EpisodeRunner`: one driving episode that anyone can step — reset(task, seed) → observation,
step(control) → step result, close().

reset spawns the ego where the task starts, tells srunner's data provider the hero and its route and
ticks (or takes the task's ego as it is), mounts the agent's sensors (the leaderboard's sensor specs,
delivering into a `SensorInterface`) and a collision sensor, runs `on_episode_start`, and ticks once more
when it spawned or mounted anything (the leaderboard's order). step applies the control and ticks the world once, with the callbacks around the tick (see
`callbacks`). The evaluator, ScenarioRunner runs with an agent and the demo are configurations of it:
an agent, a task, and callbacks.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import carla
import numpy as np

from recon_carla_bridge.episode.callbacks import EpisodeCallback
from recon_carla_bridge.leaderboard.agent_host import AgentSensors, register_hero
from recon_carla_bridge.leaderboard.api.envs.sensor_interface import SensorInterface
from recon_carla_bridge.leaderboard.clock import GameClock
from recon_carla_bridge.leaderboard.criteria.base import CollisionHit

EGO_BLUEPRINT = "vehicle.lincoln.mkz_2020"
SPAWN_LIFT_M = 0.5  # the leaderboard spawns the ego this far above the route's first point


@dataclass
class EpisodeTask:
    """Where an episode runs: a loaded world, the ego's start (or an ego that already exists), its route.

    Fields:
        world: the world to drive in (its settings are set to synchronous, 1 / frame_rate s a tick).
        route: [(carla.Transform, RoadOption)] the ego is meant to follow (its first point is the start).
        gps_route: the same points as [({'lat', 'lon', 'z'}, RoadOption)] (agents' global plan).
        start: where to spawn the ego (default: the route's first point); ignored when `ego` is given.
        ego: an ego vehicle that already exists (ScenarioRunner spawned it); the runner does not destroy it.
        name: what the episode is called (route id, scenario name).
    """

    world: Any
    route: list[tuple[carla.Transform, Any]] = field(default_factory=list)
    gps_route: list[tuple[dict[str, float], Any]] = field(default_factory=list)
    start: carla.Transform | None = None
    ego: Any = None
    name: str = "episode"


@dataclass(frozen=True)
class Observation:
    """What the ego's agent may read after a tick.

    Fields:
        frame: world frame number; time: s since the episode started.
        input_data: {sensor id: (frame, data)} of the agent's sensors at this frame (the leaderboard's
            `run_step` input), when the runner collects them ({} otherwise: the agent reads its own interface).
        transform, velocity: the ego's pose and velocity (m/s, world frame).
    """

    frame: int
    time: float
    input_data: dict[str, tuple[int, Any]]
    transform: carla.Transform
    velocity: carla.Vector3D


@dataclass(frozen=True)
class StepResult:
    """One step: the observation after it, whether the episode is over, and why."""

    observation: Observation
    done: bool
    reason: str = ""


class EpisodeRunner:
    """The episode loop (see the module docstring). Not thread-safe; one episode at a time."""

    def __init__(self, callbacks: Sequence[EpisodeCallback] = (), *, frame_rate: float = 20.0,
                 ego_blueprint: str = EGO_BLUEPRINT, collect_sensor_data: bool = True, sensor_timeout: float = 10.0) -> None:
        """Callbacks run in the given order. The agent's sensors deliver into `sensor_interface` (a fresh one
        each episode); observations carry their data when `collect_sensor_data` (else a hosted agent reads
        the interface itself); `sensor_timeout` (s) bounds the wait for a frame's data."""
        self.callbacks = list(callbacks)
        self.frame_rate = float(frame_rate)
        self.ego_blueprint = ego_blueprint
        self.sensor_timeout = float(sensor_timeout)
        self.sensor_interface = SensorInterface()
        self.collect_sensor_data = collect_sensor_data
        self.clock = GameClock()
        self.task: EpisodeTask | None = None
        self.world: Any = None
        self.ego: Any = None
        self.sensor_specs: list[dict[str, Any]] = []  # the agent's sensors of this episode
        self.hits: tuple[CollisionHit, ...] = ()  # the ego's collisions during the last tick
        self.tick_seconds = 0.0  # wall time spent inside world.tick() (world step and sensors)
        self.done = False
        self.reason = ""
        self._sensors: AgentSensors | None = None
        self._owned: list[Any] = []  # actors the runner spawned (destroyed at close)
        self._pending_hits: list[CollisionHit] = []
        self._start_time = 0.0
        self._open = False

    # ---- the loop ------------------------------------------------------------------------------
    def reset(self, task: EpisodeTask, seed: int | None = None,
              sensors: Sequence[dict[str, Any]] | Callable[[], Sequence[dict[str, Any]]] = ()) -> Observation:
        """Start an episode of `task` (closing one still open) and return the first observation. `seed` reseeds
        the world's random draws (None: left as they are). `sensors`: the agent's sensor specs, or a function
        called once the ego exists that returns them (it may build the agent; an exception it raises leaves
        nothing spawned behind). A task's own ego is left to whoever registered it with srunner; an ego the
        runner spawns is registered as the hero with the task's route."""
        if self._open:
            self.close()
        self.task, self.world = task, task.world
        self.done, self.reason, self.hits, self.tick_seconds = False, "", (), 0.0
        self.clock = GameClock()
        self.sensor_interface = SensorInterface()
        self.sensor_interface._queue_timeout = self.sensor_timeout
        self.sensor_specs = []
        self._pending_hits = []
        self._open = True
        settings = self.world.get_settings()
        settings.synchronous_mode, settings.fixed_delta_seconds = True, 1.0 / self.frame_rate
        self.world.apply_settings(settings)
        if seed is not None:
            _seed_world(self.world, seed)
        try:
            spawned = task.ego is None
            if spawned:
                self.ego = self._spawn_ego(task)
                register_hero(self.world, self.ego, task.route)
                self._tick()
            else:
                self.ego = task.ego
            self.sensor_specs = list(sensors() if callable(sensors) else sensors)
            self._sensors = AgentSensors(self.world, self.ego, self.sensor_specs, self.sensor_interface, self.frame_rate)
            self._spawn_collision_sensor()
            for callback in self.callbacks:
                callback.on_episode_start(self)
            if spawned or self.sensor_specs:
                self._tick()  # the sensors deliver their first data before the agent's first step
        except BaseException:
            self._destroy_actors()
            self._open = False
            raise
        self._start_time = self.world.get_snapshot().timestamp.elapsed_seconds
        return self._observe()

    def step(self, control: carla.VehicleControl) -> StepResult:
        """Apply `control` to the ego, tick the world once, and return what the agent sees next."""
        if not self._open or self.done:
            raise RuntimeError("EpisodeRunner.step: the episode is over (or was never reset)")
        for callback in self.callbacks:
            callback.on_step_start(self, control)
        self.ego.apply_control(control)
        self._tick()
        observation = self._observe()
        return StepResult(observation, self.done, self.reason)

    def close(self) -> None:
        """Finish the episode: `on_episode_end` for every callback (each runs even when another raises), then
        destroy what the runner spawned. Safe to call twice."""
        if not self._open:
            return
        self._open = False
        errors: list[BaseException] = []
        for callback in self.callbacks:
            try:
                callback.on_episode_end(self, self.reason)
            except Exception as error:  # noqa: BLE001 — the others still finish; re-raised below
                errors.append(error)
        self._destroy_actors()
        if errors:
            raise errors[0]

    # ---- what callbacks read -------------------------------------------------------------------
    @property
    def frame(self) -> int:
        """World frame of the last tick."""
        return self.clock.frame

    @property
    def time(self) -> float:
        """Simulated seconds since the episode started (0 at the first observation)."""
        return self.clock.time

    # ---- inside ----------------------------------------------------------------------------------
    def _spawn_ego(self, task: EpisodeTask) -> Any:
        start = task.start or (task.route[0][0] if task.route else None)
        if start is None:
            raise ValueError(f"episode {task.name}: the task has no start, no route and no ego")
        transform = carla.Transform(carla.Location(start.location.x, start.location.y, start.location.z + SPAWN_LIFT_M),
                                    start.rotation)
        blueprint = self.world.get_blueprint_library().find(self.ego_blueprint)
        blueprint.set_attribute("role_name", "hero")
        ego = self.world.spawn_actor(blueprint, transform)
        self._owned.append(ego)
        return ego

    def _spawn_collision_sensor(self) -> None:
        blueprint = self.world.get_blueprint_library().find("sensor.other.collision")
        sensor = self.world.spawn_actor(blueprint, carla.Transform(), attach_to=self.ego)
        sensor.listen(lambda event: self._pending_hits.append(
            CollisionHit(int(event.other_actor.id), str(event.other_actor.type_id))))
        self._owned.append(sensor)

    def _tick(self) -> None:
        started = time.perf_counter()
        self.world.tick()
        self.tick_seconds += time.perf_counter() - started

    def _observe(self) -> Observation:
        snapshot = self.world.get_snapshot()
        elapsed = snapshot.timestamp.elapsed_seconds - self._start_time
        self.clock.on_tick(snapshot.frame, elapsed)
        if self._sensors is not None:
            self._sensors.tick(snapshot.frame, elapsed)
        self.hits, self._pending_hits = tuple(self._pending_hits), []
        for callback in self.callbacks:
            reason = callback.on_step_end(self)
            if reason and not self.done:
                self.done, self.reason = True, reason
        has_sensors = self._sensors is not None and (self._sensors.actors or self._sensors.readers)
        input_data = (self.sensor_interface.get_data(snapshot.frame)
                      if self.collect_sensor_data and has_sensors else {})
        return Observation(snapshot.frame, elapsed, input_data, self.ego.get_transform(), self.ego.get_velocity())

    def _destroy_actors(self) -> None:
        if self._sensors is not None:
            self._sensors.destroy()
            self._sensors = None
        for actor in reversed(self._owned):
            try:
                if actor.type_id.startswith("sensor"):
                    actor.stop()
                actor.destroy()
            except RuntimeError:
                pass
        self._owned = []


def _seed_world(world: Any, seed: int) -> None:
    """Seed what draws random numbers in the world: its simulation and its traffic managers."""
    simulation = getattr(world, "simulation", None)
    if simulation is not None:
        simulation.rng = np.random.default_rng(seed)
        simulation.traffic_manager().set_random_device_seed(seed)
