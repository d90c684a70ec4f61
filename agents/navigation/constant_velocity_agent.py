"""ConstantVelocityAgent: holds a fixed speed (the vehicle's constant-velocity mode), steering like a BasicAgent.

The interface of CARLA 0.9.16's `agents.navigation.constant_velocity_agent`. The speed is imposed
with `Vehicle.enable_constant_velocity` (forward, in the vehicle frame) and dropped to the hazard's
speed when a vehicle or a red light is ahead. A collision sensor switches the mode off; it comes
back after `restart_time` seconds of simulation time.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import carla

from agents.navigation.basic_agent import (
    TRAFFIC_LIGHT_FILTER,
    VEHICLE_FILTER,
    BasicAgent,
)
from agents.navigation.global_route_planner import GlobalRoutePlanner
from agents.navigation.settings import BasicAgentSettings, ConstantVelocitySettings

_LIGHT_DETECTION_SPEED_RATIO = 0.3
"""Seconds of travel added to the traffic-light search distance (CARLA's constant)."""


class ConstantVelocityAgent(BasicAgent):
    """Drives its route at a constant speed, ignoring vehicle dynamics, until it collides."""

    _EXTRA_OPTION_KEYS: ClassVar[tuple[str, ...]] = ConstantVelocitySettings.OPT_DICT_KEYS

    def __init__(
        self,
        vehicle: carla.Actor,
        target_speed: float = 20,
        opt_dict: Mapping[str, Any] | BasicAgentSettings | None = None,
        map_inst: carla.Map | None = None,
        grp_inst: GlobalRoutePlanner | None = None,
    ) -> None:
        """Set up the agent, attach its collision sensor and start the constant velocity.

        Args:
            vehicle: the carla.Vehicle to drive.
            target_speed: the constant speed in km/h.
            opt_dict: BasicAgent's options plus 'restart_time' (s, default inf) and
                'use_basic_behavior' (default False).
            map_inst: the carla.Map, to avoid asking the world for it.
            grp_inst: a GlobalRoutePlanner to share.
        """
        super().__init__(vehicle, target_speed, opt_dict=opt_dict, map_inst=map_inst, grp_inst=grp_inst)
        self.velocity_settings = ConstantVelocitySettings.from_extra(self.settings.extra)
        self._use_basic_behavior = self.velocity_settings.use_basic_behavior
        self._restart_time = self.velocity_settings.restart_time
        self._target_speed = target_speed / 3.6  # m/s from here on, as in CARLA
        self._current_speed = vehicle.get_velocity().length()
        self._constant_velocity_stop_time: float | None = None
        self._collision_sensor: carla.Actor | None = None
        self.is_constant_velocity_active = True
        self._set_collision_sensor()
        self._set_constant_velocity(self._target_speed)

    def set_target_speed(self, speed: float) -> None:
        """Set the constant speed in km/h."""
        self._target_speed = speed / 3.6
        self._local_planner.set_speed(speed)

    def stop_constant_velocity(self) -> None:
        """Switch the constant velocity off (a collision does this) and note the simulation time."""
        self.is_constant_velocity_active = False
        self._vehicle.disable_constant_velocity()
        self._constant_velocity_stop_time = self._world.get_snapshot().timestamp.elapsed_seconds

    def restart_constant_velocity(self) -> None:
        """Switch the constant velocity back on at the target speed."""
        self.is_constant_velocity_active = True
        self._set_constant_velocity(self._target_speed)

    def _set_constant_velocity(self, speed: float) -> None:
        """Impose `speed` m/s forward, in the vehicle's frame."""
        self._vehicle.enable_constant_velocity(carla.Vector3D(speed, 0, 0))

    def run_step(self) -> carla.VehicleControl:
        """One step: steer along the plan; hold the target speed, or the hazard's speed when one is ahead."""
        if not self.is_constant_velocity_active:
            elapsed = self._world.get_snapshot().timestamp.elapsed_seconds - self._constant_velocity_stop_time
            if elapsed > self._restart_time:
                self.restart_constant_velocity()
            elif self._use_basic_behavior:
                return super().run_step()
            else:
                return carla.VehicleControl()

        actors = self._world.get_actors()
        speed = self._vehicle.get_velocity().length()
        hazard_speed: float | None = None
        blocking = self._vehicle_obstacle_detected(actors.filter(VEHICLE_FILTER), self._base_vehicle_threshold + speed)
        if blocking.obstacle_was_found:
            own_velocity = self._vehicle.get_velocity()
            own_speed = own_velocity.length()
            hazard_speed = 0.0 if own_speed == 0 else own_velocity.dot(blocking.obstacle.get_velocity()) / own_speed
        light_distance = self._base_tlight_threshold + _LIGHT_DETECTION_SPEED_RATIO * speed
        if self._affected_by_traffic_light(actors.filter(TRAFFIC_LIGHT_FILTER), light_distance).traffic_light_was_found:
            hazard_speed = 0.0

        # The constant velocity overrides the throttle, but the planner's control still steers.
        control = self._local_planner.run_step()
        self._set_constant_velocity(self._target_speed if hazard_speed is None else hazard_speed)
        return control

    def _set_collision_sensor(self) -> None:
        """Attach a collision sensor whose events stop the constant velocity."""
        blueprint = self._world.get_blueprint_library().find("sensor.other.collision")
        self._collision_sensor = self._world.spawn_actor(blueprint, carla.Transform(), attach_to=self._vehicle)
        self._collision_sensor.listen(lambda event: self.stop_constant_velocity())

    def destroy_sensor(self) -> None:
        """Destroy the collision sensor (call before destroying the vehicle)."""
        if self._collision_sensor is not None:
            self._collision_sensor.destroy()
            self._collision_sensor = None
