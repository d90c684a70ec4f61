"""Drive one route on the episode loop: the agent hosted as the leaderboard hosts it, the route's criteria,
recorder, scenarios and front video as callbacks of an `EpisodeRunner`.

`RouteEpisode` builds the loop of a route (what the evaluator runs and what an environment steps from
outside); `RouteRunner.run` drives it with an agent file's agent: per tick the agent is called under a
deadline on what its sensors delivered, then `runner.step(control)`.
"""
from __future__ import annotations

import contextlib
import math
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import carla

from recon_carla_bridge.episode import EpisodeCallback, EpisodeRunner, EpisodeTask, TimeLimit
from recon_carla_bridge.leaderboard import scoring
from recon_carla_bridge.leaderboard.agent_host import build_agent, check_control, deadline, plan_sample_distance
from recon_carla_bridge.leaderboard.api.autoagents.agent_wrapper import validate_sensor_configuration
from recon_carla_bridge.leaderboard.api.envs.sensor_interface import SensorConfigurationInvalid
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.planning import PlannedRoute
from recon_carla_bridge.leaderboard.route_callbacks import (
    FrontVideoCallback,
    RouteCriteria,
    RouteProgressLines,
    RouteRecording,
    RouteScenarios,
    RouteTraffic,
)

CAP_REASON = "stopped at the --max-route-seconds cap ({:g} s)"


@dataclass
class RouteResult:
    """What `run_route` returns: the scored record, the recorded episode and the agent's sensor types."""

    record: dict[str, Any]
    episode: Episode | None
    sensor_types: list[str] = field(default_factory=list)
    rejected: bool = False


class AgentSetupFailed(Exception):
    """The agent file's agent could not be constructed or set up."""


class RouteObserver:
    """Watches a route from outside (no-op here): which agent call runs, and the route's progress per tick.

    A route run in a child process reports both through shared memory, so that the evaluation can say what the
    process was doing when it died natively (route_process.py)."""

    @contextlib.contextmanager
    def agent_call(self, what: str) -> Iterator[None]:
        """Wrap one call into the agent: `what` is 'setup', 'run_step' or 'destroy'."""
        yield

    def tick(self, sim_seconds: float, completion_percent: float) -> None:
        """The route after a tick: simulated seconds and % of the route completed."""


class RouteEpisode:
    """The episode loop of one route: task, runner and the evaluator's callbacks (criteria, recording,
    scenarios, front video when `config.record_video`, the --max-route-seconds cap)."""

    def __init__(self, world: Any, world_map: carla.Map, planned: PlannedRoute, config: EvaluatorConfig,
                 artifacts: Path, hosted_agent: bool = False, extra_callbacks: tuple[EpisodeCallback, ...] = (),
                 name: str = "") -> None:
        """`hosted_agent`: an AutonomousAgent reads the runner's sensor interface itself (observations carry
        no sensor data); else observations carry them (an environment stepped from outside). `name`: the run's
        route id in progress lines (default: the route file's id)."""
        self.task = EpisodeTask(world, planned.route, planned.gps_route, name=planned.config.route_id)
        self.criteria = RouteCriteria(planned, world_map)
        self.recording = RouteRecording(planned, self.criteria, 1.0 / config.frame_rate)
        self.scenarios = RouteScenarios(planned)
        self.traffic = RouteTraffic(planned, config.traffic)
        self.video = (FrontVideoCallback(artifacts / "front.mp4", world_map, config.frame_rate, config.video_fps)
                      if config.record_video else None)
        callbacks: list[EpisodeCallback] = [self.criteria, self.scenarios, self.traffic, self.recording,
                                            RouteProgressLines(planned, self.criteria, config.progress_every, name)]
        if self.video is not None:
            callbacks.append(self.video)
        self.cap_reason = CAP_REASON.format(config.max_route_seconds)  # why a route stops at --max-route-seconds
        if config.max_route_seconds:
            callbacks.append(TimeLimit(config.max_route_seconds, self.cap_reason))
        callbacks.extend(extra_callbacks)
        self.runner = EpisodeRunner(callbacks, frame_rate=config.frame_rate, collect_sensor_data=not hosted_agent,
                                    sensor_timeout=max(config.step_timeout, 1.0))
        self.planned = planned

    def episode(self, events: list[Any]) -> Episode | None:
        """The recorded episode with its traffic events (None when nothing was recorded)."""
        recorder = self.recording.recorder
        if recorder is None:
            return None
        return recorder.build([{"type": e.type.value, "frame": e.frame, "message": e.message,
                                "data": {k: (list(v) if isinstance(v, tuple) else v)
                                         for k, v in e.data.items() if _jsonable(v)}} for e in events])


class RouteRunner:
    """Runs one route of an agent in a loaded world."""

    def __init__(self, world: Any, world_map: carla.Map, planned: PlannedRoute, config: EvaluatorConfig,
                 agent_class: type, artifacts: Path, observer: RouteObserver | None = None) -> None:
        """Bind the world, the planned route, the settings, the agent class, the output folder and an observer."""
        self.observer = observer or RouteObserver()
        self.world = world
        self.map = world_map
        self.planned = planned
        self.config = config
        self.agent_class = agent_class
        self.artifacts = artifacts
        self.agent: Any = None

    def _build_agent(self, sensor_interface: Any) -> list[dict[str, Any]]:
        """Build the agent (the ego exists; its data arrive in `sensor_interface`) and return its validated
        sensors; AgentSetupFailed when it cannot be built."""
        try:
            with self.observer.agent_call("setup"), deadline(self.config.step_timeout, "agent setup"):
                self.agent = build_agent(self.agent_class, self.config.agent_config, self.planned.gps_route,
                                         self.planned.route, plan_sample_distance(self.planned.config.format))
                specs = self.agent.sensors()
        except Exception as error:
            raise AgentSetupFailed(f"{type(error).__name__}: {error}") from error
        validate_sensor_configuration(specs, self.agent.track, self.config.track)
        self.agent.sensor_interface = sensor_interface
        return specs

    def run(self, route_id: str, index: int, seed: int = 0) -> RouteResult:
        """Drive the route; failures of the agent or the scenarios end the route with their reason."""
        record = scoring.new_route_record(route_id, index)
        wall_start = time.time()
        failure, reason = "", ""
        route = RouteEpisode(self.world, self.map, self.planned, self.config, self.artifacts, hosted_agent=True,
                             name=route_id)
        runner = route.runner
        try:
            try:
                runner.reset(route.task, seed, sensors=lambda: self._build_agent(runner.sensor_interface))
            except SensorConfigurationInvalid as error:
                record["meta"]["failure_reason"] = str(error)
                self._destroy_agent()
                outcome = scoring.RouteOutcome((), self.planned.length, 0.0, time.time() - wall_start,
                                               failure_message=scoring.FAILURE_MESSAGES["Sensors"][1])
                return RouteResult(scoring.score_route(record, outcome, index), None, [], rejected=True)
            except AgentSetupFailed as error:  # the agent could not be built: next route
                record["meta"]["failure_reason"] = str(error)
                traceback.print_exc()
                self._destroy_agent()
                outcome = scoring.RouteOutcome((), self.planned.length, 0.0, time.time() - wall_start,
                                               failure_message=scoring.FAILURE_MESSAGES["Agent_init"][1])
                return RouteResult(scoring.score_route(record, outcome, index), None, [])
            self.agent.attach_clock(runner.clock)
            done = runner.done
            while not done:
                try:
                    with self.observer.agent_call("run_step"), deadline(self.config.step_timeout, "run_step"):
                        control = check_control(self.agent())
                except Exception as error:  # noqa: BLE001 — raised, hung or garbage: this route fails, the evaluation goes on
                    failure = scoring.FAILURE_MESSAGES["Agent_runtime"][1]
                    reason = f"{type(error).__name__}: {error}"
                    traceback.print_exc()
                    break
                done = runner.step(control).done
                if route.criteria.criteria is not None:
                    self.observer.tick(runner.time, route.criteria.criteria.completion.value)
            if runner.reason == route.cap_reason:
                reason = runner.reason
        except Exception as error:  # noqa: BLE001 — the world or a scenario failed: the simulation crashed
            failure = scoring.FAILURE_MESSAGES["Simulation"][1]
            reason = f"{type(error).__name__}: {error}"
            traceback.print_exc()
        finally:
            self._destroy_agent()
            try:
                runner.close()
            except Exception as error:  # noqa: BLE001 — a callback failed at the end: report, keep the record
                traceback.print_exc()
                reason = reason or f"{type(error).__name__}: {error}"
        events = route.criteria.events()
        if reason:
            record["meta"]["failure_reason"] = reason
        summary = route.scenarios.summary()
        if summary is not None:
            record["meta"]["scenarios"] = summary
        traffic = route.traffic.summary()
        if traffic is not None:
            record["meta"]["background_traffic"] = traffic
        if route.video is not None and route.video.description:
            record["meta"]["front_video"] = route.video.description
        timeout = route.criteria.criteria is not None and route.criteria.criteria.timeout.timed_out
        outcome = scoring.RouteOutcome(
            events=tuple(events), route_length=self.planned.length,
            duration_game=runner.clock.time, duration_system=time.time() - wall_start,
            route_timeout=bool(timeout), failure_message=failure)
        record = scoring.score_route(record, outcome, index)
        return RouteResult(record, route.episode(events), [spec["type"] for spec in runner.sensor_specs])

    def _destroy_agent(self) -> None:
        if self.agent is None:
            return
        try:
            with self.observer.agent_call("destroy"):
                self.agent.destroy()
        except Exception:  # noqa: BLE001 — a failing destroy must not hide the route's result
            traceback.print_exc()
        self.agent = None


def _jsonable(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool, list, tuple)) and not (isinstance(value, float) and math.isnan(value))
