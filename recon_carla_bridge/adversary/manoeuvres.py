"""Adversary manoeuvres planned in the Frenet frame of the ego's lane: quintic s(t) and d(t).

Each manoeuvre names the parameters it uses with default ranges, and one hook, `_frenet`, that gives
s(t), d(t) on a time grid; the base class checks the inputs and turns the plan into a world trajectory.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.parameters import ParameterRange
from recon_carla_bridge.adversary.polynomials import Quintic
from recon_carla_bridge.adversary.trajectory import DEFAULT_DT, Trajectory
from recon_carla_bridge.errors import InputError


@dataclass(frozen=True)
class PlanningFrame:
    """The ego and the adversary at the trigger, in the Frenet frame of the ego's lane."""

    reference: ReferenceLine  # centre of the ego's lane, s growing in the ego's direction of travel
    ego_s: float  # m
    ego_speed: float  # m/s
    adversary_s: float  # m
    adversary_d: float  # m, lateral offset from the ego's lane centre
    adversary_speed: float  # m/s
    side_offset: float = 0.0  # m, d of the adjacent lane's centre on the manoeuvre's side (0 for in-lane ones)
    ego_length: float = 4.8  # m
    adversary_length: float = 4.8  # m
    dt: float = DEFAULT_DT  # s between samples


@dataclass(frozen=True)
class FrenetPlan:
    """s(t), d(t) samples of a plan."""

    t: np.ndarray  # (K,) s
    s: np.ndarray  # (K,) m
    d: np.ndarray  # (K,) m
    manoeuvre_end: float  # s


class Manoeuvre(ABC):
    """Base: parameter defaults and checks; subclasses implement `_frenet`."""

    name = ""
    defaults: dict[str, ParameterRange] = {}
    start = "ahead"  # where the adversary is at the trigger: ahead|behind|side (for placement and selection)

    def __init__(self, name: str, side_name: str = ""):
        self.name = name
        self.side_name = side_name  # 'left', 'right' or '' (in the ego's lane)

    def plan(self, frame: PlanningFrame, params: dict[str, float]) -> Trajectory:
        """The adversary's trajectory from the trigger on, for drawn parameters."""
        missing = sorted(set(self.defaults) - set(params))
        if missing:
            raise InputError(f"manoeuvre {self.name}: missing parameters {', '.join(missing)}")
        plan = self._frenet(frame, params)
        xy = frame.reference.to_world(plan.s, plan.d)
        start_yaw = float(frame.reference.heading(frame.adversary_s))
        return Trajectory.from_positions(plan.t, xy, plan.manoeuvre_end, start_yaw)

    @abstractmethod
    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        """The manoeuvre's own hook: its plan in the reference lane's Frenet frame (s along, d across)."""

    @staticmethod
    def _grid(duration: float, hold: float, dt: float) -> np.ndarray:
        return np.arange(0.0, duration + hold + dt / 2, dt)


def _centre_gap(frame: PlanningFrame, gap: float) -> float:
    return gap + (frame.ego_length + frame.adversary_length) / 2.0


class CutIn(Manoeuvre):
    """From the adjacent lane into the ego's lane, ending `gap` ahead and slower, so that gap/closing = TTC."""

    defaults = {"gap": ParameterRange(5.0, 15.0), "time_to_collision": ParameterRange(2.0, 6.0),
                "lateral_speed": ParameterRange(0.7, 1.5), "trigger_distance": ParameterRange(10.0, 30.0),
                "hold_time": ParameterRange(3.0, 3.0)}
    start = "side"

    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        duration = max(1.0, abs(frame.adversary_d) / params["lateral_speed"])
        end_speed = max(0.0, frame.ego_speed - params["gap"] / params["time_to_collision"])
        end_s = frame.ego_s + frame.ego_speed * duration + _centre_gap(frame, params["gap"])
        s_curve = Quintic.between((frame.adversary_s, frame.adversary_speed, 0.0), (end_s, end_speed, 0.0), duration)
        d_curve = Quintic.between((frame.adversary_d, 0.0, 0.0), (0.0, 0.0, 0.0), duration)
        t = self._grid(duration, params["hold_time"], frame.dt)
        return FrenetPlan(t, s_curve.position(t), d_curve.position(t), duration)


class Merge(CutIn):
    """From a slower adjacent lane into the ego's lane ahead: a cut-in starting slower and further ahead."""

    defaults = {"gap": ParameterRange(4.0, 12.0), "time_to_collision": ParameterRange(1.5, 4.0),
                "lateral_speed": ParameterRange(0.5, 1.2), "trigger_distance": ParameterRange(15.0, 40.0),
                "hold_time": ParameterRange(3.0, 3.0)}
    start = "side_ahead"


class LaneChangeAbort(Manoeuvre):
    """Starts a lane change into the ego's lane, then returns to its own lane at constant speed."""

    defaults = {"lateral_speed": ParameterRange(0.7, 1.5), "abort_fraction": ParameterRange(0.3, 0.6),
                "trigger_distance": ParameterRange(5.0, 25.0), "hold_time": ParameterRange(2.0, 2.0)}
    start = "side_ahead"

    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        reach = params["abort_fraction"] * abs(frame.adversary_d)
        leg = max(1.5, reach / params["lateral_speed"])
        apex = frame.adversary_d - np.sign(frame.adversary_d) * reach
        out = Quintic.between((frame.adversary_d, 0.0, 0.0), (apex, 0.0, 0.0), leg)
        back = Quintic.between((apex, 0.0, 0.0), (frame.adversary_d, 0.0, 0.0), leg)
        t = self._grid(2 * leg, params["hold_time"], frame.dt)
        d = np.where(t <= leg, out.position(t), back.position(t - leg))
        s = frame.adversary_s + frame.adversary_speed * t
        return FrenetPlan(t, s, d, 2 * leg)


class OncomingIntrusion(LaneChangeAbort):
    """From the oncoming lane (to the ego's left), drives toward the ego and swerves `abort_fraction` of the way
    into the ego's lane, then back. `adversary_speed` is its speed toward the ego."""

    defaults = {"lateral_speed": ParameterRange(0.7, 1.5), "abort_fraction": ParameterRange(0.5, 0.8),
                "trigger_distance": ParameterRange(40.0, 80.0), "hold_time": ParameterRange(2.0, 2.0)}
    start = "oncoming"  # abort_fraction from 0.5: at 0.3-0.6 it passed every ego with clearance (200 draws, Town01)

    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        plan = super()._frenet(frame, params)
        return FrenetPlan(plan.t, frame.adversary_s - frame.adversary_speed * plan.t, plan.d, plan.manoeuvre_end)


class BrakeCheck(Manoeuvre):
    """Ahead in the ego's lane, brakes hard (peak `deceleration`), shedding `speed_drop` of its speed."""

    defaults = {"deceleration": ParameterRange(3.0, 7.0), "speed_drop": ParameterRange(0.5, 1.0),
                "trigger_distance": ParameterRange(10.0, 25.0), "hold_time": ParameterRange(3.0, 3.0)}
    start = "ahead"
    _PEAK_PER_UNIT = float(np.max(np.abs(np.gradient(np.gradient(
        Quintic.between((0.0, 1.0, 0.0), (0.5, 0.0, 0.0), 1.0).position(np.linspace(0, 1, 2001)),
        np.linspace(0, 1, 2001)), np.linspace(0, 1, 2001)))))  # peak |a| of a 1 m/s -> 0 stop lasting 1 s

    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        v0 = frame.adversary_speed
        v1 = v0 * (1.0 - params["speed_drop"])
        duration = max(0.5, (v0 - v1) * self._PEAK_PER_UNIT / params["deceleration"])
        s_curve = Quintic.between((frame.adversary_s, v0, 0.0), (frame.adversary_s + (v0 + v1) / 2 * duration, v1, 0.0),
                                  duration)
        t = self._grid(duration, params["hold_time"], frame.dt)
        return FrenetPlan(t, s_curve.position(t), np.full_like(t, frame.adversary_d), duration)


class Tailgating(Manoeuvre):
    """From behind in the ego's lane, closes to `gap` behind the ego in `time_to_collision` s, matching its speed."""

    defaults = {"gap": ParameterRange(2.0, 6.0), "time_to_collision": ParameterRange(3.0, 7.0),
                "trigger_distance": ParameterRange(15.0, 40.0), "hold_time": ParameterRange(3.0, 3.0)}
    start = "behind"

    def _frenet(self, frame: PlanningFrame, params: dict[str, float]) -> FrenetPlan:
        duration = params["time_to_collision"]
        end_s = frame.ego_s + frame.ego_speed * duration - _centre_gap(frame, params["gap"])
        s_curve = Quintic.between((frame.adversary_s, frame.adversary_speed, 0.0), (end_s, frame.ego_speed, 0.0), duration)
        d_curve = Quintic.between((frame.adversary_d, 0.0, 0.0), (0.0, 0.0, 0.0), duration)
        t = self._grid(duration, params["hold_time"], frame.dt)
        return FrenetPlan(t, s_curve.position(t), d_curve.position(t), duration)


MANOEUVRES: dict[str, Manoeuvre] = {
    "cut_in_left": CutIn("cut_in_left", "left"),
    "cut_in_right": CutIn("cut_in_right", "right"),
    "merge_left": Merge("merge_left", "left"),
    "merge_right": Merge("merge_right", "right"),
    "lane_change_abort_left": LaneChangeAbort("lane_change_abort_left", "left"),
    "lane_change_abort_right": LaneChangeAbort("lane_change_abort_right", "right"),
    "oncoming_intrusion": OncomingIntrusion("oncoming_intrusion", "oncoming"),
    "brake_check": BrakeCheck("brake_check"),
    "tailgating": Tailgating("tailgating"),
}


def manoeuvre_named(name: str, where: str) -> Manoeuvre:
    """The manoeuvre called `name`; InputError naming `where` and the known ones otherwise."""
    manoeuvre = MANOEUVRES.get(name)
    if manoeuvre is None:
        raise InputError(f"{where}: unknown manoeuvre '{name}' (known: {', '.join(sorted(MANOEUVRES))})")
    return manoeuvre
