"""The Cousin Trajectory Generator (CTG), core: variants of a logged ego trajectory in the Frenet frame of its own
path — lane changes to the lanes beside it, speed-profile changes, extensions past the log's end — each checked
for kinematic feasibility, drivable lanes and time-aligned collisions with the logged actors, and written as
leaderboard (2.0 layout) route XML."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.adversary.avoidability import first_collision
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.polynomials import Quintic
from recon_carla_bridge.adversary.trajectory import Trajectory, VehicleLimits, feasibility_violations


@dataclass(frozen=True)
class CousinSpec:
    """One variant of the logged trajectory."""

    name: str
    lane_offset: float = 0.0  # m, d of the lane changed to (0: keep the logged lane)
    change_start: float = 0.0  # s after the log's start when the lane change begins
    change_duration: float = 4.0  # s
    speed_factor: float = 1.0  # end speed / logged speed (reached by `change_start + change_duration`)
    extension: float = 0.0  # s of driving on past the log's end at the final speed


@dataclass(frozen=True)
class Cousin:
    """A generated variant and what the checks said of it."""

    spec: CousinSpec
    trajectory: Trajectory
    rejection: str  # '' accepted, else 'infeasible: …', 'off_road' or 'collision with actor i at t s'


def logged_frenet(log: Trajectory, spacing: float = 2.0) -> tuple[ReferenceLine, np.ndarray]:
    """The log's own path, smoothed (logged poses jitter by centimetres), as a reference line, and the log's
    smoothed s(t) along it. Smoothing splines with the penalty chosen by generalised cross-validation."""
    from scipy.interpolate import make_smoothing_spline

    travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(log.xy, axis=0), axis=1))])
    keep = np.concatenate([[True], np.diff(travelled) > 1e-3])
    marks = np.arange(0.0, travelled[-1], spacing)
    marks = np.append(marks, travelled[-1]) if travelled[-1] - marks[-1] > 0.5 else marks
    path = np.stack([np.interp(marks, travelled[keep], log.xy[keep, i]) for i in (0, 1)], axis=1)
    if len(marks) >= 5:
        path = np.stack([make_smoothing_spline(marks, path[:, i])(marks) for i in (0, 1)], axis=1)
    reference = ReferenceLine(path)
    s = np.array([reference.to_frenet(p)[0] for p in log.xy])
    if len(s) >= 5:
        s = make_smoothing_spline(log.t, s)(log.t)
    return reference, np.maximum.accumulate(s)


def make_cousin(log: Trajectory, spec: CousinSpec) -> Trajectory:
    """The variant's trajectory: the logged s(t) re-timed by the speed factor, a quintic lane change in d."""
    reference, s_log = logged_frenet(log)
    dt = float(log.t[1] - log.t[0])
    t = np.arange(0.0, log.duration + spec.extension + dt / 2, dt)
    logged_speed = np.interp(t, log.t, np.gradient(s_log, log.t))
    blend = Quintic.between((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), spec.change_duration)
    weight = blend.position(np.clip(t - spec.change_start, 0.0, None)).clip(0.0, 1.0)
    speed = logged_speed * (1.0 + (spec.speed_factor - 1.0) * weight)
    s = s_log[0] + np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * dt)])
    d = spec.lane_offset * weight
    return Trajectory.from_positions(t, reference.to_world(s, d), float(t[-1]), float(log.yaw[0]))


def check_cousin(spec: CousinSpec, trajectory: Trajectory, actors: list[Trajectory],
                 on_road: Callable[[np.ndarray], bool] | None = None, limits: VehicleLimits = VehicleLimits()) -> Cousin:
    """Feasibility, drivable lanes (`on_road(xy)`) and collisions with the logged actors (same time samples)."""
    violations = feasibility_violations(trajectory, limits)
    if violations:
        return Cousin(spec, trajectory, "infeasible: " + "; ".join(violations))
    if on_road is not None and not on_road(trajectory.xy):
        return Cousin(spec, trajectory, "off_road")
    for index, actor in enumerate(actors):
        hit = first_collision(trajectory, actor)
        if hit is not None:
            return Cousin(spec, trajectory, f"collision with actor {index} at {hit:.2f} s")
    return Cousin(spec, trajectory, "")


def standard_specs(lane_offsets: list[float], duration: float) -> list[CousinSpec]:
    """Lane changes to each given lane (early and mid-log, quick and slow; the drive extended until they end),
    slower and faster variants, and an extension."""
    specs = [CousinSpec("log")]
    for offset in lane_offsets:
        for start, change in ((0.1 * duration, 4.0), (0.1 * duration, 7.0), (0.4 * duration, 7.0)):
            specs.append(CousinSpec(f"lane_change_{offset:+.1f}m_at_{start:.1f}s_in_{change:g}s", lane_offset=offset,
                                    change_start=start, change_duration=change,
                                    extension=max(0.0, start + change + 1.0 - duration)))
    for factor in (0.5, 0.8, 1.2):
        specs.append(CousinSpec(f"speed_x{factor:g}", speed_factor=factor, change_duration=max(1.0, 0.5 * duration)))
    specs.append(CousinSpec("extended_5s", extension=5.0))
    return specs


NON_STRAIGHT_OFFSET_M = 1.0  # a trajectory leaving its start lane line by more than this is not straight
NON_STRAIGHT_HEADING_DEG = 10.0  # nor is one that turns by more than this


def shape_summary(trajectory: Trajectory, log: Trajectory) -> dict[str, float | bool]:
    """Max |curvature| (1/m), max lateral offset from the log's path (m), mean speed (m/s), heading change (deg),
    and whether it counts as non-straight."""
    from recon_carla_bridge.adversary.trajectory import kinematics_of

    reference, _ = logged_frenet(log)
    offsets = np.array([reference.to_frenet(p)[1] for p in trajectory.xy])
    heading = float(np.degrees(trajectory.yaw[-1] - trajectory.yaw[0]))
    offset = float(np.abs(offsets).max())
    return {"max_curvature": float(np.abs(kinematics_of(trajectory).curvature).max()), "max_lateral_offset": offset,
            "mean_speed": float(trajectory.speed.mean()), "heading_change_deg": heading,
            "non_straight": offset > NON_STRAIGHT_OFFSET_M or abs(heading) > NON_STRAIGHT_HEADING_DEG}


def route_xml(routes: dict[str, Trajectory], town: str, spacing: float = 5.0) -> str:
    """Leaderboard (2.0 layout) route XML: one <route> per cousin, positions every `spacing` m along it."""
    root = ET.Element("routes")
    for index, (name, trajectory) in enumerate(routes.items()):
        route = ET.SubElement(root, "route", {"id": str(index), "town": town, "name": name})
        waypoints = ET.SubElement(route, "waypoints")
        travelled = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(trajectory.xy, axis=0), axis=1))])
        marks = np.unique(np.searchsorted(travelled, np.arange(0.0, travelled[-1], spacing)).tolist() + [len(travelled) - 1])
        for i in marks:
            ET.SubElement(waypoints, "position", {"x": f"{trajectory.xy[i, 0]:.2f}", "y": f"{trajectory.xy[i, 1]:.2f}",
                                                  "z": "0.0"})
        ET.SubElement(route, "scenarios")
    ET.indent(root, "   ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
