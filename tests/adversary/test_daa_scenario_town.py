"""A DAA scenario end to end through the CLI in a CARLA town: the adversary cuts into the ego's lane ahead
of it, moving as a car (bounded acceleration and yaw rate every tick), and bad scenario input errors clearly."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import carla
import numpy as np
import pytest

import recon_carla_bridge
from recon_carla_bridge.paths import REPO_ROOT

XML = REPO_ROOT / "scenarios" / "DAATown04.xml"
TOWN04 = REPO_ROOT.parent / "shared" / "data" / "carla_maps" / "Town04.xodr"

pytestmark = pytest.mark.skipif(not TOWN04.is_file(), reason="needs ../shared/data/carla_maps/Town04.xodr")


def _run(tmp_path: Path, scenario: str, config: Path = XML) -> tuple[subprocess.CompletedProcess, Path]:
    trace = tmp_path / "trace.json"
    env = dict(os.environ, RECON_CARLA_DAA_TRACE=str(trace))
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--configFile", str(config),
                             "--scenario", scenario, "--output"], capture_output=True, text=True, timeout=600,
                            env=env, cwd=REPO_ROOT)
    return result, trace


def test_cut_in_in_town04_ends_in_the_ego_lane_ahead_without_teleporting(tmp_path: Path) -> None:
    result, trace = _run(tmp_path, "DAACutInRight_Town04")
    assert "DAA cut_in_right: planned" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(trace.read_text())["ticks"]
    t = np.array([r["t"] for r in rows])
    adversary = np.array([r["adversary"] for r in rows])
    ego = np.array([r["ego"] for r in rows])
    # never teleports: per tick, speed changes <= 9 m/s^2 and heading changes <= 0.7 rad/s, no step > 1.5 m
    steps = np.diff(adversary[:, :2], axis=0)
    speed = np.linalg.norm(steps, axis=1) / np.diff(t)
    assert np.abs(np.diff(speed) / np.diff(t)[1:]).max() <= 9.0
    assert np.abs(np.diff(np.unwrap(np.radians(adversary[:, 2]))) / np.diff(t)).max() <= 0.7
    assert np.linalg.norm(steps, axis=1).max() < 1.5
    # it started in the lane to the ego's right and ended in the ego's lane, ahead of it
    wmap = recon_carla_bridge.Client().load_world("Town04").get_map()

    def lane(row: np.ndarray) -> tuple[int, int]:
        waypoint = wmap.get_waypoint(carla.Location(float(row[0]), float(row[1]), 0.0))
        return waypoint.road_id, waypoint.lane_id

    assert lane(adversary[0]) != lane(ego[0])
    assert lane(adversary[-1]) == lane(ego[-1])
    heading = np.array([math.cos(math.radians(ego[-1, 2])), math.sin(math.radians(ego[-1, 2]))])
    assert float(heading @ (adversary[-1, :2] - ego[-1, :2])) > 5.0


@pytest.mark.parametrize(("old", "new", "message"), [
    ('manoeuvre="brake_check"', 'manoeuvre="brake_chek"', "<adversary>: unknown manoeuvre 'brake_chek'"),
    ('manoeuvre="brake_check"', 'manoeuvre="brake_check" actor="behind"',
     "<adversary>: actor='behind': no vehicle behind of the ego"),
])
def test_a_daa_scenario_with_bad_adversary_input_names_the_element(tmp_path: Path, old: str, new: str,
                                                                     message: str) -> None:
    config = tmp_path / "bad.xml"
    config.write_text(XML.read_text().replace(old, new))
    result, _ = _run(tmp_path, "DAABrakeCheck_Town04", config)
    assert result.returncode != 0
    assert f"scenario 'DAABrakeCheck_Town04' {message}" in result.stdout + result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # loads the reconstructed scene (~1-5 min on 2 shared cores)
def test_cut_in_in_the_kitti_scene_takes_over_the_logged_car_on_the_left() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        result, trace = _run(Path(folder), "DAAKittiCutInLeft_1", REPO_ROOT / "scenarios" / "DAAKitti.xml")
        assert "DAA cut_in_left: planned" in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
        recorded = json.loads(trace.read_text())
    assert recorded["adversary_role"].startswith("log_")  # a logged vehicle, taken over
    rows = recorded["ticks"]
    ego = np.array([r["ego"] for r in rows])
    adversary = np.array([r["adversary"] for r in rows])
    wmap = recon_carla_bridge.Client().load_world("kitti").get_map()

    def lane_id(row: np.ndarray) -> int:
        return wmap.get_waypoint(carla.Location(float(row[0]), float(row[1]), 0.0)).lane_id

    assert lane_id(adversary[0]) != lane_id(ego[0]) and lane_id(adversary[-1]) == lane_id(ego[-1])
    assert adversary[-1, 0] > ego[-1, 0] + 5.0  # ahead of the ego (the scene's lanes run along +x)
