"""What a route run reports about its inputs: srunner types it lacks, the 1.0 trigger file it uses, its traffic."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from recon_carla_bridge.leaderboard.checkpoint import write_json_atomic
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import evaluate

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "agents" / "leaderboard_agents" / "route_follower_agent.py"
V1_ROUTE = """<routes><route id="0" town="Town01">
    <waypoint x="338.70" y="226.75" z="0.0" pitch="0" roll="0" yaw="-90"/>
    <waypoint x="321.99" y="194.67" z="0.0" pitch="0" roll="0" yaw="180"/>
    <waypoint x="283.69" y="194.78" z="0.0" pitch="0" roll="0" yaw="180"/>
</route></routes>"""


def _run(tmp_path: Path, routes_xml: str, **kwargs) -> dict:
    routes = tmp_path / "routes.xml"
    routes.write_text(routes_xml)
    defaults = dict(routes=routes, agent=AGENT, checkpoint=tmp_path / "results.json", record_video=False,
                    max_route_seconds=0.5, progress_every=0.0)
    summary = evaluate(EvaluatorConfig(**{**defaults, **kwargs}))
    return summary.results


def test_scenario_types_srunner_lacks_are_counted_and_named(shared_data, tmp_path, capsys):
    scenario = """<scenario name="{name}" type="{kind}"><trigger_point x="280.0" y="195.2" z="0.0" yaw="180.0"/>
        </scenario>"""
    routes = f"""<routes><route id="1" town="Town01">
        <waypoints><position x="300.0" y="195.2" z="0.0"/><position x="150.0" y="195.2" z="0.0"/></waypoints>
        <scenarios>{scenario.format(name="Accident_1", kind="Accident")}
                   {scenario.format(name="Accident_2", kind="Accident")}
                   {scenario.format(name="HardBreakRoute_1", kind="HardBreakRoute")}
                   {scenario.format(name="ControlLoss_1", kind="ControlLoss")}</scenarios>
    </route></routes>"""
    results = _run(tmp_path, routes, background_traffic=False)
    scenarios = results["_checkpoint"]["records"][0]["meta"]["scenarios"]
    assert scenarios["missing_types"] == {"Accident": 2, "HardBreakRoute": 1} and scenarios["missing_count"] == 3
    assert scenarios["built"] == ["ControlLoss_1"]
    out = capsys.readouterr().out
    assert "scenarios: 1 of 4 built" in out
    assert "3 skipped, srunner 0.9.11 has no class for: Accident x2, HardBreakRoute x1" in out


def test_a_1_0_route_file_uses_the_public_trigger_file_when_none_is_given(shared_data, tmp_path, capsys):
    results = _run(tmp_path, V1_ROUTE)
    assert results["run"]["scenarios"].endswith("leaderboard_1.0/all_towns_traffic_scenarios_public.json")
    assert "using the public scenario triggers" in capsys.readouterr().out
    record = results["_checkpoint"]["records"][0]
    assert record["meta"]["scenarios"]["built"]  # the route's Scenario1 at (317, 195) from that file
    assert record["meta"]["background_traffic"]["spawned"] == 120  # Town01's leaderboard 1.0 amount


def test_without_any_trigger_file_a_1_0_route_says_loudly_it_runs_without_scenarios(shared_data, tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.setenv("RECON_CARLA_SHARED_DATA", str(tmp_path / "no_shared_data"))
    monkeypatch.setenv("RECON_CARLA_MAP_DIRS", str(shared_data / "carla_maps"))
    results = _run(tmp_path, V1_ROUTE, background_traffic=False)
    err = capsys.readouterr().err
    assert "WARNING" in err and "run WITHOUT their scenarios" in err
    record = results["_checkpoint"]["records"][0]
    assert record["meta"]["scenarios"]["built"] == [] and record["meta"]["background_traffic"]["mode"] == "off"


def test_results_file_follows_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "results.json", {"a": 1})
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "results.json").stat().st_mode)
    assert mode == 0o644, oct(mode)
    assert json.loads((tmp_path / "results.json").read_text()) == {"a": 1}


def test_a_running_route_prints_its_progress(shared_data, tmp_path, capsys):
    import re

    _run(tmp_path, V1_ROUTE, background_traffic=False, max_route_seconds=2.0, progress_every=1e-6)
    lines = [line for line in capsys.readouterr().out.splitlines() if "ticks/s" in line]
    assert len(lines) >= 30  # one a tick at this interval: 2 s at 20 Hz
    assert re.fullmatch(r"  RouteScenario_0_rep0: sim +[\d.]+ s, +[\d.]+ % of \d+ m, \d+ ticks/s \([\d.]+x real time\)",
                        lines[-1]), lines[-1]
