"""A rule-based leaderboard agent (SENSORS track): BasicAgent control along the route the evaluator gives it.

It reads the ego vehicle from ScenarioRunner's CarlaDataProvider (privileged, as leaderboard autopilots do),
plans with the GlobalRoutePlanner through the sparse global plan, and drives with BasicAgent's PID controllers,
its vehicle/traffic-light hazard checks and a target speed (km/h) from the optional config file (one number).
"""
from __future__ import annotations

from pathlib import Path

import carla
from leaderboard.autoagents import autonomous_agent
from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

from agents.navigation.basic_agent import BasicAgent

DEFAULT_TARGET_SPEED = 30.0  # km/h


def get_entry_point() -> str:
    """The agent class the evaluator instantiates."""
    return "RouteFollowerAgent"


class RouteFollowerAgent(autonomous_agent.AutonomousAgent):
    """Follows the global plan with BasicAgent."""

    def setup(self, path_to_conf_file: str) -> None:
        """SENSORS track (the default of `recon-carla evaluate`); the config file, when given, holds the target
        speed in km/h."""
        self.track = autonomous_agent.Track.SENSORS
        self._target_speed = DEFAULT_TARGET_SPEED
        if path_to_conf_file and Path(path_to_conf_file).is_file():
            self._target_speed = float(Path(path_to_conf_file).read_text().strip())
        self._agent: BasicAgent | None = None

    def sensors(self) -> list[dict]:
        """Only the speedometer: the controller reads the rest from the world (privileged, as autopilots do)."""
        return [{"type": "sensor.speedometer", "reading_frequency": 20, "id": "speed"}]

    def _build(self) -> BasicAgent:
        hero = CarlaDataProvider.get_hero_actor()
        if hero is None:
            raise RuntimeError("no vehicle with role_name 'hero' in the world")
        agent = BasicAgent(hero, target_speed=self._target_speed)
        world_map = hero.get_world().get_map()
        plan = []
        points = [transform.location for transform, _ in self._global_plan_world_coord]
        start = hero.get_location()
        for target in points[1:]:
            trace = agent.trace_route(world_map.get_waypoint(start), world_map.get_waypoint(target))
            plan.extend(trace if not plan else trace[1:])
            start = target
        agent.set_global_plan(plan, stop_waypoint_creation=True, clean_queue=True)
        return agent

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """One BasicAgent step; brake once the plan is done."""
        if self._agent is None:
            self._agent = self._build()
        if self._agent.done():
            return carla.VehicleControl(throttle=0.0, steer=0.0, brake=1.0)
        return self._agent.run_step()
