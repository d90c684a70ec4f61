"""The camera student's leaderboard agent: declares only sensors, reads only them, and drives the reconstructed
KITTI 0013 route in `recon-carla evaluate`."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import evaluate
from recon_carla_bridge.paths import REPO_ROOT

AGENT = REPO_ROOT / "agents" / "leaderboard_agents" / "rl_camera_agent.py"
STUDENT = REPO_ROOT / "recon_carla_bridge" / "data" / "policies" / "camera_student_expert6.pt"  # the agent's default
TEACHER = REPO_ROOT / "recon_carla_bridge" / "data" / "policies" / "daa_teacher_rl.pt"
ROUTES = REPO_ROOT / "scenarios" / "routes" / "kitti_0013.xml"
SENSOR_TYPES = {"sensor.camera.rgb", "sensor.speedometer", "sensor.other.imu", "sensor.other.gnss"}


def _agent_module():
    from recon_carla_bridge.leaderboard.alias import install_leaderboard_alias

    install_leaderboard_alias()
    sys.path.insert(0, str(AGENT.parent))
    try:
        spec = importlib.util.spec_from_file_location("rl_camera_agent_under_test", AGENT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(AGENT.parent))


def test_agent_declares_only_sensors_and_reads_no_world() -> None:
    module = _agent_module()
    agent = module.RLCameraAgent(str(STUDENT))
    kinds = {spec["type"] for spec in agent.sensors()}
    assert kinds == SENSOR_TYPES
    camera = next(spec for spec in agent.sensors() if spec["type"] == "sensor.camera.rgb")
    assert (camera["width"], camera["height"]) == (64, 32)
    source = AGENT.read_text(encoding="utf-8")
    for privileged in ("CarlaDataProvider", "get_world", "get_actors", "get_hero_actor", "get_transform"):
        assert privileged not in source, privileged


def test_agent_refuses_a_privileged_checkpoint() -> None:
    module = _agent_module()
    with pytest.raises(InputError, match="not a camera student checkpoint"):
        module.RLCameraAgent(str(TEACHER))


def test_gnss_frame_inverts_the_route_geolocation() -> None:
    module = _agent_module()
    from recon_carla_bridge.leaderboard.api.utils.route_manipulation import location_to_gps
    import carla

    anchor = location_to_gps(49.0, 8.4, carla.Location(10.0, -5.0, 0.0))
    frame = module.GnssFrame(anchor["lat"], anchor["lon"], 10.0, -5.0)
    far = location_to_gps(49.0, 8.4, carla.Location(110.0, 40.0, 0.0))
    x, y = frame.to_world(far["lat"], far["lon"])
    assert math.hypot(x - 110.0, y - 40.0) < 0.2  # m over 110 m


@pytest.mark.slow
def test_camera_student_drives_the_kitti_0013_route(tmp_path: Path) -> None:
    # the camera renders the Gaussians every tick (the leaderboard waits for every sensor each tick): ~40 s on 2 cores
    config = EvaluatorConfig(routes=ROUTES, agent=AGENT, agent_config=str(STUDENT), checkpoint=tmp_path / "results.json",
                             step_timeout=60.0, record_video=False, background_traffic=False)
    summary = evaluate(config)
    record = summary.results["_checkpoint"]["records"][0]
    assert record["meta"]["town"] == "kitti_0013"
    assert record["status"] != "Failed - Agent crashed", record["status"]
    assert record["scores"]["score_route"] > 95.0, record["scores"]  # it drove the whole 114 m route
    assert not any(record["infractions"].values()), record["infractions"]
