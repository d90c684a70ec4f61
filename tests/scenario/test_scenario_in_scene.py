"""ScenarioRunner in a reconstructed scene: town="kitti" opens the bundled scene, its logged traffic
replays, and an agent's camera sees the Gaussian rendering (no ../shared needed)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import recon_carla_bridge
from recon_carla_bridge.paths import REPO_ROOT

AGENT = Path(__file__).resolve().parent / "data" / "shape_logging_agent.py"


def test_load_world_opens_a_bundled_scene_by_name() -> None:
    client = recon_carla_bridge.Client()
    assert "kitti" in client.get_available_maps()
    world = client.load_world("kitti")
    assert world.get_map().name == "kitti"
    logged = [a for a in world.get_actors().filter("vehicle.*") if a.attributes["role_name"].startswith("log_")]
    assert len(logged) >= 10


def test_free_ride_in_the_kitti_scene_with_a_camera_agent(tmp_path: Path) -> None:
    log = tmp_path / "seen.json"
    result = subprocess.run(
        [sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--scenario", "KittiFreeRide_1",
         "--configFile", str(REPO_ROOT / "scenarios" / "KittiScene.xml"), "--agent", str(AGENT),
         "--agentConfig", str(log), "--maxSimTime", "2", "--output"],
        capture_output=True, text=True, timeout=600)
    assert "CollisionTest" in result.stdout and "SUCCESS" in result.stdout, result.stderr[-3000:]
    seen = json.loads(log.read_text())
    assert seen["front"] == [32, 64, 4] and seen["steps"] >= 38
    assert seen["speed"] > 0.5  # it drove off along the logged lane
