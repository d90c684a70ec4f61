"""The real `recon-carla evaluate` command on a leaderboard 1.0 route of the real Town01, in a subprocess.

Checks the results file against the leaderboard 2.0 layout (leaderboard/utils/statistics_manager.py):
what a leaderboard results reader (the leaderboard's own scripts, Bench2Drive's tools) looks up must be there.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agents" / "leaderboard_agents" / "route_follower_agent.py"
INFRACTION_KEYS = {
    "collisions_layout", "collisions_pedestrian", "collisions_vehicle", "red_light", "stop_infraction",
    "outside_route_lanes", "min_speed_infractions", "yield_emergency_vehicle_infractions", "scenario_timeouts",
    "route_dev", "vehicle_blocked", "route_timeout",
}
LABELS = [
    "Avg. driving score", "Avg. route completion", "Avg. infraction penalty", "Collisions with pedestrians",
    "Collisions with vehicles", "Collisions with layout", "Red lights infractions", "Stop sign infractions",
    "Off-road infractions", "Route deviations", "Route timeouts", "Agent blocked",
    "Yield emergency vehicles infractions", "Scenario timeouts", "Min speed infractions",
]


def _cli() -> list[str]:
    """The installed `recon-carla` console script, else the same entry point through the interpreter."""
    script = shutil.which("recon-carla")
    return [script] if script else [sys.executable, "-m", "recon_carla_bridge.cli"]


def test_cli_evaluate_writes_the_leaderboard_results_layout(shared_data, tmp_path):
    routes = shared_data / "leaderboard_1.0" / "routes_devtest.xml"
    scenarios = shared_data / "leaderboard_1.0" / "all_towns_traffic_scenarios_public.json"
    checkpoint = tmp_path / "results.json"
    command = _cli() + ["evaluate", "--routes", str(routes), "--scenarios", str(scenarios), "--routes-subset", "0",
                        "--agent", str(AGENT), "--max-route-seconds", "4", "--no-video",
                        "--checkpoint", str(checkpoint)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Avg. driving score" in done.stdout
    assert "scenario actors spawned: 11; background vehicles spawned: 120" in done.stdout  # Town01's 1.0 amount

    results = json.loads(checkpoint.read_text())
    assert {"_checkpoint", "entry_status", "eligible", "sensors", "values", "labels"} <= set(results)
    assert results["entry_status"] == "Finished" and results["eligible"] is True
    assert results["labels"] == LABELS and len(results["values"]) == len(LABELS)
    assert all(isinstance(value, str) for value in results["values"])  # the leaderboard writes strings
    assert results["sensors"] == ["carla_speedometer"]

    checkpoint_data = results["_checkpoint"]
    assert checkpoint_data["progress"] == [1, 1]
    (record,) = checkpoint_data["records"]
    assert record["route_id"] == "RouteScenario_0_rep0" and record["index"] == 0
    assert record["status"].startswith("Failed")  # stopped by the 4 s cap, far from the end of 762 m
    assert set(record["infractions"]) >= INFRACTION_KEYS
    assert all(isinstance(messages, list) for messages in record["infractions"].values())
    assert record["num_infractions"] == sum(len(m) for m in record["infractions"].values())
    scores = record["scores"]
    assert set(scores) == {"score_route", "score_penalty", "score_composed"}
    assert 0.0 < scores["score_route"] < 10.0  # it drove, but only a few metres of the route
    assert scores["score_composed"] == round(scores["score_route"] * scores["score_penalty"], 6)
    assert {"route_length", "duration_game", "duration_system"} <= set(record["meta"])
    assert 760.0 < record["meta"]["route_length"] < 765.0
    assert 3.9 <= record["meta"]["duration_game"] <= 4.2

    global_record = checkpoint_data["global_record"]
    assert {"index", "route_id", "status", "infractions", "scores_mean", "scores_std_dev", "meta"} <= set(global_record)
    assert set(global_record["infractions"]) >= INFRACTION_KEYS
    assert set(global_record["scores_mean"]) == {"score_composed", "score_route", "score_penalty"}
    assert {"total_length", "duration_game", "duration_system", "exceptions"} <= set(global_record["meta"])
    assert global_record["scores_mean"]["score_route"] == scores["score_route"]
    assert results["values"][0] == str(global_record["scores_mean"]["score_composed"])
    assert global_record["meta"]["exceptions"] == [["RouteScenario_0_rep0", 0, record["status"]]]


def test_the_readme_evaluate_line_works_as_written(shared_data, tmp_path, monkeypatch):
    """The README's evaluate command (the project's agent, default --track SENSORS, towns missing here skipped),
    capped at 1 simulated second per route."""
    import re
    import shlex

    from recon_carla_bridge.cli import main

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    line = re.search(r"`(recon-carla evaluate [^`]+)`", readme).group(1)
    arguments = shlex.split(line)[1:]
    checkpoint = arguments[arguments.index("--checkpoint") + 1]
    monkeypatch.chdir(REPO)
    arguments[arguments.index("--checkpoint") + 1] = str(tmp_path / checkpoint)
    assert main(arguments + ["--max-route-seconds", "1", "--no-video"]) == 0
    results = json.loads((tmp_path / checkpoint).read_text())
    records = results["_checkpoint"]["records"]
    assert [r["route_id"] for r in records] == ["RouteScenario_0_rep0", "RouteScenario_2_rep0"]  # Town01, Town04
    assert not any("Agent" in r["status"] or "Sensors" in r["status"] for r in records), records
    assert results["run"]["skipped_routes"] == ["1 (Town03)", "3 (Town06)"]
