"""py_trees (0.8.3) behaviours, in srunner's AtomicBehavior style, that run a DAA manoeuvre in the world.

`DAAManoeuvre` cruises the adversary along its lane, waits for its trigger (distance, time-to-collision or
time), plans the drawn manoeuvre from the state at that tick, keeps only feasible and avoidable plans, and
drives the plan tick by tick (pose and velocity through the world's API); `HandBackToLaneFollowing` gives
the actor to the traffic manager afterwards. `RecordPoses` writes a per-tick pose trace when asked.
"""
from __future__ import annotations

import json
import math
import os
from collections import Counter

import carla
import numpy as np
import py_trees

from recon_carla_bridge.adversary.avoidability import judge_draw
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.lanes import lane_reference, on_drivable_lanes, side_lane
from recon_carla_bridge.adversary.manoeuvres import PlanningFrame
from recon_carla_bridge.adversary.spec import AdversarySpec
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.compat_imports import install_srunner_alias

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_behaviors import AtomicBehavior  # noqa: E402
from srunner.scenariomanager.timer import GameTime  # noqa: E402

PLAN_KEY = "daa_plan"  # blackboard: (Trajectory, plan start s of game time, adversary actor id) of the manoeuvre
REJECTIONS_KEY = "daa_rejections"  # blackboard: {cause: ticks} of the manoeuvre's rejected plans
TRACE_ENV = "RECON_CARLA_DAA_TRACE"  # a JSON path: RecordPoses writes every tick's poses there
CRUISE_ACCELERATION = 2.0  # m/s^2 while the adversary gets up to its cruise speed
OFFSET_GAIN = 0.5  # 1/s: speed added per metre of error when pacing the ego at keep_offset


def _speed(actor: carla.Actor) -> float:
    velocity = actor.get_velocity()
    return math.hypot(velocity.x, velocity.y)


def _xy(actor: carla.Actor) -> np.ndarray:
    location = actor.get_location()
    return np.array([location.x, location.y])


def half_extents(actor: carla.Actor) -> tuple[float, float]:
    """Half length and half width (m) of the actor's bounding box."""
    extent = actor.bounding_box.extent
    return float(extent.x), float(extent.y)


def drive_step(actor: carla.Actor, xy: np.ndarray, yaw: float, next_xy: np.ndarray, next_yaw: float, dt: float) -> None:
    """Put the actor at (xy, yaw rad) now, moving so that the next tick of `dt` s brings it to (next_xy, next_yaw)."""
    z = actor.get_location().z
    actor.set_transform(carla.Transform(carla.Location(float(xy[0]), float(xy[1]), z),
                                        carla.Rotation(yaw=math.degrees(yaw))))
    velocity = (next_xy - xy) / dt
    actor.set_target_velocity(carla.Vector3D(float(velocity[0]), float(velocity[1]), 0.0))
    actor.set_target_angular_velocity(carla.Vector3D(0.0, 0.0, math.degrees((next_yaw - yaw) / dt)))


class DAAManoeuvre(AtomicBehavior):
    """Cruise, trigger, plan (feasible and avoidable only) and drive one drawn adversary manoeuvre.

    SUCCESS when the planned trajectory has been driven to its end; FAILURE when no acceptable plan
    came within `spec.patience` s of the trigger (the causes are in `rejections`).
    """

    def __init__(self, actor: carla.Actor, ego: carla.Actor, spec: AdversarySpec, name: str = "DAAManoeuvre"):
        super().__init__(name, actor)
        self._ego = ego
        self._spec = spec
        self.params = spec.draw()
        self.rejections: Counter[str] = Counter()
        self.last_rejection = ""  # what the last rejected plan violated
        self.trajectory: Trajectory | None = None
        self._cruise_line: ReferenceLine | None = None
        self._cruise_s = 0.0
        self._cruise_d = 0.0
        self._cruise_speed = 0.0
        self._start_time = 0.0
        self._trigger_time: float | None = None
        self._plan_time = 0.0

    def initialise(self) -> None:
        """Start cruising from where the adversary is."""
        super().initialise()
        wmap = CarlaDataProvider.get_map()
        self._cruise_line = lane_reference(wmap.get_waypoint(self._actor.get_location()), behind=5.0, ahead=600.0)
        self._cruise_s, self._cruise_d = self._cruise_line.to_frenet(_xy(self._actor))
        self._cruise_speed = _speed(self._actor)
        self._start_time = GameTime.get_time()
        self._trigger_time = None
        self.trajectory = None

    def update(self) -> py_trees.common.Status:
        """One tick: cruise until triggered and planned, then follow the plan."""
        now = GameTime.get_time()
        dt = CarlaDataProvider.get_world().get_settings().fixed_delta_seconds or 0.05
        if self.trajectory is None:
            if self._trigger_time is None and self._triggered(now):
                self._trigger_time = now
            if self._trigger_time is not None:
                self.trajectory = self._plan(dt)
                self._plan_time = now
                blackboard = py_trees.blackboard.Blackboard()
                blackboard.set(REJECTIONS_KEY, dict(self.rejections), overwrite=True)
                if self.trajectory is not None:
                    blackboard.set(PLAN_KEY, (self.trajectory, now, self._actor.id), overwrite=True)
            if self.trajectory is None:
                if self._trigger_time is not None and now - self._trigger_time > self._spec.patience:
                    self.feedback_message = (f"no acceptable plan within {self._spec.patience:g} s: {dict(self.rejections)}"
                                             f" (last: {self.last_rejection})")
                    print(f"DAA {self._spec.manoeuvre.name}: {self.feedback_message}")
                    return py_trees.common.Status.FAILURE
                self._cruise(dt)
                return py_trees.common.Status.RUNNING
        elapsed = now - self._plan_time
        if elapsed >= self.trajectory.duration - 1e-6:
            return py_trees.common.Status.SUCCESS
        xy, yaw, _ = self.trajectory.state_at(elapsed)
        next_xy, next_yaw, _ = self.trajectory.state_at(elapsed + dt)
        drive_step(self._actor, xy, yaw, next_xy, next_yaw, dt)
        return py_trees.common.Status.RUNNING

    # ---- phases ---------------------------------------------------------------------------------
    def _cruise(self, dt: float) -> None:
        """Along its own lane, speeding up or slowing down (bounded) to the cruise speed."""
        line = self._cruise_line
        target = self._spec.cruise_speed
        if self._spec.keep_offset is not None:  # pace the ego, closing on the offset at OFFSET_GAIN per second
            offset = self._cruise_s - line.to_frenet(_xy(self._ego))[0]
            target = float(np.clip(_speed(self._ego) + OFFSET_GAIN * (self._spec.keep_offset - offset), 0.0, 40.0))
        step = float(np.clip(target - self._cruise_speed, -CRUISE_ACCELERATION * dt, CRUISE_ACCELERATION * dt))
        next_speed = self._cruise_speed + step
        next_s = self._cruise_s + 0.5 * (self._cruise_speed + next_speed) * dt
        points = line.to_world(np.array([self._cruise_s, self._cruise_s + 0.1, next_s, next_s + 0.1]),
                               np.full(4, self._cruise_d))
        here, there = points[:2], points[2:]
        yaw = math.atan2(*(here[1] - here[0])[::-1])
        next_yaw = yaw + ((math.atan2(*(there[1] - there[0])[::-1]) - yaw + math.pi) % (2 * math.pi) - math.pi)
        drive_step(self._actor, here[0], yaw, there[0], next_yaw, dt)
        self._cruise_s, self._cruise_speed = next_s, next_speed

    def _triggered(self, now: float) -> bool:
        distance = float(np.linalg.norm(_xy(self._ego) - _xy(self._actor)))
        if self._spec.trigger == "distance":
            return distance <= self.params["trigger_distance"]
        if self._spec.trigger == "time":
            return now - self._start_time >= self._spec.trigger_value
        ego_yaw = math.radians(self._ego.get_transform().rotation.yaw)
        heading = np.array([math.cos(ego_yaw), math.sin(ego_yaw)])
        ego_v, adv_v = self._ego.get_velocity(), self._actor.get_velocity()
        closing = float(heading @ (np.array([ego_v.x, ego_v.y]) - np.array([adv_v.x, adv_v.y])))
        ahead = float(heading @ (_xy(self._actor) - _xy(self._ego))) > 0
        gap = max(0.0, distance - 4.8)
        return closing > 0.1 and ahead and gap / closing <= self._spec.trigger_value

    def _plan(self, dt: float) -> Trajectory | None:
        """The manoeuvre from the current state, or None (cause counted) when not acceptable."""
        wmap = CarlaDataProvider.get_map()
        ego_waypoint = wmap.get_waypoint(self._ego.get_location())
        reference = lane_reference(ego_waypoint, behind=60.0, ahead=300.0)
        ego_s, _ = reference.to_frenet(_xy(self._ego))
        adv_s, adv_d = reference.to_frenet(_xy(self._actor))
        side = self._spec.manoeuvre.side_name
        side_offset = 0.0
        if side:
            lane = side_lane(ego_waypoint, side)
            if lane is None:
                self.rejections["no_adjacent_lane"] += 1
                return None
            side_offset = reference.to_frenet(np.array([lane.transform.location.x, lane.transform.location.y]))[1]
            if not (0.5 * abs(side_offset) < abs(adv_d) < 1.5 * abs(side_offset) and adv_d * side_offset > 0):
                self.rejections["adversary_not_in_side_lane"] += 1
                return None
        elif abs(adv_d) > 0.5 * ego_waypoint.lane_width:
            self.rejections["adversary_not_in_ego_lane"] += 1
            return None
        frame = PlanningFrame(reference, ego_s, _speed(self._ego), adv_s, adv_d, self._cruise_speed, side_offset,
                              2 * self._ego.bounding_box.extent.x, 2 * self._actor.bounding_box.extent.x, dt)
        trajectory = self._spec.manoeuvre.plan(frame, self.params)
        z = self._actor.get_location().z
        verdict = judge_draw(trajectory, reference, ego_s, frame.ego_speed,
                             on_road=lambda xy: on_drivable_lanes(wmap, xy, z), ego_half=half_extents(self._ego),
                             adversary_half=half_extents(self._actor), until_rejected=True)
        if verdict.rejection:
            self.rejections[verdict.rejection] += 1
            self.last_rejection = "; ".join(verdict.infeasible) or verdict.rejection
            return None
        print(f"DAA {self._spec.manoeuvre.name}: planned {dict((k, round(v, 3)) for k, v in self.params.items())} "
              f"after {sum(self.rejections.values())} rejected tick(s) {dict(self.rejections)}")
        return trajectory


class HandBackToLaneFollowing(AtomicBehavior):
    """Give the adversary to the traffic manager (lane following) once its manoeuvre is done."""

    def __init__(self, actor: carla.Actor, name: str = "HandBackToLaneFollowing"):
        super().__init__(name, actor)

    def update(self) -> py_trees.common.Status:
        """Autopilot on; done at once."""
        self._actor.set_autopilot(True, CarlaDataProvider.get_traffic_manager_port())
        return py_trees.common.Status.SUCCESS


class RecordPoses(AtomicBehavior):
    """Record the ego's and the adversary's poses and speeds every tick into the JSON file named by $RECON_CARLA_DAA_TRACE."""

    def __init__(self, ego: carla.Actor, adversary: carla.Actor, path: str, name: str = "RecordPoses"):
        super().__init__(name)
        self._ego, self._adversary, self._path = ego, adversary, path
        self._rows: list[dict] = []
        self._map_name = ""

    def update(self) -> py_trees.common.Status:
        """Append this tick's row; never ends by itself."""
        if not self._map_name:
            self._map_name = CarlaDataProvider.get_map().name
        row = {"t": GameTime.get_time()}
        for key, actor in (("ego", self._ego), ("adversary", self._adversary)):
            transform = actor.get_transform()
            row[key] = [transform.location.x, transform.location.y, transform.rotation.yaw, _speed(actor)]
        self._rows.append(row)
        if len(self._rows) % 20 == 0:
            self._write()
        return py_trees.common.Status.RUNNING

    def terminate(self, new_status: py_trees.common.Status) -> None:
        """Write the trace when the tree stops."""
        self._write()
        super().terminate(new_status)

    def _write(self) -> None:
        with open(self._path, "w", encoding="utf-8") as handle:
            json.dump({"map": self._map_name, "adversary_role": self._adversary.attributes.get("role_name", ""),
                       "ticks": self._rows}, handle)


def trace_path() -> str | None:
    """Where RecordPoses writes ($RECON_CARLA_DAA_TRACE), or None."""
    return os.environ.get(TRACE_ENV) or None
