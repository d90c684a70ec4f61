"""The user-file end to end: a plain CARLA script (BasicAgent across Town01) runs unmodified on
recon_carla_bridge, with only `carla.Client` swapped for `recon_carla_bridge.Client`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_SCRIPT = Path(__file__).resolve().parent / "data" / "user_drive_basic_agent.py"
# The only change from running against a CARLA server: the Client class.
RUNNER = ("import carla, recon_carla_bridge, runpy, sys; carla.Client = recon_carla_bridge.Client; "
          "runpy.run_path(sys.argv[1], run_name='__main__')")


def test_user_script_is_plain_carla_code() -> None:
    text = USER_SCRIPT.read_text()
    assert "recon_carla_bridge" not in text, "the user script must not know about recon_carla_bridge"
    assert "import carla" in text and "from agents.navigation.basic_agent import BasicAgent" in text
    assert "carla.Client('localhost', 2000)" in text and "client.load_world('Town01')" in text


def test_basic_agent_user_script_reaches_its_destination(carla_maps_dir: Path, tmp_path: Path) -> None:
    if not (carla_maps_dir / "Town01.xodr").is_file():
        pytest.skip(f"Town01.xodr not found in {carla_maps_dir}")
    env = dict(os.environ, RECON_CARLA_MAP_DIRS=str(carla_maps_dir))
    completed = subprocess.run([sys.executable, "-c", RUNNER, str(USER_SCRIPT)], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["reached"] is True, result
    assert result["collisions"] == 0, result
    assert result["route_length_m"] >= 280.0, result
    assert result["distance_to_destination_m"] < 5.0, result
    # 300 m at the agent's 30 km/h takes at least 36 s; traffic lights may add to it
    assert 36.0 <= result["sim_time_s"] < 120.0, result
