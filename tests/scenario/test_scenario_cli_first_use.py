"""What a new user hits first with `recon-carla scenario` and `demo`: listings, typos, runs that end, Ctrl-C."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from recon_carla_bridge.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_list_shows_types_and_towns_and_marks_missing_maps(shared_data, capsys):
    assert main(["scenario", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["scenario", "type", "town"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["FollowLeadingVehicle_1"].split()[1:] == ["FollowLeadingVehicle", "Town01"]
    assert rows["KittiFreeRide_1"].split()[1:] == ["FreeRide", "kitti"]
    assert rows["FreeRide_3"].endswith("Town03 (no map here)")  # not in ../shared/data/carla_maps


def test_a_typo_gets_suggestions_not_a_search_failure(shared_data, capsys):
    assert main(["scenario", "--scenario", "FollowLeadingVehicl_1"]) == 2
    error = capsys.readouterr().err
    assert "scenario 'FollowLeadingVehicl_1' not found" in error and "did you mean FollowLeadingVehicle_1" in error


def test_demo_refuses_a_zero_duration_and_gsplat_without_cuda_with_a_message(capsys):
    assert main(["demo", "--duration", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --duration must be > 0, got 0.0"
    import torch

    if not torch.cuda.is_available():
        assert main(["demo", "--render-backend", "gsplat", "--duration", "1"]) == 2
        assert "--render-backend gsplat needs a CUDA GPU" in capsys.readouterr().err


def _scenario_process(*arguments: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "recon_carla_bridge.cli", "scenario", *arguments]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_free_ride_ends_by_itself(shared_data, tmp_path):
    """FreeRide never ends in srunner: without --maxSimTime it stops after the default cap and passes."""
    process = _scenario_process("--scenario", "FreeRide_1", "--agent", "none")
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    assert "FreeRide scenario, which never ends: stopping it after 20 simulated seconds" in out
    assert "All scenario tests were passed successfully!" in out


def test_ctrl_c_stops_a_run_keeping_its_result(shared_data, tmp_path):
    """A first Ctrl-C while a scenario runs ends it as scenario_runner.py does (criteria analysed, JSON written),
    starts no further repetition, and the process exits without a traceback."""
    process = _scenario_process("--scenario", "FreeRide_1", "--agent", "none", "--maxSimTime", "100000", "--json",
                                "--outputDir", str(tmp_path), "--repetitions", "3")
    lines = []
    while not any("Running scenario" in line for line in lines):
        line = process.stdout.readline()
        assert line, "".join(lines) + process.stderr.read()
        lines.append(line)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    out = "".join(lines) + out
    assert "Ctrl-C: stopping the running scenario" in err, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert list(tmp_path.glob("FreeRide_1*.json")), out[-2000:]  # the interrupted run's results were written
    assert out.count("Running scenario") == 1  # and no other repetition was started
