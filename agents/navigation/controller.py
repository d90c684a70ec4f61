"""PID controllers that turn a target speed and a target waypoint into a carla.VehicleControl.

Same classes, constructor arguments and attributes as CARLA 0.9.16's `agents.navigation.controller`
(ScenarioRunner 0.9.11 writes `planner._vehicle_controller._lat_controller._offset` directly).
The controllers read the vehicle only through `get_velocity()` and `get_transform()`.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import carla
import numpy as np

from agents.navigation.settings import PIDGains
from agents.tools.misc import get_speed

_STEER_RATE_LIMIT = 0.1
"""Largest change of the steer command between two control steps."""


def _gains(args: Mapping[str, float] | PIDGains, owner: str) -> PIDGains:
    """Accept CARLA's PID dict or a PIDGains; a dict without dt keeps the controllers' 0.03 s."""
    return PIDGains.from_carla(args, owner=owner, dt=PIDGains().dt)


class _PIDLoop:
    """A discrete PID over the last ten errors, with CARLA's derivative and windowed integral."""

    def __init__(self, K_P: float, K_I: float, K_D: float, dt: float) -> None:
        """Store the gains and an empty error window."""
        self._k_p = K_P
        self._k_i = K_I
        self._k_d = K_D
        self._dt = dt
        self._error_buffer: deque[float] = deque(maxlen=10)

    def change_parameters(self, K_P: float, K_I: float, K_D: float, dt: float) -> None:
        """Replace the gains and the period (the error history is kept, as in CARLA)."""
        self._k_p, self._k_i, self._k_d, self._dt = K_P, K_I, K_D, dt

    def _pid_output(self, error: float) -> float:
        """Push `error` and return the clipped PID output in [-1, 1]."""
        self._error_buffer.append(error)
        if len(self._error_buffer) >= 2:
            derivative = (self._error_buffer[-1] - self._error_buffer[-2]) / self._dt
            integral = sum(self._error_buffer) * self._dt
        else:
            derivative = integral = 0.0
        return float(np.clip(self._k_p * error + self._k_d * derivative + self._k_i * integral, -1.0, 1.0))


class PIDLongitudinalController(_PIDLoop):
    """Speed loop: the error is target speed minus current speed, both in km/h."""

    def __init__(
        self, vehicle: carla.Actor, K_P: float = 1.0, K_I: float = 0.0, K_D: float = 0.0, dt: float = 0.03
    ) -> None:
        """Control `vehicle` with the given gains; dt is the control period in seconds."""
        super().__init__(K_P, K_I, K_D, dt)
        self._vehicle = vehicle

    def run_step(self, target_speed: float, debug: bool = False) -> float:
        """Return the acceleration command in [-1, 1] (negative means brake) to reach `target_speed` km/h."""
        current_speed = get_speed(self._vehicle)
        if debug:
            print(f"Current speed = {current_speed:.2f} km/h")
        return self._pid_control(target_speed, current_speed)

    def _pid_control(self, target_speed: float, current_speed: float) -> float:
        """PID on the speed error (km/h)."""
        return self._pid_output(target_speed - current_speed)


class PIDLateralController(_PIDLoop):
    """Heading loop: the error is the signed angle (radians) between the heading and the target waypoint."""

    def __init__(
        self,
        vehicle: carla.Actor,
        offset: float = 0,
        K_P: float = 1.0,
        K_I: float = 0.0,
        K_D: float = 0.0,
        dt: float = 0.03,
    ) -> None:
        """Control `vehicle`, aiming `offset` metres to the right of the waypoints (left when negative)."""
        super().__init__(K_P, K_I, K_D, dt)
        self._vehicle = vehicle
        self._offset = offset

    @property
    def _e_buffer(self) -> deque[float]:
        """CARLA's name for the lateral error window."""
        return self._error_buffer

    def run_step(self, waypoint: carla.Waypoint) -> float:
        """Return the steer command in [-1, 1] (negative is left) that points the vehicle at `waypoint`."""
        return self._pid_control(waypoint, self._vehicle.get_transform())

    def set_offset(self, offset: float) -> None:
        """Change the lateral offset in metres (positive: to the right of the lane centre)."""
        self._offset = offset

    def _pid_control(self, waypoint: carla.Waypoint, vehicle_transform: carla.Transform) -> float:
        """PID on the signed angle between the vehicle's heading and the (offset) waypoint."""
        ego = vehicle_transform.location
        forward = vehicle_transform.get_forward_vector()
        target = waypoint.transform.location
        if self._offset != 0:
            right = waypoint.transform.get_right_vector()
            target = target + carla.Location(x=self._offset * right.x, y=self._offset * right.y)
        heading = np.array([forward.x, forward.y])
        to_target = np.array([target.x - ego.x, target.y - ego.y])
        norms = float(np.linalg.norm(heading) * np.linalg.norm(to_target))
        if norms == 0.0:
            angle = 0.0
        else:
            angle = math.acos(float(np.clip(np.dot(heading, to_target) / norms, -1.0, 1.0)))
            # CARLA's frame is left-handed: a negative z cross product means the target is to the left.
            if heading[0] * to_target[1] - heading[1] * to_target[0] < 0:
                angle = -angle
        return self._pid_output(angle)


class VehiclePIDController:
    """Lateral and longitudinal PID together, producing a carla.VehicleControl for a target waypoint."""

    def __init__(
        self,
        vehicle: carla.Actor,
        args_lateral: Mapping[str, float] | PIDGains,
        args_longitudinal: Mapping[str, float] | PIDGains,
        offset: float = 0,
        max_throttle: float = 0.75,
        max_brake: float = 0.3,
        max_steering: float = 0.8,
    ) -> None:
        """Build both loops; args_* are CARLA PID dicts (K_P, K_I, K_D, dt) or PIDGains.

        The first steer rate limit starts from 0 (CARLA starts from `vehicle.get_control().steer`).
        """
        self.max_brake = max_brake
        self.max_throt = max_throttle
        self.max_steer = max_steering
        self._vehicle = vehicle
        self.past_steering = 0.0
        lon = _gains(args_longitudinal, "VehiclePIDController args_longitudinal")
        lat = _gains(args_lateral, "VehiclePIDController args_lateral")
        self._lon_controller = PIDLongitudinalController(vehicle, K_P=lon.k_p, K_I=lon.k_i, K_D=lon.k_d, dt=lon.dt)
        self._lat_controller = PIDLateralController(
            vehicle, offset, K_P=lat.k_p, K_I=lat.k_i, K_D=lat.k_d, dt=lat.dt
        )

    def run_step(self, target_speed: float, waypoint: carla.Waypoint) -> carla.VehicleControl:
        """One control step toward `waypoint` at `target_speed` km/h.

        Throttle is capped at max_throttle, brake at max_brake; the steer moves at most 0.1 per
        step and is capped at max_steering.
        """
        acceleration = self._lon_controller.run_step(target_speed)
        steer = self._lat_controller.run_step(waypoint)
        control = carla.VehicleControl()
        if acceleration >= 0.0:
            control.throttle = min(acceleration, self.max_throt)
            control.brake = 0.0
        else:
            control.throttle = 0.0
            control.brake = min(-acceleration, self.max_brake)
        steer = float(np.clip(steer, self.past_steering - _STEER_RATE_LIMIT, self.past_steering + _STEER_RATE_LIMIT))
        steer = float(np.clip(steer, -self.max_steer, self.max_steer))
        control.steer = steer
        control.hand_brake = False
        control.manual_gear_shift = False
        self.past_steering = steer
        return control

    def change_longitudinal_PID(self, args_longitudinal: Mapping[str, float] | PIDGains) -> None:
        """Replace the speed loop's gains (CARLA PID dict or PIDGains)."""
        gains = _gains(args_longitudinal, "VehiclePIDController args_longitudinal")
        self._lon_controller.change_parameters(gains.k_p, gains.k_i, gains.k_d, gains.dt)

    def change_lateral_PID(self, args_lateral: Mapping[str, float] | PIDGains) -> None:
        """Replace the steering loop's gains (CARLA PID dict or PIDGains)."""
        gains = _gains(args_lateral, "VehiclePIDController args_lateral")
        self._lat_controller.change_parameters(gains.k_p, gains.k_i, gains.k_d, gains.dt)

    def set_offset(self, offset: float) -> None:
        """Change the lateral offset in metres."""
        self._lat_controller.set_offset(offset)
