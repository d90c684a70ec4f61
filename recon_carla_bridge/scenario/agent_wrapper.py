"""Ego agents inside ScenarioRunner's ScenarioManager: srunner agents and leaderboard agents alike.

srunner 0.9.11's own AgentWrapper only mounts cameras, LiDAR and GNSS, and its sensor callbacks
expect srunner's SensorInterface; leaderboard agents (`leaderboard.autoagents.autonomous_agent`)
use the leaderboard's interface, pseudo-sensors (speedometer, OpenDRIVE map) and a game clock.
`ScenarioAgentWrapper` mounts every sensor type the world offers for either kind of agent.
"""
from __future__ import annotations

from typing import Any

import carla

from recon_carla_bridge.compat_imports import install_srunner_alias

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402

from recon_carla_bridge.episode import EpisodeCallback, EpisodeRunner, EpisodeTask  # noqa: E402
from srunner.scenariomanager.scenario_manager import ScenarioManager  # noqa: E402


def is_leaderboard_agent(agent: Any) -> bool:
    """Whether the agent follows the leaderboard's AutonomousAgent (ours, reached as leaderboard.*)."""
    try:
        from recon_carla_bridge.leaderboard.api.autoagents.autonomous_agent import AutonomousAgent
    except ImportError:
        return False
    return isinstance(agent, AutonomousAgent)


class ScenarioAgentWrapper:
    """What ScenarioManager drives: `setup_sensors(vehicle)`, `__call__() -> VehicleControl`, `cleanup()`."""

    def __init__(self, agent: Any):
        self._agent = agent
        self._leaderboard = is_leaderboard_agent(agent)
        self._mounted: Any = None  # the agent's sensors on the ego (agent_host.AgentSensors)
        self._tick_id: int | None = None
        self._clock: Any = None

    def __call__(self) -> carla.VehicleControl:
        """The agent's control for this tick."""
        return self._agent()

    def setup_sensors(self, vehicle: carla.Vehicle, debug_mode: bool = False) -> None:
        """Spawn the agent's sensors on the ego (`agent_host.AgentSensors`, shared with the evaluator) and
        route their data to the agent's sensor interface."""
        from recon_carla_bridge.leaderboard.agent_host import AgentSensors

        world = CarlaDataProvider.get_world()
        callback_for = None
        if self._leaderboard:
            from recon_carla_bridge.leaderboard.clock import GameClock

            self._clock = GameClock()
            self._agent.attach_clock(self._clock)
        else:
            from srunner.autoagents.sensor_interface import CallBack

            def callback_for(spec: dict[str, Any], sensor: Any) -> Any:
                return CallBack(spec["id"], sensor, self._agent.sensor_interface)
        frequency = 1.0 / (world.get_settings().fixed_delta_seconds or 0.05)
        self._mounted = AgentSensors(world, vehicle, list(self._agent.sensors()), self._agent.sensor_interface,
                                     frequency, callback_for)
        if self._leaderboard:
            start = world.get_snapshot().timestamp.elapsed_seconds

            def on_tick(snapshot: Any) -> None:
                elapsed = snapshot.timestamp.elapsed_seconds - start
                self._clock.on_tick(snapshot.frame, elapsed)
                self._mounted.tick(snapshot.frame, elapsed)

            self._tick_id = world.on_tick(on_tick)
            world.tick()  # as the leaderboard does: the sensors deliver their first data before run_step

    def cleanup(self) -> None:
        """Stop and destroy the sensors; let the agent release what it holds."""
        world = CarlaDataProvider.get_world()
        if self._tick_id is not None and world is not None:
            world.remove_on_tick(self._tick_id)
        if self._mounted is not None:
            self._mounted.destroy()
            self._mounted = None
        try:
            self._agent.destroy()
        except Exception as error:  # an agent's destroy() must not hide the run's results
            print(f"agent.destroy() raised {type(error).__name__}: {error}")


class ScenarioTree(EpisodeCallback):
    """srunner's scenario tree on the episode loop, in ScenarioManager._tick_scenario's order: srunner's
    clock and actor caches follow each tick (before the agent runs), the tree ticks before the agent's
    control is applied, and the episode ends when the tree stops running (or the manager is stopped)."""

    def __init__(self, manager: "ReconScenarioManager") -> None:
        """Tick `manager`'s scenario tree."""
        self.manager = manager

    def on_step_start(self, runner: EpisodeRunner, control: Any) -> None:
        """Tick the scenario behaviours once."""
        self.manager._watchdog.update()
        self.manager.scenario_tree.tick_once()

    def on_step_end(self, runner: EpisodeRunner) -> str | None:
        """srunner's clock and caches follow the tick; the reason to stop, when there is one."""
        import py_trees
        from srunner.scenariomanager.timer import GameTime

        timestamp = runner.world.get_snapshot().timestamp
        GameTime.on_carla_tick(timestamp)
        CarlaDataProvider.on_carla_tick()
        if not self.manager._running:
            return "stopped"
        if self.manager.scenario_tree.status not in (py_trees.common.Status.RUNNING, py_trees.common.Status.INVALID):
            return f"scenario {self.manager.scenario_tree.status.name}"
        return None


class ReconScenarioManager(ScenarioManager):
    """srunner's ScenarioManager: the ego agent's sensors mounted by ScenarioAgentWrapper, and a run with an
    agent driven by the episode loop (`EpisodeRunner` with the scenario tree as a callback)."""

    def load_scenario(self, scenario: Any, agent: Any = None) -> None:
        """As srunner's, with our agent wrapper."""
        super().load_scenario(scenario, None)
        if agent is not None:
            self._agent = ScenarioAgentWrapper(agent)
            self._sync_mode = True
            self._agent.setup_sensors(self.ego_vehicles[0], self._debug_mode)

    def run_scenario(self) -> None:
        """As srunner's, on the episode loop when an agent drives the ego."""
        if self._agent is None:
            super().run_scenario()
            return
        import time

        import py_trees
        from srunner.scenariomanager.timer import GameTime

        print(f"ScenarioManager: Running scenario {self.scenario_tree.name}")
        self.start_system_time = time.time()
        start_game_time = GameTime.get_time()
        self._watchdog.start()
        self._running = True
        world = CarlaDataProvider.get_world()
        runner = EpisodeRunner([ScenarioTree(self)], frame_rate=1.0 / (world.get_settings().fixed_delta_seconds or 0.05),
                               collect_sensor_data=False)
        try:
            runner.reset(EpisodeTask(world, ego=self.ego_vehicles[0], name=self.scenario_tree.name))
            done = runner.done
            while not done:
                done = runner.step(self._agent()).done
        finally:
            runner.close()
            self._running = False
            self._watchdog.stop()
        self.cleanup()
        self.end_system_time = time.time()
        self.scenario_duration_system = self.end_system_time - self.start_system_time
        self.scenario_duration_game = GameTime.get_time() - start_game_time
        if self.scenario_tree.status == py_trees.common.Status.FAILURE:
            print("ScenarioManager: Terminated due to failure")
