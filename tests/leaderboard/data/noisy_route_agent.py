"""Test agent: the project's route follower with random steering and throttle noise from Python's `random` and
NumPy's global generator (so its record shows whether a route's random draws depend on what ran before), and
faults on request.

The config file (optional JSON): {"sleep": {"X,Y": s per run_step}, "faults": {"X,Y": fault}} where X,Y is the
route's first plan point rounded to metres and fault is 'segv' (a native crash: reads address 0), 'exit' (os._exit(7))
or 'sys_exit'; a fault strikes at the 20th run_step.
"""
from __future__ import annotations

import ctypes
import json
import os
import random
import sys
import time
from pathlib import Path

import carla
import numpy as np

from agents.leaderboard_agents.route_follower_agent import RouteFollowerAgent


def get_entry_point() -> str:
    """The agent class the evaluator instantiates."""
    return "NoisyRouteAgent"


class NoisyRouteAgent(RouteFollowerAgent):
    """Route follower plus noise; faults as its config says."""

    def setup(self, path_to_conf_file: str) -> None:
        """Read the optional JSON config."""
        super().setup("")
        self._settings = json.loads(Path(path_to_conf_file).read_text()) if path_to_conf_file else {}
        self._steps = 0

    def _for_this_route(self, key: str, default: object) -> object:
        start = self._global_plan_world_coord[0][0].location
        return self._settings.get(key, {}).get(f"{round(start.x)},{round(start.y)}", default)

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """The route follower's control with noise; a fault at the 20th step when configured."""
        self._steps += 1
        time.sleep(float(self._for_this_route("sleep", 0.0)))
        if self._steps == 20:
            fault = self._for_this_route("faults", "")
            if fault == "segv":
                ctypes.string_at(0)
            elif fault == "exit":
                os._exit(7)
            elif fault == "sys_exit":
                sys.exit(5)
        control = super().run_step(input_data, timestamp)
        control.steer = float(np.clip(control.steer + random.uniform(-0.02, 0.02), -1.0, 1.0))
        control.throttle = float(np.clip(control.throttle + np.random.uniform(-0.05, 0.05), 0.0, 1.0))
        return control
