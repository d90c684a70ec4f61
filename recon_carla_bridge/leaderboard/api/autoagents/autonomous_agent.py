"""`AutonomousAgent` and `Track`: the base class every leaderboard agent derives from.

Both leaderboard generations construct agents differently and this class accepts either:
- leaderboard 1.0: `Agent(path_to_conf_file)`; the constructor calls `setup(path_to_conf_file)`;
  `set_global_plan` keeps a point every 50 m.
- leaderboard 2.0: `Agent(host, port, debug)`; the evaluator calls `setup(path_to_conf_file)` afterwards;
  `set_global_plan` keeps a point every 200 m.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

import carla

from recon_carla_bridge.leaderboard.api.envs.sensor_interface import SensorInterface
from recon_carla_bridge.leaderboard.api.utils.route_manipulation import downsample_route
from recon_carla_bridge.leaderboard.clock import GameClock

PLAN_SAMPLE_DISTANCE_V1 = 50.0  # m, leaderboard 1.0's `set_global_plan`
PLAN_SAMPLE_DISTANCE_V2 = 200.0  # m, leaderboard 2.0's `set_global_plan`


class Track(Enum):
    """The leaderboard tracks: SENSORS (no map) and MAP (the OpenDRIVE pseudo-sensor is allowed)."""

    SENSORS = "SENSORS"
    MAP = "MAP"
    SENSORS_QUALIFIER = "SENSORS_QUALIFIER"
    MAP_QUALIFIER = "MAP_QUALIFIER"


class AutonomousAgent:
    """Base class of leaderboard agents: override `setup`, `sensors`, `run_step` and `destroy`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Build the agent with either the 1.0 signature `(path_to_conf_file)` or 2.0's `(host, port, debug)`."""
        self.track = Track.SENSORS
        self._global_plan: list | None = None
        self._global_plan_world_coord: list | None = None
        self.sensor_interface = SensorInterface()
        self.wallclock_t0 = None
        self._clock: GameClock | None = None
        legacy = ("path_to_conf_file" in kwargs) or (len(args) == 1 and not kwargs)
        self._plan_sample_distance = PLAN_SAMPLE_DISTANCE_V1 if legacy else PLAN_SAMPLE_DISTANCE_V2
        if legacy:
            self.setup(kwargs.get("path_to_conf_file", args[0] if args else ""))

    def setup(self, path_to_conf_file: str) -> None:
        """Initialise the agent from its configuration file and set `self.track`."""

    def sensors(self) -> list[dict]:
        """The sensor suite: dicts with type, id, x, y, z, roll, pitch, yaw (and width/height/fov, …)."""
        return []

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """One control step from `input_data[id] = (frame, data)`; the default brakes to a stop."""
        control = carla.VehicleControl()
        control.steer = 0.0
        control.throttle = 0.0
        control.brake = 0.0
        control.hand_brake = False
        return control

    def destroy(self) -> None:
        """Release whatever the agent holds; called once the route ends."""

    def attach_clock(self, clock: GameClock) -> None:
        """Give the agent the evaluator's clock; `__call__` reads frame and time from it."""
        self._clock = clock

    def __call__(self) -> carla.VehicleControl:
        """Gather this frame's sensor data, run `run_step` and return its control (never a manual gear shift)."""
        if self._clock is None:
            raise RuntimeError("AutonomousAgent.__call__ needs the evaluator's clock: call attach_clock() first")
        input_data = self.sensor_interface.get_data(self._clock.frame)
        timestamp = self._clock.time
        if self.wallclock_t0 is None:
            self.wallclock_t0 = self._clock.wallclock_t0 or GameClock.wallclock()
        control = self.run_step(input_data, timestamp)
        if isinstance(control, carla.VehicleControl):
            control.manual_gear_shift = False
        return control  # anything else is reported by the evaluator's control check

    @staticmethod
    def get_ros_version() -> int:
        """-1: not a ROS agent (leaderboard 2.0 asks every agent class)."""
        return -1

    def set_global_plan(self, global_plan_gps: list, global_plan_world_coord: list) -> None:
        """Keep a sparse copy of the route: `[(gps_dict, RoadOption)]` and `[(carla.Transform, RoadOption)]`."""
        ids = downsample_route(global_plan_world_coord, self._plan_sample_distance)
        self._global_plan_world_coord = [(global_plan_world_coord[i][0], global_plan_world_coord[i][1]) for i in ids]
        self._global_plan = [global_plan_gps[i] for i in ids]
