"""Egos to measure DAA draws against in the world: a naive constant-speed ego, CARLA's BehaviorAgent, and the
reference planner (lane keeping; brakes with the smallest deceleration that avoids the adversary's published plan)."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

import carla
import numpy as np
import py_trees

from recon_carla_bridge.adversary.avoidability import (
    BRAKING_OPTIONS,
    HALF_EXTENTS,
    EgoOption,
    ego_trajectory,
    first_collision,
)
from recon_carla_bridge.adversary.behaviours import PLAN_KEY, half_extents
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.lanes import lane_reference
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.scenario.ego_agents import (
    DEFAULT_DRIVE_DISTANCE_M,
    BasicAgentEgo,
    find_ego_vehicle,
    lane_waypoints,
)

EGO_SPEED_KMH = 30.0
FULL_BRAKE_DECELERATION = 8.0  # m/s^2 a brake of 1.0 gives in the world's vehicle model (VehicleSpec.max_decel)
SAFETY_MARGIN_M = 0.3  # m the reference planner keeps clear of the adversary's box when it can
PREDICTION_HORIZON_S = 4.0  # s the adversary is also predicted at constant velocity


class _LaneAgentEgo(BasicAgentEgo, ABC):
    """Builds `_make(vehicle)` instead of BasicAgent and sends it down the ego's lane."""

    route_planner = None  # a GlobalRoutePlanner of the town to share (None: the agent builds its own)
    drive_distance = DEFAULT_DRIVE_DISTANCE_M  # m of the ego's own lane the agent follows (no lane changes on route)

    @abstractmethod
    def _make(self, vehicle: carla.Vehicle):
        """The subclass's hook: the CARLA agent that drives `vehicle`."""

    def _build(self) -> None:
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider

        world = CarlaDataProvider.get_world()
        vehicle = find_ego_vehicle(world)
        self._vehicle = vehicle
        self._basic_agent = self._make(vehicle)
        from agents.navigation.local_planner import RoadOption

        plan = [(w, RoadOption.LANEFOLLOW) for w in lane_waypoints(world.get_map(), vehicle.get_location(),
                                                                   self.drive_distance)]
        self._basic_agent.set_global_plan(plan, stop_waypoint_creation=True, clean_queue=True)


class ConstantSpeedEgo(_LaneAgentEgo):
    """Keeps its lane at 30 km/h and ignores every other vehicle (the naive ego)."""

    def _make(self, vehicle: carla.Vehicle):
        from agents.navigation.basic_agent import BasicAgent

        return BasicAgent(vehicle, target_speed=EGO_SPEED_KMH, opt_dict={"ignore_vehicles": True},
                          grp_inst=self.route_planner)


class BehaviorAgentEgo(_LaneAgentEgo):
    """CARLA's BehaviorAgent ('normal')."""

    def _make(self, vehicle: carla.Vehicle):
        from agents.navigation.behavior_agent import BehaviorAgent

        return BehaviorAgent(vehicle, behavior="normal", grp_inst=self.route_planner)


class CappedBehaviorAgentEgo(_LaneAgentEgo):
    """CARLA's BehaviorAgent ('normal') held to the other egos' 30 km/h (uncapped it speeds up to 50 km/h, the
    road's limit, and meets a side manoeuvre planned for the ego's speed at the trigger earlier than planned)."""

    def _make(self, vehicle: carla.Vehicle):
        from agents.navigation.behavior_agent import BehaviorAgent
        from agents.navigation.behavior_types import Normal

        return BehaviorAgent(vehicle, behavior=Normal(max_speed=EGO_SPEED_KMH), grp_inst=self.route_planner)


class ReferencePlannerEgo(ConstantSpeedEgo):
    """Lane keeping at 30 km/h; while a DAA plan is published, brakes with the smallest sampled deceleration
    whose lane-keeping trajectory never overlaps the rest of the plan (no reaction delay: it is the reference)."""

    def run_step(self, input_data: dict, timestamp: float) -> carla.VehicleControl:
        """Lane keeping, with the planner's brake when a DAA plan is running or its adversary is near."""
        control = super().run_step(input_data, timestamp)
        plan = py_trees.blackboard.Blackboard().get(PLAN_KEY)
        if plan is None:
            return control
        trajectory, start, actor_id = plan
        adversary = self._vehicle.get_world().get_actor(actor_id)
        predictions = [self._rest_of_plan(trajectory, timestamp - start)]
        if adversary is not None and not _behind(self._vehicle, adversary):  # braking never helps against a car behind
            predictions.append(_constant_velocity(adversary, PREDICTION_HORIZON_S, trajectory.t[1] - trajectory.t[0]))
        other_half = half_extents(adversary) if adversary is not None else HALF_EXTENTS
        deceleration = self._needed_deceleration([p for p in predictions if p is not None], other_half)
        if deceleration > 0.0:
            control.throttle = 0.0
            control.brake = min(1.0, deceleration / FULL_BRAKE_DECELERATION)
        return control

    @staticmethod
    def _rest_of_plan(trajectory: Trajectory, elapsed: float) -> Trajectory | None:
        keep = trajectory.t >= elapsed - 1e-9
        if keep.sum() < 2:
            return None
        return Trajectory(trajectory.t[keep] - trajectory.t[keep][0], trajectory.xy[keep], trajectory.yaw[keep],
                          trajectory.speed[keep], trajectory.manoeuvre_end)

    def _needed_deceleration(self, predictions: list[Trajectory], other_half: tuple[float, float]) -> float:
        """The smallest braking option that keeps SAFETY_MARGIN_M clear of every prediction, else the smallest that
        only avoids contact, else full braking."""
        own_half = half_extents(self._vehicle)
        for margin in (SAFETY_MARGIN_M, 0.0):
            option = self._avoiding_option(predictions, (own_half[0] + margin, own_half[1] + margin), other_half)
            if option is not None:
                return option
        return BRAKING_OPTIONS[-1]

    def _lane_reference(self, xy: np.ndarray) -> tuple[ReferenceLine, float]:
        """The centre line of the ego's lane (10 m behind to 200 m ahead, kept while the ego stays on it) and the
        ego's s on it."""
        kept = _reuse_reference(getattr(self, "_reference", None), xy)
        if kept is not None:
            return kept
        wmap = self._vehicle.get_world().get_map()
        self._reference = lane_reference(wmap.get_waypoint(self._vehicle.get_location()), behind=10.0, ahead=200.0)
        return self._reference, self._reference.to_frenet(xy)[0]

    def _avoiding_option(self, predictions: list[Trajectory], own_half: tuple[float, float],
                         other_half: tuple[float, float]) -> float | None:
        location = self._vehicle.get_location()
        reference, ego_s = self._lane_reference(np.array([location.x, location.y]))
        velocity = self._vehicle.get_velocity()
        speed = math.hypot(velocity.x, velocity.y)
        for option in BRAKING_OPTIONS:
            if all(first_collision(ego_trajectory(reference, ego_s, speed, EgoOption(option), p.t, reaction_time=0.0), p,
                                   own_half, other_half) is None for p in predictions):
                return option
        return None


def _reuse_reference(reference: ReferenceLine | None, xy: np.ndarray) -> tuple[ReferenceLine, float] | None:
    """(reference, s of xy) while xy is on the reference's lane (|d| < 1 m) with 100 m of it ahead; else None."""
    if reference is None:
        return None
    s, d = reference.to_frenet(xy)
    return (reference, s) if abs(d) < 1.0 and 5.0 < s < reference.length - 100.0 else None


def _behind(ego: carla.Actor, other: carla.Actor) -> bool:
    """Whether `other`'s centre is behind the ego's rear bumper (along the ego's heading)."""
    yaw = math.radians(ego.get_transform().rotation.yaw)
    delta = other.get_location() - ego.get_location()
    return delta.x * math.cos(yaw) + delta.y * math.sin(yaw) < -ego.bounding_box.extent.x


def _constant_velocity(actor: carla.Actor, horizon: float, dt: float) -> Trajectory:
    """The actor moving on at its current velocity for `horizon` s."""
    t = np.arange(0.0, horizon + dt / 2, dt)
    location, velocity = actor.get_location(), actor.get_velocity()
    xy = np.array([location.x, location.y]) + np.outer(t, [velocity.x, velocity.y])
    yaw = math.radians(actor.get_transform().rotation.yaw)
    speed = math.hypot(velocity.x, velocity.y)
    return Trajectory(t, xy, np.full(len(t), yaw), np.full(len(t), speed), horizon)


EGO_DRIVERS = {"constant_speed": ConstantSpeedEgo, "behavior_agent": BehaviorAgentEgo, "reference": ReferencePlannerEgo,
               "behavior_agent_30": CappedBehaviorAgentEgo}
