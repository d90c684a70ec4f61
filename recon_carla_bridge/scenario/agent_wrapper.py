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
        self._sensors: list[Any] = []
        self._readers: list[Any] = []
        self._tick_id: int | None = None
        self._clock: Any = None

    def __call__(self) -> carla.VehicleControl:
        """The agent's control for this tick."""
        return self._agent()

    def setup_sensors(self, vehicle: carla.Vehicle, debug_mode: bool = False) -> None:
        """Spawn the agent's sensors on the ego and route their data to the agent's sensor interface."""
        from recon_carla_bridge.leaderboard.agent_host import sensor_mount

        world = CarlaDataProvider.get_world()
        library = world.get_blueprint_library()
        if self._leaderboard:
            from recon_carla_bridge.leaderboard.api.envs.sensor_interface import CallBack, OpenDriveMapReader, SpeedometerReader
            from recon_carla_bridge.leaderboard.clock import GameClock

            self._clock = GameClock()
            self._agent.attach_clock(self._clock)
        else:
            from srunner.autoagents.sensor_interface import CallBack  # type: ignore[no-redef]
        frequency = 1.0 / (world.get_settings().fixed_delta_seconds or 0.05)
        for spec in self._agent.sensors():
            kind = spec["type"]
            if self._leaderboard and kind == "sensor.speedometer":
                sensor: Any = SpeedometerReader(vehicle, frequency)
                self._readers.append(sensor)
            elif self._leaderboard and kind == "sensor.opendrive_map":
                sensor = OpenDriveMapReader(vehicle, frequency, opendrive=world.get_map().to_opendrive())
                self._readers.append(sensor)
            else:
                attributes, transform = sensor_mount(spec)
                blueprint = library.find(kind)
                for key, value in attributes.items():
                    if blueprint.has_attribute(key):
                        blueprint.set_attribute(key, value)
                sensor = world.spawn_actor(blueprint, transform, attach_to=vehicle)
                self._sensors.append(sensor)
            if self._leaderboard:
                sensor.listen(CallBack(spec["id"], kind, sensor, self._agent.sensor_interface))
            else:
                sensor.listen(CallBack(spec["id"], sensor, self._agent.sensor_interface))
        if self._leaderboard:
            start = world.get_snapshot().timestamp.elapsed_seconds

            def on_tick(snapshot: Any) -> None:
                elapsed = snapshot.timestamp.elapsed_seconds - start
                self._clock.on_tick(snapshot.frame, elapsed)
                for reader in self._readers:
                    reader.tick(snapshot.frame, elapsed)

            self._tick_id = world.on_tick(on_tick)
            world.tick()  # as the leaderboard does: the sensors deliver their first data before run_step

    def cleanup(self) -> None:
        """Stop and destroy the sensors; let the agent release what it holds."""
        world = CarlaDataProvider.get_world()
        if self._tick_id is not None and world is not None:
            world.remove_on_tick(self._tick_id)
        for sensor in self._sensors + self._readers:
            sensor.stop()
            sensor.destroy()
        self._sensors, self._readers = [], []
        try:
            self._agent.destroy()
        except Exception as error:  # an agent's destroy() must not hide the run's results
            print(f"agent.destroy() raised {type(error).__name__}: {error}")


class ReconScenarioManager(ScenarioManager):
    """srunner's ScenarioManager, mounting the ego agent's sensors with ScenarioAgentWrapper."""

    def load_scenario(self, scenario: Any, agent: Any = None) -> None:
        """As srunner's, with our agent wrapper."""
        super().load_scenario(scenario, None)
        if agent is not None:
            self._agent = ScenarioAgentWrapper(agent)
            self._sync_mode = True
            self._agent.setup_sensors(self.ego_vehicles[0], self._debug_mode)
