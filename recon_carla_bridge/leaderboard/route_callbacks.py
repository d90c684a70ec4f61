"""The evaluator's episode callbacks: route criteria, the recorder, the route's scenarios, the front video.

Plug-in points (EpisodeRunner hooks, see `recon_carla_bridge.episode.callbacks`):
- `RouteScenarios` hosts the route's srunner scenarios: built in `on_episode_start`, ticked in
  `on_step_start` (before the ego's control is applied, as srunner's manager does), their objects kept alive
  until `on_episode_end` removes their actors.
- `RouteTraffic` spawns the route's background traffic (`background_traffic`) when the episode starts, keeps
  it up after each tick and removes it at the end.
- `RouteProgressLines` prints a progress line (sim time, completion, ticks/s) every few wall seconds.
- `RouteCriteria` reads each tick in `on_step_end` and ends the route when a criterion says so.
- `RouteRecording` records the tick and the control in `on_step_start`; `FrontVideoCallback` writes frames.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import carla
import numpy as np

from recon_carla_bridge.episode.callbacks import EpisodeCallback
from recon_carla_bridge.leaderboard.background_traffic import BackgroundTraffic, TrafficSettings, start_background_traffic
from recon_carla_bridge.leaderboard.criteria import LightState, TickSnapshot, build_route_criteria
from recon_carla_bridge.leaderboard.criteria.signals import StopSignGeometry, TrafficLightGeometry, light_geometry
from recon_carla_bridge.leaderboard.episode import SIGNAL_GREEN, SIGNAL_OFF, SIGNAL_RED, SIGNAL_YELLOW, EpisodeRecorder
from recon_carla_bridge.leaderboard.planning import PlannedRoute, expert_trajectory
from recon_carla_bridge.leaderboard.progress import RouteProgress
from recon_carla_bridge.leaderboard.scenario_host import ScenarioHost
from recon_carla_bridge.leaderboard.video import FrontVideo

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.episode.runner import EpisodeRunner

RECORD_RADIUS = 50.0  # m: other actors within this distance of the ego are recorded
LIGHT_CODES = {carla.TrafficLightState.Green: SIGNAL_GREEN, carla.TrafficLightState.Yellow: SIGNAL_YELLOW,
               carla.TrafficLightState.Red: SIGNAL_RED}
CRITERIA_END = "the route's criteria ended it"


class RouteCriteria(EpisodeCallback):
    """The leaderboard's route criteria, updated every tick; also what the tick shows near the ego
    (`actors` rows, `light_states`, `last`: the last TickSnapshot) for the recorder."""

    def __init__(self, planned: PlannedRoute, world_map: carla.Map) -> None:
        """Criteria of `planned` on `world_map` (built when the episode starts)."""
        self.planned, self.map = planned, world_map
        self.criteria: Any = None
        self.lights: list[TrafficLightGeometry] = []
        self.last: TickSnapshot | None = None
        self.actors = np.zeros((0, 8))
        self.actor_types: dict[int, str] = {}
        self.light_states = np.zeros(0, dtype=np.int8)

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Find the lights and stop signs; build the criteria."""
        world = runner.world
        self.lights = [light_geometry(a.id, a.get_transform(), a.trigger_volume, self.map)
                       for a in world.get_actors().filter("traffic.traffic_light*")]
        self.criteria = build_route_criteria(self.planned, self.map, lights=self.lights, stops=_stop_signs(world))

    def on_step_end(self, runner: "EpisodeRunner") -> str | None:
        """Update every criterion with this tick; the route ends when one says so."""
        ego, world = runner.ego, runner.world
        transform, velocity = ego.get_transform(), ego.get_velocity()
        self.actors, background = _nearby(world, ego, transform.location, self.actor_types)
        self.light_states = np.array([LIGHT_CODES.get(world.get_actor(light.light_id).get_state(), SIGNAL_OFF)
                                      for light in self.lights], dtype=np.int8)
        self.last = TickSnapshot(
            frame=runner.frame, time=runner.time, transform=transform, velocity=velocity,
            extent=ego.bounding_box.extent, collisions=runner.hits,
            lights=tuple(LightState(light.light_id, bool(state == SIGNAL_RED))
                         for light, state in zip(self.lights, self.light_states)),
            background_speeds=tuple(background), speed_limit=float(ego.get_speed_limit() or 30.0))
        return CRITERIA_END if self.criteria.update(self.last) else None

    def events(self) -> list[Any]:
        """The traffic events, after closing the criteria on the last tick."""
        if self.criteria is None:
            return []
        self.criteria.terminate(self.last)
        return self.criteria.events()


class RouteRecording(EpisodeCallback):
    """Records every step (the tick and the control applied after it) into an `EpisodeRecorder`."""

    def __init__(self, planned: PlannedRoute, criteria: RouteCriteria, dt: float) -> None:
        """Record `planned` with the tick views of `criteria`, `dt` s a tick."""
        self.planned, self.criteria, self.dt = planned, criteria, dt
        self.recorder: EpisodeRecorder | None = None
        self._last_frame = -1

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Start a recording with the ego's size, the route and the lights' stop lines."""
        extent = runner.ego.bounding_box.extent
        self.recorder = EpisodeRecorder(self.planned.config.town, self.dt, np.array([extent.x, extent.y, extent.z]),
                                        np.column_stack([self.planned.points[:, :2], self.planned.yaws]),
                                        self.planned.cumulative, expert_trajectory(self.planned))
        self.recorder.set_signals(np.array([light.light_id for light in self.criteria.lights]),
                                  _stop_lines(self.criteria.lights))

    def on_step_start(self, runner: "EpisodeRunner", control: Any) -> None:
        """One row: the ego at this tick, the control it is given, what is near it."""
        ego, recorder = runner.ego, self.recorder
        assert recorder is not None
        transform, velocity = ego.get_transform(), ego.get_velocity()
        acceleration, angular, rot = ego.get_acceleration(), ego.get_angular_velocity(), transform.rotation
        recorder.add(runner.time, runner.frame,
                     (transform.location.x, transform.location.y, transform.location.z, rot.roll, rot.pitch, rot.yaw),
                     (velocity.x, velocity.y, velocity.z), (acceleration.x, acceleration.y, acceleration.z),
                     (angular.x, angular.y, angular.z), (control.throttle, control.steer, control.brake),
                     self.criteria.criteria.completion.value, self.criteria.actors)
        recorder.actor_types.update(self.criteria.actor_types)
        recorder.add_signal_states(self.criteria.light_states)
        for hit in runner.hits:
            recorder.add_collision(hit.other_id, hit.other_type_id)
        self._last_frame = runner.frame

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """A route that a callback ended (criteria, time cap) also records its last tick, as the leaderboard
        records the tick it stops at; its control is the one the ego still holds."""
        if runner.done and self.recorder is not None and self._last_frame != runner.frame:
            self.on_step_start(runner, runner.ego.get_control())


class RouteScenarios(EpisodeCallback):
    """The route's srunner scenarios (`ScenarioHost`), ticked before each control is applied."""

    def __init__(self, planned: PlannedRoute) -> None:
        """Scenarios of `planned` (instantiated when the episode starts)."""
        self.planned = planned
        self.host: ScenarioHost | None = None
        self._final_summary: dict[str, Any] | None = None

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Instantiate the scenarios next to the ego (the host keeps srunner's scenario objects alive)."""
        self.host = ScenarioHost(runner.world, runner.ego, self.planned)

    def on_step_start(self, runner: "EpisodeRunner", control: Any) -> None:
        """Tick the scenario behaviours once."""
        if self.host is not None:
            self.host.tick(runner.world.get_snapshot())

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """Keep the summary, then remove the scenarios' actors."""
        if self.host is not None:
            self._final_summary = self.host.summary()
            self.host.close()
            self.host = None

    def summary(self) -> dict[str, Any] | None:
        """Which scenarios ran and what their actors did (None before the episode started)."""
        return self.host.summary() if self.host is not None else self._final_summary


class RouteTraffic(EpisodeCallback):
    """The route's background traffic, as its route file's leaderboard generation makes it."""

    def __init__(self, planned: PlannedRoute, settings: TrafficSettings) -> None:
        """Traffic for `planned` with `settings` (spawned when the episode starts)."""
        self.planned, self.settings = planned, settings
        self.traffic: BackgroundTraffic | None = None
        self._final_summary: dict[str, Any] | None = None

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Spawn the traffic around the ego (1.0: over the town; 2.0: along the route near the ego)."""
        self.traffic = start_background_traffic(runner.world, runner.ego, self.planned, self.settings)

    def on_step_end(self, runner: "EpisodeRunner") -> str | None:
        """Upkeep after the tick (2.0 traffic follows the ego)."""
        if self.traffic is not None:
            self.traffic.tick()
        return None

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """Keep the summary, then remove the vehicles."""
        if self.traffic is not None:
            self._final_summary = self.traffic.summary()
            self.traffic.close()
            self.traffic = None

    def summary(self) -> dict[str, Any] | None:
        """How the traffic was made and how many vehicles it spawned (None before the episode started)."""
        return self.traffic.summary() if self.traffic is not None else self._final_summary


class RouteProgressLines(EpisodeCallback):
    """A progress line (sim time, route completion, ticks/s) every `every` wall seconds of a route."""

    def __init__(self, planned: PlannedRoute, criteria: "RouteCriteria", every: float, name: str = "") -> None:
        """Lines for `planned` (named `name`, else its route id), its completion read from `criteria`; `every` <= 0
        prints none."""
        self.progress = RouteProgress(name or planned.config.route_id, planned.length,
                                      every if every > 0 else float("inf"))
        self.criteria = criteria

    def on_step_end(self, runner: "EpisodeRunner") -> str | None:
        """Print when a line is due."""
        if self.criteria.criteria is not None:
            self.progress.update(runner.time, self.criteria.criteria.completion.value)
        return None


class FrontVideoCallback(EpisodeCallback):
    """The route's front video: the agent's first rgb camera, else a schematic camera."""

    def __init__(self, path: Path, world_map: carla.Map, frame_rate: float, video_fps: float) -> None:
        """Write to `path` at `video_fps` (one frame every frame_rate / video_fps ticks)."""
        self.path, self.map, self.frame_rate, self.fps = path, world_map, frame_rate, video_fps
        self.video: FrontVideo | None = None
        self.description = ""
        self._last_frame = -1

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """Open the video on the agent's rgb camera when it has one."""
        rgb = next((spec for spec in runner.sensor_specs if spec["type"] == "sensor.camera.rgb"), None)
        self.video = FrontVideo(self.path, self.map, rgb["id"] if rgb else None,
                                every=max(int(round(self.frame_rate / self.fps)), 1), fps=self.fps)
        self.description = f"agent camera '{rgb['id']}'" if rgb else "schematic camera (the agent has none)"

    def on_step_start(self, runner: "EpisodeRunner", control: Any) -> None:
        """Add this tick's frame when due."""
        assert self.video is not None
        self.video.add(runner.sensor_interface, runner.frame, runner.ego, runner.world)
        self._last_frame = runner.frame

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """Add the last tick of a route a callback ended (as `RouteRecording`), then finish the file."""
        if self.video is None:
            return
        if runner.done and self._last_frame != runner.frame:
            self.on_step_start(runner, None)
        self.video.close()


def _stop_signs(world: Any) -> list[StopSignGeometry]:
    stops = []
    for actor in world.get_actors().filter("traffic.stop*"):
        transform, volume = actor.get_transform(), actor.trigger_volume
        center = transform.transform(carla.Location(volume.location))  # transform() works in place
        location = transform.location
        stops.append(StopSignGeometry(actor.id, (location.x, location.y, location.z),
                                      (center.x, center.y, center.z), (volume.extent.x, volume.extent.y)))
    return stops


def _nearby(world: Any, ego: Any, location: carla.Location, actor_types: dict[int, str]) -> tuple[np.ndarray, list[float]]:
    """(K, 8) rows (the episode's ACTOR_COLUMNS) of the actors within RECORD_RADIUS of the ego, and the speeds
    of the background vehicles among them; their type ids go into `actor_types`."""
    rows, background = [], []
    for actor in world.get_actors():
        type_id = actor.type_id
        if actor.id == ego.id or not type_id.startswith(("vehicle", "walker", "static")):
            continue
        transform = actor.get_transform()
        if transform.location.distance(location) > RECORD_RADIUS:
            continue
        extent = actor.bounding_box.extent
        velocity = actor.get_velocity()
        rows.append([actor.id, transform.location.x, transform.location.y, transform.rotation.yaw,
                     extent.x, extent.y, velocity.x, velocity.y])
        actor_types[int(actor.id)] = type_id
        if type_id.startswith("vehicle") and actor.attributes.get("role_name") == "background":
            background.append(float(velocity.length()))
    return np.asarray(rows, dtype=np.float64).reshape(-1, 8), background


def _stop_lines(lights: list[TrafficLightGeometry]) -> np.ndarray:
    """(S, 5) stop lines of `lights` in the episode's STOP_LINE_COLUMNS layout."""
    rows = [[k, w.transform.location.x, w.transform.location.y, w.transform.rotation.yaw, w.lane_width / 2.0]
            for k, light in enumerate(lights) for w in light.stop_waypoints]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)
