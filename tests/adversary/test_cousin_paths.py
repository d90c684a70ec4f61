"""CTG beyond the logged path, on the bundled Crossing map: one feasible cousin per path through the junction (left
and right turns of about 90 degrees), lane following before and after the log, and a report that shows the
non-straight share rising."""
from __future__ import annotations

import json
from pathlib import Path

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.adversary.cousin_paths import extended_both_ends, lane_drive_log, turn_cousins
from recon_carla_bridge.adversary.cousins import Cousin, check_cousin
from recon_carla_bridge.adversary.lanes import on_drivable_lanes


@pytest.fixture(scope="module")
def crossing():
    wmap = recon_carla_bridge.Client().load_world("Crossing").get_map()
    return wmap, lane_drive_log(wmap, carla.Location(-60.0, 1.75, 0.0), 8.0, 8.0)


def test_turn_cousins_take_every_branch_of_the_junction_within_the_limits(crossing) -> None:
    wmap, log = crossing
    turns = turn_cousins(wmap, log)
    kinds = sorted(spec.name.split("_")[1] for spec in turns)
    assert kinds == ["left", "right", "straight"]
    for spec, trajectory in turns.items():
        verdict = check_cousin(spec, trajectory, [], on_road=lambda xy: on_drivable_lanes(wmap, xy))
        assert verdict.rejection == "", (spec.name, verdict.rejection)
        turned = float(np.degrees(trajectory.yaw[-1] - trajectory.yaw[0]))
        assert abs(turned) < 5 if "straight" in spec.name else abs(abs(turned) - 90.0) < 5
        if "straight" not in spec.name:
            assert trajectory.speed.min() < 0.8 * log.speed.max()  # it slowed for the curve


def test_lane_following_extends_the_log_at_both_ends(crossing) -> None:
    wmap, log = crossing
    extended, lead = extended_both_ends(wmap, log, before=30.0, after=20.0)
    assert lead == pytest.approx(30.0 / log.speed[0], rel=0.05)
    assert np.linalg.norm(extended.xy[0] - log.xy[0]) == pytest.approx(30.0, abs=1.0)
    assert np.linalg.norm(extended.xy[-1] - log.xy[-1]) == pytest.approx(20.0, abs=1.0)
    assert on_drivable_lanes(wmap, extended.xy)


def test_the_distribution_report_shows_more_non_straight_cousins(crossing, tmp_path: Path) -> None:
    from recon_carla_bridge.adversary.ctg_report import write_report
    from recon_carla_bridge.adversary.cousins import CousinSpec

    wmap, log = crossing
    cousins = [Cousin(CousinSpec("log"), log, "")]
    cousins += [Cousin(spec, trajectory, "") for spec, trajectory in turn_cousins(wmap, log).items()]
    cousins.append(Cousin(CousinSpec("bad"), log, "infeasible: jerk"))
    report = write_report("Crossing", log, cousins, tmp_path, wmap)
    assert (tmp_path / "ctg_Crossing.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "ctg_Crossing.json").read_text())["accepted"] == len(cousins) - 1
    assert report["non_straight_share"]["before"] == 0.0 and report["non_straight_share"]["after"] >= 0.5
    assert report["rejected_share"] == {"infeasible": 1 / len(cousins)}
    assert report["after"]["heading_change_deg"]["max"] > 80.0


def test_recon_carla_cousins_writes_routes_and_the_report(tmp_path: Path) -> None:
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    from recon_carla_bridge.paths import REPO_ROOT

    routes = tmp_path / "crossing_cousins.xml"
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "cousins", "Crossing", "--start", "-60",
                             "1.75", "--out", str(routes), "--report", str(tmp_path)], capture_output=True, text=True,
                            timeout=600, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    names = [route.get("name") for route in ET.parse(routes).getroot().iter("route")]
    assert any(name.startswith("turn_left") for name in names) and any(name.startswith("turn_right") for name in names)
    report = json.loads((tmp_path / "ctg_Crossing.json").read_text())
    assert report["non_straight_share"]["after"] > report["non_straight_share"]["before"]
    bad = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "cousins", "Crossing"], capture_output=True,
                         text=True, timeout=600, cwd=REPO_ROOT, check=False)
    assert bad.returncode == 2 and "give --start X Y" in bad.stderr and "Traceback" not in bad.stderr
