"""End-to-end evaluation on the real Town01 map: an unmodified sensor agent, failures, resume, bad input."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from recon_carla_bridge.cli import main
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import SensorsRejected, evaluate

REPO = Path(__file__).resolve().parents[2]
ROUTES = REPO / "scenarios" / "routes" / "town01_short.xml"
SENSOR_AGENT = Path(__file__).with_name("data") / "sensor_check_agent.py"


def _config(tmp_path: Path, agent: Path, **kwargs) -> EvaluatorConfig:
    defaults = dict(routes=ROUTES, agent=agent, checkpoint=tmp_path / "results.json", max_route_seconds=6.0,
                    record_video=False, step_timeout=5.0)
    defaults.update(kwargs)
    return EvaluatorConfig(**defaults)


def _agent_file(tmp_path: Path, body: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent('''
        import time
        import carla
        from leaderboard.autoagents import autonomous_agent

        def get_entry_point():
            return "A"

        class A(autonomous_agent.AutonomousAgent):
            def setup(self, path_to_conf_file):
                self.track = autonomous_agent.Track.SENSORS
            def sensors(self):
                return [{"type": "sensor.speedometer", "id": "speed"}]
    ''') + textwrap.indent(textwrap.dedent(body), "    "))
    return path


def test_unmodified_sensor_agent_gets_right_shapes_and_drives(shared_data, tmp_path):
    log = tmp_path / "shapes.json"
    summary = evaluate(_config(tmp_path, SENSOR_AGENT, agent_config=str(log)))
    record = summary.results["_checkpoint"]["records"][0]
    assert "Agent crashed" not in record["status"], record["meta"].get("failure_reason")
    seen = json.loads(log.read_text())
    assert seen == {"front": [96, 160, 4], "gps": [3], "imu": [7], "speed": "float", "frames": 1}
    assert record["meta"]["duration_game"] > 5.0  # it ran for the whole capped route
    assert summary.results["sensors"] == ["carla_camera", "carla_gnss", "carla_imu", "carla_speedometer"]


@pytest.mark.parametrize("body, reason", [
    ("def run_step(self, input_data, timestamp):\n    raise ValueError('boom')", "ValueError: boom"),
    ("def run_step(self, input_data, timestamp):\n    time.sleep(30)", "did not return within"),
    ("def run_step(self, input_data, timestamp):\n    return 'full throttle'", "not carla.VehicleControl"),
])
def test_failing_agent_fails_the_route_with_reason_and_evaluation_goes_on(shared_data, tmp_path, body, reason):
    agent = _agent_file(tmp_path, body)
    summary = evaluate(_config(tmp_path, agent, repetitions=2, step_timeout=1.0))
    records = summary.results["_checkpoint"]["records"]
    assert len(records) == 2  # the second repetition still ran
    for record in records:
        assert record["status"] == "Failed - Agent crashed"
        assert reason in record["meta"]["failure_reason"]


def test_resume_keeps_finished_routes(shared_data, tmp_path):
    agent = _agent_file(tmp_path, "def run_step(self, input_data, timestamp):\n    return carla.VehicleControl(throttle=0.4)")
    config = _config(tmp_path, agent, repetitions=2, max_route_seconds=2.0)
    evaluate(config)
    data = json.loads(config.checkpoint.read_text())
    first = data["_checkpoint"]["records"][0]
    data["_checkpoint"]["records"] = [first]  # as if killed during the second route
    data["_checkpoint"]["progress"] = [1, 2]
    config.checkpoint.write_text(json.dumps(data))
    resumed = evaluate(EvaluatorConfig(**{**config.__dict__, "resume": True}))
    records = resumed.results["_checkpoint"]["records"]
    assert [r["route_id"] for r in records] == ["RouteScenario_0_rep0", "RouteScenario_0_rep1"]
    assert records[0] == first


def test_bad_inputs_give_clear_errors_and_keep_the_checkpoint(shared_data, tmp_path):
    checkpoint = tmp_path / "results.json"
    checkpoint.write_text(json.dumps({"_checkpoint": {"records": [], "progress": [0, 1], "global_record": {}},
                                      "entry_status": "Started", "keep": "me"}))
    before = checkpoint.read_text()
    bad_xml = tmp_path / "bad.xml"
    bad_xml.write_text("<routes><route id='0' town='Town01'><waypoint x='1' y='2'></routes>")
    off_map = tmp_path / "off_map.xml"
    off_map.write_text("<routes><route id='7' town='Town01'><waypoints><position x='338.7' y='226.75' z='0'/>"
                       "<position x='5000' y='5000' z='0'/></waypoints></route></routes>")
    cases = [
        (dict(routes=bad_xml), "malformed route XML"),
        (dict(routes=off_map), "route id=7 waypoint #1"),
        (dict(agent=tmp_path / "missing_agent.py"), "agent file not found"),
    ]
    for overrides, message in cases:
        with pytest.raises(InputError, match=message):
            evaluate(_config(tmp_path, SENSOR_AGENT, resume=True, **overrides))
        assert checkpoint.read_text() == before
    assert main(["evaluate", "--routes", str(bad_xml), "--agent", str(SENSOR_AGENT),
                 "--checkpoint", str(checkpoint)]) == 2
    assert checkpoint.read_text() == before


def test_sensors_breaking_the_rules_are_rejected_clearly(shared_data, tmp_path):
    agent = _agent_file(tmp_path, '''
        def sensors(self):
            return [{"type": "sensor.other.gnss", "x": 3.0, "y": 1.0, "z": 1.0, "id": "far"}]
    ''')
    with pytest.raises(SensorsRejected, match="Max allowed radius is 3.0m"):
        evaluate(_config(tmp_path, agent))
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["entry_status"] == "Rejected"
    assert data["_checkpoint"]["records"][0]["status"] == "Failed - Agent's sensors were invalid"
