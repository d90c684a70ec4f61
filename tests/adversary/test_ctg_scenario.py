"""The CTG scenario class through the CLI: the ego, driven by the behaviour tree's PID tracking of a cousin, ends a
lane-change cousin in the next lane at the cousin's lateral offset, turns where a turn cousin turns, and bad
`<cousin>` input names the element."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.paths import REPO_ROOT

TOWN04 = REPO_ROOT.parent / "shared" / "data" / "carla_maps" / "Town04.xodr"


def _run(tmp_path: Path, config: Path, scenario: str) -> tuple[subprocess.CompletedProcess, Path]:
    trace = tmp_path / "trace.json"
    env = dict(os.environ, RECON_CARLA_DAA_TRACE=str(trace))
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--configFile", str(config),
                             "--scenario", scenario, "--agent", "none", "--output"], capture_output=True, text=True,
                            timeout=600, env=env, cwd=REPO_ROOT, check=False)
    return result, trace


@pytest.mark.skipif(not TOWN04.is_file(), reason="needs ../shared/data/carla_maps/Town04.xodr")
def test_the_ego_follows_a_lane_change_cousin_into_the_left_lane(tmp_path: Path) -> None:
    result, trace = _run(tmp_path, REPO_ROOT / "scenarios" / "CTGTown04.xml", "CTGTown04LaneChangeLeft_1")
    assert "GLOBAL RESULT        │ SUCCESS" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(trace.read_text())["ticks"]
    t = np.array([r["t"] for r in rows])
    ego = np.array([r["ego"] for r in rows])
    wmap = recon_carla_bridge.Client().load_world("Town04").get_map()

    def waypoint(k: int) -> carla.Waypoint:
        return wmap.get_waypoint(carla.Location(float(ego[k, 0]), float(ego[k, 1]), 0.0))

    start = waypoint(0)
    end_of_change = int(np.searchsorted(t, 1.0 + 5.0))  # change_start + change_duration of the XML
    at_end = waypoint(end_of_change)
    assert start.lane_id == -2 and at_end.lane_id == -1  # the lane to the ego's left
    # lateral offset from where the ego started's lane: the full lane width, tracked within 0.3 m
    old_lane = wmap.get_waypoint(carla.Location(float(ego[end_of_change, 0]), float(ego[end_of_change, 1]), 0.0),
                                 lane_type=carla.LaneType.Driving).get_right_lane()
    right = old_lane.transform.get_right_vector()
    delta = np.array([ego[end_of_change, 0] - old_lane.transform.location.x,
                      ego[end_of_change, 1] - old_lane.transform.location.y])
    assert abs(float(delta @ np.array([right.x, right.y])) + 3.5) < 0.3  # 3.5 m to the left
    assert np.linalg.norm(np.diff(ego[:, :2], axis=0), axis=1).max() < 1.0  # driven, not placed


def test_the_ego_turns_left_at_the_crossing_junction(tmp_path: Path) -> None:
    result, trace = _run(tmp_path, REPO_ROOT / "scenarios" / "CTGCrossing.xml", "CTGCrossingTurnLeft_1")
    assert "GLOBAL RESULT        │ SUCCESS" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    ego = np.array([r["ego"] for r in json.loads(trace.read_text())["ticks"]])
    turned = (ego[-1, 2] - ego[0, 2] + 180.0) % 360.0 - 180.0
    assert abs(abs(turned) - 90.0) < 10.0


@pytest.mark.parametrize(("attributes", "message"), [
    ({"turn": "up"}, "turn='up' is not one of"),
    ({"turn": "left", "colour": "red"}, "unknown attribute(s) colour"),
    ({"log_speed": "80"}, "log_speed=80 is outside"),
    ({"lane": "left", "lane_offset": "3"}, "give lane or lane_offset, not both"),
])
def test_bad_cousin_elements_name_the_element_and_field(attributes: dict, message: str) -> None:
    import xml.etree.ElementTree as ET

    from recon_carla_bridge.adversary.ctg_scenario import parse_cousin
    from recon_carla_bridge.errors import InputError

    with pytest.raises(InputError, match="scenario 'X' <cousin>") as error:
        parse_cousin(ET.Element("cousin", attributes), "f.xml: scenario 'X' <cousin>")
    assert message in str(error.value)


def test_a_ctg_scenario_with_a_bad_cousin_exits_with_the_element_named(tmp_path: Path) -> None:
    config = tmp_path / "bad.xml"
    config.write_text((REPO_ROOT / "scenarios" / "CTGCrossing.xml").read_text().replace('turn="left"', 'turn="up"', 1))
    result, _ = _run(tmp_path, config, "CTGCrossingTurnLeft_1")
    assert result.returncode != 0
    assert "scenario 'CTGCrossingTurnLeft_1' <cousin>: turn='up' is not one of" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
