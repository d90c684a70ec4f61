"""Ctrl-C during `recon-carla evaluate`: a clean stop that keeps the finished routes, and --resume goes on."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROUTES = REPO / "scenarios" / "routes" / "town01_short.xml"
AGENT = REPO / "agents" / "leaderboard_agents" / "route_follower_agent.py"



def default_sigint() -> None:
    """`preexec_fn` of a child that must see a Ctrl-C: a shell's background job (`cmd &`) starts with SIGINT
    ignored and its children inherit that, so Python would not install its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _evaluate(checkpoint: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "recon_carla_bridge.cli", "evaluate", "--routes", str(ROUTES), "--agent",
               str(AGENT), "--repetitions", "12", "--no-video", "--no-background-traffic", "--checkpoint",
               str(checkpoint), *extra]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def test_ctrl_c_keeps_finished_routes_and_resume_redoes_none_of_them(shared_data, tmp_path):
    checkpoint = tmp_path / "results.json"
    process = _evaluate(checkpoint)
    lines: list[str] = []
    while not any(line.startswith("> RouteScenario_0_rep0") for line in lines):
        line = process.stdout.readline()
        assert line, "".join(lines) + process.stderr.read()
        lines.append(line)
    process.send_signal(signal.SIGINT)  # during the second repetition (twelve take far longer than this line)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]
    assert "interrupted; the routes that finished are kept" in err and "Traceback" not in err, err[-3000:]
    records = json.loads(checkpoint.read_text())["_checkpoint"]["records"]
    finished = [r for r in records if r and r["status"] != "Started"]
    assert finished and finished[0]["route_id"] == "RouteScenario_0_rep0"

    resumed = _evaluate(checkpoint, "--resume")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err[-3000:]
    redone = [line for line in out.splitlines() if line.startswith("=========")]
    assert not any(r["route_id"] in line for r in finished for line in redone), out  # nothing finished is redone
    records = json.loads(checkpoint.read_text())["_checkpoint"]["records"]
    assert [r["route_id"] for r in records] == [f"RouteScenario_0_rep{k}" for k in range(12)]
    assert records[0] == finished[0]
