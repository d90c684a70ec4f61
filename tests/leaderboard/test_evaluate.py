"""End-to-end evaluation on the real Town01 map: an unmodified sensor agent, failures, resume, bad input."""
from __future__ import annotations

import json
import math
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


def _gnss_and_plan_at(town: str, x: float, y: float, yaw: float) -> tuple[tuple[float, float], dict[str, float]]:
    """A GNSS fix of a vehicle parked at (x, y) in the world, and the leaderboard's plan GPS of that place."""
    import carla

    import recon_carla_bridge
    from recon_carla_bridge.leaderboard.api.utils.route_manipulation import (
        latlon_ref_from_opendrive,
        location_to_gps,
    )

    world = recon_carla_bridge.Client().load_world(town)
    library = world.get_blueprint_library()
    ego = world.spawn_actor(library.find("vehicle.lincoln.mkz_2020"),
                            carla.Transform(carla.Location(x, y, 0.5), carla.Rotation(yaw=yaw)))
    gnss = world.spawn_actor(library.find("sensor.other.gnss"), carla.Transform(), attach_to=ego)
    fixes: list = []
    gnss.listen(fixes.append)
    world.tick()
    world.tick()
    lat_ref, lon_ref = latlon_ref_from_opendrive(world.get_map().to_opendrive())
    plan = location_to_gps(lat_ref, lon_ref, ego.get_location())
    gnss.stop()
    return (fixes[-1].latitude, fixes[-1].longitude), plan


def test_gnss_fix_matches_the_global_plan_gps(shared_data):
    """Agents compare GNSS fixes with the plan's GPS points: both must put north at CARLA -y, within 1 m."""
    (lat, lon), plan = _gnss_and_plan_at("Town01", 338.76, 226.45, -90.0)
    metres_per_degree = 111319.5
    assert abs(lon - plan["lon"]) * metres_per_degree < 1.0
    assert abs(lat - plan["lat"]) * metres_per_degree < 1.0


def test_unmodified_sensor_agent_gets_right_shapes_and_drives_from_them(shared_data, tmp_path):
    log_path = tmp_path / "seen.json"
    summary = evaluate(_config(tmp_path, SENSOR_AGENT, agent_config=str(log_path), max_route_seconds=12.0))
    record = summary.results["_checkpoint"]["records"][0]
    assert "Agent crashed" not in record["status"], record["meta"].get("failure_reason")
    seen = json.loads(log_path.read_text())
    assert (seen["front"], seen["gps"], seen["imu"], seen["speed"]) == ([96, 160, 4], [3], [7], "float")
    assert seen["frames_per_step"] == 1  # every sensor's data belongs to the frame being driven
    assert seen["frames"] >= 20 and not seen["camera_blank"]
    assert summary.results["sensors"] == ["carla_camera", "carla_gnss", "carla_imu", "carla_speedometer"]
    assert math.dist(seen["first_gps_local"], seen["plan_start_local"]) < 2.0  # GNSS and plan agree at the start
    # Driving from GNSS, compass and speedometer alone, it follows the 44 m route with its left turn.
    assert max(seen["speeds"]) > 4.0
    assert record["scores"]["score_route"] > 80.0, record
    assert not record["infractions"]["route_dev"] and not record["infractions"]["outside_route_lanes"]


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
            evaluate(_config(tmp_path, overrides.pop("agent", SENSOR_AGENT), resume=True, **overrides))
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
