"""End-to-end: the real srunner code builds and runs ScenarioRunner's example scenarios on our world.

Runs `recon-carla scenario` (the CLI, in-process through `cli.main`) for every example scenario of
the issue whose town is in ../shared/data/carla_maps, and checks the criteria table srunner prints.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXAMPLE_FILES = ("FollowLeadingVehicle", "CutIn", "ChangeLane", "FreeRide", "LeadingVehicle", "ControlLoss")
# srunner's own code cannot build these from the example XMLs on any server:
#  - ChangeLane_2 declares no other actors, and ChangeLane._create_behavior indexes other_actors[1].
#  - OtherLeadingVehicle_5 starts the ego inside a junction of this Town04; srunner's
#    get_waypoint_in_distance stops at junctions, so both other vehicles get the ego's own spot.
KNOWN_SRUNNER_FAILURES = {"ChangeLane_2", "OtherLeadingVehicle_5"}
MAX_SIM_TIME_S = 90.0  # FreeRide scenarios never end by themselves


def _example_scenarios(shared: Path) -> list[tuple[str, str, str]]:
    towns = {p.stem for p in (shared / "carla_maps").glob("*.xodr")}
    found = []
    for stem in EXAMPLE_FILES:
        path = shared / "scenario_runner" / "examples" / f"{stem}.xml"
        for scenario in ET.parse(path).getroot().iter("scenario"):
            if scenario.get("town") in towns:
                found.append((stem, scenario.get("name"), scenario.get("town")))
    return found


def _run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenario", *args],
                          capture_output=True, text=True, timeout=timeout)


def _criteria(stdout: str) -> dict[str, str]:
    """Criterion name -> result from srunner's printed criteria table."""
    results = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if len(cells) >= 3 and cells[2] in ("SUCCESS", "FAILURE", "RUNNING", "TIMEOUT", "ACCEPTABLE"):
            results[re.sub(r" \((Req|Opt)\.\)$", "", cells[1])] = cells[2]
    return results


@pytest.fixture(scope="module")
def example_runs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Run every example scenario once (one process per example file) and collect the outcomes."""
    scenarios = _example_scenarios(shared_data)
    out_dir = tmp_path_factory.mktemp("scenario_runs")
    runs: dict[str, dict] = {}
    for stem, name, town in scenarios:
        summary = out_dir / f"{name}.json"
        result = _run_cli("--scenario", name, "--configFile", str(shared_data / "scenario_runner" / "examples" / f"{stem}.xml"),
                          "--output", "--maxSimTime", str(MAX_SIM_TIME_S), "--summary", str(summary))
        runs[name] = {
            "town": town, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
            "criteria": _criteria(result.stdout),
            "summary": json.loads(summary.read_text()) if summary.exists() else [],
        }
    return runs


def test_every_example_with_a_map_runs_to_the_end(example_runs: dict[str, dict]) -> None:
    """Each scenario is built by srunner, ticked by ScenarioManager and analyzed (criteria printed)."""
    assert len(example_runs) >= 30, sorted(example_runs)
    problems = []
    for name, run in example_runs.items():
        if name in KNOWN_SRUNNER_FAILURES:
            assert run["returncode"] == 1 and "failed to run" in run["stderr"], name
            continue
        if "CollisionTest" not in run["criteria"] or "GLOBAL RESULT" not in run["criteria"]:
            problems.append(f"{name}: no criteria table\n{run['stdout'][-800:]}\n{run['stderr'][-1500:]}")
    assert not problems, "\n".join(problems)


def test_basic_agent_ego_never_collides_in_the_examples(example_runs: dict[str, dict]) -> None:
    """BasicAgent as ego keeps every CollisionTest at SUCCESS."""
    collided = {name: run["criteria"] for name, run in example_runs.items()
                if run["criteria"].get("CollisionTest") not in (None, "SUCCESS")}
    assert not collided, collided


def test_follow_leading_vehicle_1_collision_test_success(example_runs: dict[str, dict]) -> None:
    """The issue's named check: FollowLeadingVehicle_1 ends with CollisionTest SUCCESS, within its timeout."""
    run = example_runs["FollowLeadingVehicle_1"]
    assert run["returncode"] == 0, run["stderr"][-2000:]
    assert run["criteria"]["CollisionTest"] == "SUCCESS"
    assert run["criteria"]["GLOBAL RESULT"] == "SUCCESS"
    assert "All scenario tests were passed successfully!" in run["stdout"]
    outcome = run["summary"][0]
    assert outcome["success"] is True
    assert 5.0 < outcome["game_duration"] < 60.0  # the leader stopped and the ego closed in before the timeout


def test_follow_leading_vehicle_openscenario(shared_data: Path) -> None:
    """FollowLeadingVehicle.xosc (road positions, freespace distance conditions) runs via --openscenario."""
    result = _run_cli("--openscenario", str(shared_data / "scenario_runner" / "examples" / "FollowLeadingVehicle.xosc"),
                      "--output", "--maxSimTime", "120")
    criteria = _criteria(result.stdout)
    assert "GLOBAL RESULT" in criteria, result.stdout[-2000:] + result.stderr[-2000:]
    assert criteria.get("CollisionTest") == "SUCCESS", criteria
    assert re.search(r"Duration \(Game Time\)\s*│\s*[0-9.]+s", result.stdout)


def test_list_prints_the_example_scenarios(shared_data: Path) -> None:
    """--list prints scenario names like scenario_runner.py --list."""
    result = _run_cli("--list", "--examplesDir", str(shared_data / "scenario_runner" / "examples"), timeout=120)
    assert result.returncode == 0
    names = result.stdout.split()
    assert "FollowLeadingVehicle_1" in names and "CutInFrom_left_Lane" in names


def test_cut_in_behaviour_runs_to_its_end(example_runs: dict[str, dict]) -> None:
    """The cut-in car catches up beside the ego and changes into its lane: srunner's behaviour tree ends with
    SUCCESS. (With the ego on a planner route that changed lanes, the car never came within 5 m, its
    AccelerateToCatchUp failed after 500 m and srunner printed 'Terminated due to failure', then SUCCESS
    from the criteria alone.)"""
    for name in ("CutInFrom_left_Lane", "CutInFrom_right_Lane"):
        run = example_runs[name]
        assert "Terminated due to failure" not in run["stdout"], name
        assert run["criteria"]["CollisionTest"] == "SUCCESS", name
        assert run["summary"][0]["game_duration"] < MAX_SIM_TIME_S, f"{name}: the scenario ended by itself"
