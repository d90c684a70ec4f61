"""`recon-carla scenario --agent FILE`: a user's leaderboard-style agent drives the ego unmodified."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AGENT = Path(__file__).resolve().parent / "data" / "shape_logging_agent.py"


def test_leaderboard_agent_file_drives_the_ego_in_a_scenario(shared_data: Path, tmp_path: Path) -> None:
    log = tmp_path / "seen.json"
    result = subprocess.run(
        [sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--scenario", "FollowLeadingVehicle_1",
         "--configFile", str(shared_data / "scenario_runner" / "examples" / "FollowLeadingVehicle.xml"),
         "--agent", str(AGENT), "--agentConfig", str(log), "--maxSimTime", "5", "--output"],
        capture_output=True, text=True, timeout=300)
    assert "CollisionTest" in result.stdout, result.stderr[-3000:]
    seen = json.loads(log.read_text())
    assert seen["front"] == [32, 64, 4]
    assert seen["gps"] == [3] and seen["imu"] == [7]
    assert seen["steps"] >= 95  # every tick of the 5 s run, with data of that tick
    assert 1.0 < seen["speed"] <= 3.6  # it drove from its speedometer
    assert seen["timestamp"] > 4.5
