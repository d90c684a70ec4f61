"""Drive one route: spawn the ego and the agent's sensors, tick the world, run criteria and scenarios, record.

Per tick, in the leaderboard's order: read the clock, feed pseudo-sensors, collect the frame's sensor data,
call the agent (under a deadline), tick the scenarios, update the criteria, apply the control, tick the world.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import carla
import numpy as np

from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.agent_host import (
    build_agent,
    plan_sample_distance,
    check_control,
    deadline,
)
from recon_carla_bridge.leaderboard.api.autoagents.agent_wrapper import (
    validate_sensor_configuration,
)
from recon_carla_bridge.leaderboard.api.envs.sensor_interface import (
    CallBack,
    OpenDriveMapReader,
    SensorConfigurationInvalid,
    SpeedometerReader,
)
from recon_carla_bridge.leaderboard.background_traffic import start_background_traffic
from recon_carla_bridge.leaderboard.clock import GameClock
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.criteria import (
    CollisionHit,
    LightState,
    TickSnapshot,
    build_route_criteria,
)
from recon_carla_bridge.leaderboard.criteria.signals import (
    StopSignGeometry,
    TrafficLightGeometry,
    light_geometry,
)
from recon_carla_bridge.leaderboard.episode import (
    SIGNAL_GREEN,
    SIGNAL_OFF,
    SIGNAL_RED,
    SIGNAL_YELLOW,
    Episode,
    EpisodeRecorder,
)
from recon_carla_bridge.leaderboard.planning import PlannedRoute, expert_trajectory
from recon_carla_bridge.leaderboard.progress import RouteProgress
from recon_carla_bridge.leaderboard.scenario_host import ScenarioHost
from recon_carla_bridge.leaderboard.video import FrontVideo

EGO_BLUEPRINT = "vehicle.lincoln.mkz_2020"
RECORD_RADIUS = 50.0  # m: other actors within this distance of the ego are recorded
LIGHT_CODES = {carla.TrafficLightState.Green: SIGNAL_GREEN, carla.TrafficLightState.Yellow: SIGNAL_YELLOW,
               carla.TrafficLightState.Red: SIGNAL_RED}


@dataclass
class RouteResult:
    """What `run_route` returns: the scored record, the recorded episode and the agent's sensor types."""

    record: dict[str, Any]
    episode: Episode | None
    sensor_types: list[str] = field(default_factory=list)
    rejected: bool = False


def _sensor_attributes(spec: dict[str, Any]) -> tuple[dict[str, str], carla.Transform]:
    """Blueprint attributes and mounting transform of a sensor, as leaderboard 2.0 sets them."""
    kind = spec["type"]
    attributes: dict[str, str] = {}
    if kind == "sensor.camera.rgb":
        attributes = {"image_size_x": str(spec["width"]), "image_size_y": str(spec["height"]), "fov": str(spec["fov"])}
    elif kind == "sensor.lidar.ray_cast":
        attributes = {"range": "85", "rotation_frequency": "10", "channels": "64", "upper_fov": "10",
                      "lower_fov": "-30", "points_per_second": "600000", "atmosphere_attenuation_rate": "0.004",
                      "dropoff_general_rate": "0.45", "dropoff_intensity_limit": "0.8", "dropoff_zero_intensity": "0.4"}
    elif kind == "sensor.other.radar":
        attributes = {"horizontal_fov": str(spec["horizontal_fov"]), "vertical_fov": str(spec["vertical_fov"]),
                      "points_per_second": "1500", "range": "100"}
    elif kind == "sensor.other.gnss":
        attributes = {f"noise_{k}_{s}": v for k in ("alt", "lat", "lon")
                      for s, v in (("stddev", "0.000005"), ("bias", "0.0"))}
    elif kind == "sensor.other.imu":
        attributes = {f"noise_{k}": "0.001" for k in ("accel_stddev_x", "accel_stddev_y", "gyro_stddev_x",
                                                        "gyro_stddev_y", "gyro_stddev_z")}
        attributes["noise_accel_stddev_z"] = "0.015"
    location = carla.Location(float(spec.get("x", 0)), float(spec.get("y", 0)), float(spec.get("z", 0)))
    rotation = carla.Rotation() if kind == "sensor.other.gnss" else carla.Rotation(
        pitch=float(spec.get("pitch", 0)), roll=float(spec.get("roll", 0)), yaw=float(spec.get("yaw", 0)))
    return attributes, carla.Transform(location, rotation)


class RouteRunner:
    """Runs one route of an agent in a loaded world."""

    def __init__(self, world: Any, world_map: carla.Map, planned: PlannedRoute, config: EvaluatorConfig,
                 agent_class: type, artifacts: Path) -> None:
        """Bind the world, the planned route, the settings, the agent class and the output folder."""
        self.world = world
        self.map = world_map
        self.planned = planned
        self.config = config
        self.agent_class = agent_class
        self.artifacts = artifacts
        self.actors: list[Any] = []
        self.readers: list[Any] = []
        self.agent: Any = None
        self.clock = GameClock()
        self._hits: list[CollisionHit] = []

    # ---- setup -------------------------------------------------------------------------------
    def _spawn_ego(self) -> Any:
        start = self.planned.route[0][0]
        transform = carla.Transform(carla.Location(start.location.x, start.location.y, start.location.z + 0.5),
                                    start.rotation)
        blueprint = self.world.get_blueprint_library().find(EGO_BLUEPRINT)
        blueprint.set_attribute("role_name", "hero")
        ego = self.world.spawn_actor(blueprint, transform)
        self.actors.append(ego)
        from recon_carla_bridge.compat_imports import install_srunner_alias

        install_srunner_alias()
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

        for cache in (CarlaDataProvider._carla_actor_pool, CarlaDataProvider._actor_velocity_map,
                      CarlaDataProvider._actor_location_map, CarlaDataProvider._actor_transform_map):
            cache.clear()  # actors of the previous route's world
        CarlaDataProvider.set_world(self.world)
        # As the leaderboard's RouteScenario: scenarios such as VehicleTurningRoute read the ego's route.
        CarlaDataProvider.set_ego_vehicle_route([(t.location, option) for t, option in self.planned.route])
        CarlaDataProvider.register_actor(ego)
        CarlaDataProvider._carla_actor_pool[ego.id] = ego  # what get_hero_actor() searches
        return ego

    def _spawn_sensors(self, ego: Any, specs: list[dict[str, Any]]) -> None:
        library = self.world.get_blueprint_library()
        frequency = self.config.frame_rate
        for spec in specs:
            kind = spec["type"]
            if kind == "sensor.speedometer":
                sensor: Any = SpeedometerReader(ego, frequency)
                self.readers.append(sensor)
            elif kind == "sensor.opendrive_map":
                sensor = OpenDriveMapReader(ego, frequency, opendrive=self.map.to_opendrive())
                self.readers.append(sensor)
            else:
                attributes, transform = _sensor_attributes(spec)
                blueprint = library.find(kind)
                for key, value in attributes.items():
                    if blueprint.has_attribute(key):
                        blueprint.set_attribute(key, value)
                sensor = self.world.spawn_actor(blueprint, transform, attach_to=ego)
                self.actors.append(sensor)
            sensor.listen(CallBack(spec["id"], kind, sensor, self.agent.sensor_interface))

    def _spawn_collision_sensor(self, ego: Any) -> None:
        blueprint = self.world.get_blueprint_library().find("sensor.other.collision")
        sensor = self.world.spawn_actor(blueprint, carla.Transform(), attach_to=ego)
        sensor.listen(lambda event: self._hits.append(CollisionHit(int(event.other_actor.id),
                                                                    str(event.other_actor.type_id))))
        self.actors.append(sensor)

    def _traffic_lights(self) -> list[TrafficLightGeometry]:
        lights = []
        for actor in self.world.get_actors().filter("traffic.traffic_light*"):
            lights.append(light_geometry(actor.id, actor.get_transform(), actor.trigger_volume, self.map))
        return lights

    def _stop_signs(self) -> list[StopSignGeometry]:
        stops = []
        for actor in self.world.get_actors().filter("traffic.stop*"):
            transform, volume = actor.get_transform(), actor.trigger_volume
            center = transform.transform(carla.Location(volume.location))  # transform() works in place
            location = transform.location
            stops.append(StopSignGeometry(actor.id, (location.x, location.y, location.z),
                                          (center.x, center.y, center.z), (volume.extent.x, volume.extent.y)))
        return stops

    # ---- per tick ----------------------------------------------------------------------------
    def _light_states(self, lights: list[TrafficLightGeometry]) -> np.ndarray:
        """(K,) int8 states of `lights` this tick (the episode's SIGNAL_* codes)."""
        states = np.full(len(lights), SIGNAL_OFF, dtype=np.int8)
        for k, light in enumerate(lights):
            state = self.world.get_actor(light.light_id).get_state()
            states[k] = LIGHT_CODES.get(state, SIGNAL_OFF)
        return states

    def _nearby(self, ego: Any, location: carla.Location, recorder: EpisodeRecorder) -> tuple[np.ndarray, list[float]]:
        rows, background = [], []
        for actor in self.world.get_actors():
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
            recorder.actor_types[int(actor.id)] = type_id
            if type_id.startswith("vehicle") and actor.attributes.get("role_name") == "background":
                background.append(float(velocity.length()))
        return np.asarray(rows, dtype=np.float64).reshape(-1, 8), background

    # ---- the run -----------------------------------------------------------------------------
    def run(self, route_id: str, index: int) -> RouteResult:
        """Drive the route; failures of the agent or the scenarios end the route with their reason."""
        record = scoring.new_route_record(route_id, index)
        wall_start = time.time()
        failure, reason = "", ""
        sensor_types: list[str] = []
        episode = None
        video = None
        criteria = None
        recorder = None
        scenarios = None
        traffic = None
        tick_snapshot = None
        try:
            ego = self._spawn_ego()
            self.world.tick()
            try:
                with deadline(self.config.step_timeout, "agent setup"):
                    self.agent = build_agent(self.agent_class, self.config.agent_config,
                                             self.planned.gps_route, self.planned.route,
                                             plan_sample_distance(self.planned.config.format))
                    specs = self.agent.sensors()
                validate_sensor_configuration(specs, self.agent.track, self.config.track)
            except SensorConfigurationInvalid as error:
                record["meta"]["failure_reason"] = str(error)
                outcome = scoring.RouteOutcome((), self.planned.length, 0.0, time.time() - wall_start,
                                               failure_message=scoring.FAILURE_MESSAGES["Sensors"][1])
                return RouteResult(scoring.score_route(record, outcome, index), None, [], rejected=True)
            except Exception as error:  # noqa: BLE001 — the agent could not be built: next route
                record["meta"]["failure_reason"] = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                outcome = scoring.RouteOutcome((), self.planned.length, 0.0, time.time() - wall_start,
                                               failure_message=scoring.FAILURE_MESSAGES["Agent_init"][1])
                return RouteResult(scoring.score_route(record, outcome, index), None, [])
            sensor_types = [spec["type"] for spec in specs]
            self.agent.attach_clock(self.clock)
            self.agent.sensor_interface._queue_timeout = max(self.config.step_timeout, 1.0)
            self._spawn_sensors(ego, specs)
            self._spawn_collision_sensor(ego)
            lights = self._traffic_lights()
            criteria = build_route_criteria(self.planned, self.map, lights=lights, stops=self._stop_signs())
            scenarios = ScenarioHost(self.world, ego, self.planned)
            traffic = start_background_traffic(self.world, ego, self.planned, self.config.traffic)
            progress = RouteProgress(route_id, self.planned.length, self.config.progress_every or float("inf"))
            extent = ego.bounding_box.extent
            recorder = EpisodeRecorder(self.planned.config.town, 1.0 / self.config.frame_rate,
                                       np.array([extent.x, extent.y, extent.z]),
                                       np.column_stack([self.planned.points[:, :2], self.planned.yaws]),
                                       self.planned.cumulative, expert_trajectory(self.planned))
            recorder.set_signals(np.array([light.light_id for light in lights]), _stop_lines(lights))
            rgb = next((spec for spec in specs if spec["type"] == "sensor.camera.rgb"), None)
            if self.config.record_video:
                video = FrontVideo(self.artifacts / "front.mp4", self.map, rgb["id"] if rgb else None,
                                   every=max(int(round(self.config.frame_rate / self.config.video_fps)), 1),
                                   fps=self.config.video_fps)
                record["meta"]["front_video"] = (f"agent camera '{rgb['id']}'" if rgb else
                                                 "schematic camera (the agent has none)")
            self.world.tick()
            start_time = self.world.get_snapshot().timestamp.elapsed_seconds
            while True:
                snapshot = self.world.get_snapshot()
                elapsed = snapshot.timestamp.elapsed_seconds - start_time
                self.clock.on_tick(snapshot.frame, elapsed)
                for reader in self.readers:
                    reader.tick(snapshot.frame, elapsed)
                transform = ego.get_transform()
                velocity = ego.get_velocity()
                try:
                    with deadline(self.config.step_timeout, "run_step"):
                        control = check_control(self.agent())
                except Exception as error:  # noqa: BLE001 — raised, hung or garbage: this route fails, the evaluation goes on
                    failure = scoring.FAILURE_MESSAGES["Agent_runtime"][1]
                    reason = f"{type(error).__name__}: {error}"
                    traceback.print_exc()
                    break
                scenarios.tick(snapshot)
                traffic.tick()
                hits, self._hits = self._hits, []
                actors, background = self._nearby(ego, transform.location, recorder)
                light_states = self._light_states(lights)
                tick_snapshot = TickSnapshot(
                    frame=snapshot.frame, time=elapsed, transform=transform, velocity=velocity, extent=extent,
                    collisions=tuple(hits),
                    lights=tuple(LightState(light.light_id, bool(state == SIGNAL_RED))
                                 for light, state in zip(lights, light_states)),
                    background_speeds=tuple(background), speed_limit=float(ego.get_speed_limit() or 30.0))
                ends = criteria.update(tick_snapshot)
                progress.update(elapsed, criteria.completion.value)
                acceleration, angular = ego.get_acceleration(), ego.get_angular_velocity()
                rot = transform.rotation
                recorder.add(elapsed, snapshot.frame,
                             (transform.location.x, transform.location.y, transform.location.z, rot.roll, rot.pitch,
                              rot.yaw), (velocity.x, velocity.y, velocity.z),
                             (acceleration.x, acceleration.y, acceleration.z), (angular.x, angular.y, angular.z),
                             (control.throttle, control.steer, control.brake), criteria.completion.value, actors)
                recorder.add_signal_states(light_states)
                for hit in hits:
                    recorder.add_collision(hit.other_id, hit.other_type_id)
                if video is not None:
                    video.add(self.agent.sensor_interface, snapshot.frame, ego, self.world)
                if ends:
                    break
                if self.config.max_route_seconds and elapsed >= self.config.max_route_seconds:
                    reason = f"stopped at the --max-route-seconds cap ({self.config.max_route_seconds:g} s)"
                    break
                ego.apply_control(control)
                self.world.tick()
        except Exception as error:  # noqa: BLE001 — the world or a scenario failed: the simulation crashed
            failure = scoring.FAILURE_MESSAGES["Simulation"][1]
            reason = f"{type(error).__name__}: {error}"
            traceback.print_exc()
        finally:
            if scenarios is not None:
                record["meta"]["scenarios"] = scenarios.summary()
                scenarios.close()
            if traffic is not None:
                record["meta"]["background_traffic"] = traffic.summary()
                traffic.close()
            self._cleanup()
            if video is not None:
                video.close()
        if criteria is not None:
            criteria.terminate(tick_snapshot)
        events = criteria.events() if criteria is not None else []
        if reason:
            record["meta"]["failure_reason"] = reason
        outcome = scoring.RouteOutcome(
            events=tuple(events), route_length=self.planned.length,
            duration_game=self.clock.time, duration_system=time.time() - wall_start,
            route_timeout=bool(criteria and criteria.timeout.timed_out), failure_message=failure)
        record = scoring.score_route(record, outcome, index)
        if recorder is not None:
            episode = recorder.build([{"type": e.type.value, "frame": e.frame, "message": e.message,
                                       "data": {k: (list(v) if isinstance(v, tuple) else v)
                                                for k, v in e.data.items() if _jsonable(v)}} for e in events])
        return RouteResult(record, episode, sensor_types)

    def _cleanup(self) -> None:
        if self.agent is not None:
            try:
                self.agent.destroy()
            except Exception:  # noqa: BLE001 — a failing destroy must not hide the route's result
                traceback.print_exc()
        for reader in self.readers:
            reader.destroy()
        for actor in reversed(self.actors):
            try:
                if hasattr(actor, "stop") and actor.type_id.startswith("sensor"):
                    actor.stop()
                actor.destroy()
            except RuntimeError:
                pass
        self.actors.clear()


def _stop_lines(lights: list[TrafficLightGeometry]) -> np.ndarray:
    """(S, 5) stop lines of `lights` in the episode's STOP_LINE_COLUMNS layout."""
    rows = [[k, w.transform.location.x, w.transform.location.y, w.transform.rotation.yaw, w.lane_width / 2.0]
            for k, light in enumerate(lights) for w in light.stop_waypoints]
    return np.asarray(rows, dtype=np.float64).reshape(-1, 5)


def _jsonable(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, list, tuple)) and not (isinstance(value, float) and math.isnan(value))
