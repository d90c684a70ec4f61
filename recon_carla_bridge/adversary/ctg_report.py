"""The CTG distribution report of one scene: cousins generated, rejected by cause, and the distributions of curvature,
lateral offset from the logged path, speed and heading change, before (the log) and after (the accepted cousins),
with the share of non-straight trajectories; as JSON and a PNG."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from recon_carla_bridge.adversary.cousins import NON_STRAIGHT_OFFSET_M, Cousin, logged_frenet, shape_summary
from recon_carla_bridge.adversary.frenet import ReferenceLine
from recon_carla_bridge.adversary.trajectory import Trajectory, kinematics_of


def rejection_cause(cousin: Cousin) -> str:
    """'accepted', 'infeasible', 'off_road' or 'collision' (the detail after the cause dropped)."""
    return cousin.rejection.split(":")[0].split(" with")[0] or "accepted"


def start_lane_line(wmap, log: Trajectory) -> ReferenceLine:
    """The centre line of the lane the log starts in, followed straight on (through junctions) well past its end:
    what a trajectory that neither changes lane nor turns stays on."""
    import carla

    from recon_carla_bridge.adversary.lanes import lane_reference

    length = float(np.sum(np.linalg.norm(np.diff(log.xy, axis=0), axis=1)))
    start = wmap.get_waypoint(carla.Location(float(log.xy[0, 0]), float(log.xy[0, 1]), 0.0))
    return lane_reference(start, behind=60.0, ahead=length + 120.0)


def max_offset(trajectory: Trajectory, reference: ReferenceLine) -> float:
    """The largest |lateral offset| (m) of the trajectory from a reference line."""
    return float(max(abs(reference.to_frenet(p)[1]) for p in trajectory.xy[::5]))


def samples(trajectories: list[Trajectory], log: Trajectory, reference: ReferenceLine | None = None
            ) -> dict[str, np.ndarray]:
    """Per-sample |curvature| (1/m), lateral offset (m) from `reference` (default: the logged path) and speed (m/s),
    pooled; per-trajectory heading change (deg)."""
    reference = reference if reference is not None else logged_frenet(log)[0]
    curvature, offset, speed, heading = [], [], [], []
    for trajectory in trajectories:
        curvature.append(np.abs(kinematics_of(trajectory).curvature))
        offset.append(np.array([reference.to_frenet(p)[1] for p in trajectory.xy[::5]]))
        speed.append(trajectory.speed)
        heading.append(float(np.degrees(trajectory.yaw[-1] - trajectory.yaw[0])))
    if not trajectories:
        return {key: np.zeros(0) for key in ("curvature", "lateral_offset", "speed", "heading_change_deg")}
    return {"curvature": np.concatenate(curvature), "lateral_offset": np.concatenate(offset),
            "speed": np.concatenate(speed), "heading_change_deg": np.array(heading)}


def _stats(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    return {"mean": float(values.mean()), "p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "min": float(values.min()), "max": float(values.max())}


def build_report(scene: str, log: Trajectory, cousins: list[Cousin], wmap=None) -> dict:
    """The report's numbers (JSON-ready). With the map, lateral offsets are measured from the log's start lane
    (`start_lane_line`) and a trajectory is non-straight when it leaves that lane line by more than
    NON_STRAIGHT_OFFSET_M (a lane change or a turn, the log's own included); without it, from the logged path."""
    causes = Counter(rejection_cause(c) for c in cousins)
    accepted = [c for c in cousins if not c.rejection]
    reference = start_lane_line(wmap, log) if wmap is not None else None
    before = samples([log], log, reference)
    after = samples([c.trajectory for c in accepted], log, reference)
    shapes = {c.spec.name: shape_summary(c.trajectory, log) for c in accepted}
    if reference is not None:
        def non_straight(trajectory: Trajectory) -> bool:
            return max_offset(trajectory, reference) > NON_STRAIGHT_OFFSET_M
        for c in accepted:
            shapes[c.spec.name]["max_offset_from_start_lane"] = max_offset(c.trajectory, reference)
            shapes[c.spec.name]["non_straight"] = non_straight(c.trajectory)
        log_non_straight = non_straight(log)
    else:
        log_non_straight = bool(shape_summary(log, log)["non_straight"])
    return {
        "scene": scene, "cousins": len(cousins), "accepted": len(accepted),
        "rejected_share": {cause: count / max(1, len(cousins)) for cause, count in sorted(causes.items())
                           if cause != "accepted"},
        "rejections": {c.spec.name: c.rejection for c in cousins if c.rejection},
        "offsets_from": "the log's start lane" if reference is not None else "the logged path",
        "non_straight_share": {"before": float(log_non_straight),
                               "after": sum(bool(s["non_straight"]) for s in shapes.values()) / max(1, len(shapes))},
        "before": {key: _stats(values) for key, values in before.items()},
        "after": {key: _stats(values) for key, values in after.items()},
        "shapes": shapes,
    }


def write_report(scene: str, log: Trajectory, cousins: list[Cousin], folder: Path, wmap=None) -> dict:
    """Write `ctg_<scene>.json` and `ctg_<scene>.png` into `folder` (offsets from the start lane with `wmap`, see
    `build_report`); return the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    report = build_report(scene, log, cousins, wmap)
    (folder / f"ctg_{scene}.json").write_text(json.dumps(report, indent=1))
    accepted = [c for c in cousins if not c.rejection]
    reference = start_lane_line(wmap, log) if wmap is not None else None
    before, after = samples([log], log, reference), samples([c.trajectory for c in accepted], log, reference)
    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    plan = axes[0, 0]
    for cousin in cousins:
        style = dict(color="tab:blue", lw=1.0, alpha=0.8) if not cousin.rejection else dict(color="tab:red", lw=0.6,
                                                                                             ls=":", alpha=0.6)
        plan.plot(cousin.trajectory.xy[:, 0], cousin.trajectory.xy[:, 1], **style)
    plan.plot(log.xy[:, 0], log.xy[:, 1], color="black", lw=2.0, label="log")
    plan.plot([], [], color="tab:blue", label="accepted cousins")
    plan.plot([], [], color="tab:red", ls=":", label="rejected")
    plan.set_aspect("equal", adjustable="datalim")
    plan.invert_yaxis()  # CARLA's y points right of x: draw it as a map
    plan.set_title(f"{scene}: {report['accepted']}/{report['cousins']} cousins accepted")
    plan.legend(fontsize=8)
    panels = [("curvature", "|curvature| (1/m)", axes[0, 1]), ("lateral_offset", f"lateral offset from {report['offsets_from']} (m)",
                                                                 axes[0, 2]),
              ("speed", "speed (m/s)", axes[1, 0]), ("heading_change_deg", "heading change (deg)", axes[1, 1])]
    for key, label, axis in panels:
        values = np.concatenate([before[key], after[key]]) if len(after[key]) else before[key]
        bins = np.histogram_bin_edges(values, bins=30) if np.ptp(values) > 0 else 10
        axis.hist(before[key], bins=bins, density=True, alpha=0.6, color="black", label="before (log)")
        if len(after[key]):
            axis.hist(after[key], bins=bins, density=True, alpha=0.5, color="tab:blue", label="after (cousins)")
        axis.set_xlabel(label)
        axis.legend(fontsize=8)
    bars = axes[1, 2]
    shares = {"accepted": report["accepted"] / max(1, report["cousins"]), **report["rejected_share"]}
    bars.bar(list(shares), list(shares.values()), color=["tab:blue"] + ["tab:red"] * (len(shares) - 1))
    bars.set_ylim(0, 1)
    share = report["non_straight_share"]
    bars.set_title(f"non-straight: before {share['before']:.0%}, after {share['after']:.0%}")
    bars.set_ylabel("share of cousins")
    figure.tight_layout()
    figure.savefig(folder / f"ctg_{scene}.png", dpi=80)
    plt.close(figure)
    return report
