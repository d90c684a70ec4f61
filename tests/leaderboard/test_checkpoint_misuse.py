"""Results are never lost or mixed by ordinary misuse of `evaluate`: resuming another agent's run, rerunning without
--resume, two writers, an agent that exits, a results file only its owner can read, and a real Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.checkpoint import (
    Checkpoint,
    releasing_checkpoint_locks,
)
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import evaluate
from recon_carla_bridge.leaderboard.run_identity import run_identity

REPO = Path(__file__).resolve().parents[2]
ROUTES = REPO / "scenarios" / "routes" / "town01_short.xml"
IDS = ["RouteScenario_0_rep0", "RouteScenario_0_rep1"]



def default_sigint() -> None:
    """`preexec_fn` of a child that must see a Ctrl-C: a shell's background job (`cmd &`) starts with SIGINT
    ignored and its children inherit that, so Python would not install its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _agent(tmp_path: Path, run_step: str, name: str = "agent.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent('''
        import sys, time
        import carla
        from leaderboard.autoagents import autonomous_agent

        def get_entry_point():
            return "A"

        class A(autonomous_agent.AutonomousAgent):
            def setup(self, path_to_conf_file):
                self.track = autonomous_agent.Track.SENSORS
            def sensors(self):
                return [{"type": "sensor.speedometer", "id": "speed"}]
            def run_step(self, input_data, timestamp):
    ''') + textwrap.indent(textwrap.dedent(run_step), " " * 8))
    return path


def _config(tmp_path: Path, agent: Path, **overrides) -> EvaluatorConfig:
    values = dict(routes=ROUTES, agent=agent, checkpoint=tmp_path / "results.json", max_route_seconds=1.0,
                  record_video=False, step_timeout=5.0, repetitions=2)
    values.update(overrides)
    return EvaluatorConfig(**values)


def _finished_checkpoint(tmp_path: Path, config: EvaluatorConfig) -> str:
    """A results file with one finished route written by `config`'s run (as if killed during the second)."""
    checkpoint = Checkpoint(config.checkpoint, IDS, resume=False, identity=run_identity(config))
    checkpoint.set_run_info({"agent": str(config.agent)})
    checkpoint.finish_route(0, {"route_id": IDS[0], "status": "Completed", "scores": {}, "meta": {}, "infractions": {}})
    checkpoint.close()
    return config.checkpoint.read_text()


def test_resume_refuses_another_agent_or_other_result_options_and_keeps_the_file(tmp_path: Path) -> None:
    first = _config(tmp_path, _agent(tmp_path, "return carla.VehicleControl(throttle=0.4)"))
    before = _finished_checkpoint(tmp_path, first)
    other_agent = _agent(tmp_path, "return carla.VehicleControl(brake=1.0)", name="other.py")
    cases = [
        (_config(tmp_path, other_agent, resume=True), "agent"),
        (_config(tmp_path, first.agent, resume=True, max_route_seconds=9.0), "--max-route-seconds: checkpoint 1.0, this run 9.0"),
        (_config(tmp_path, first.agent, resume=True, track="MAP"), "--track"),
    ]
    for config, message in cases:
        with pytest.raises(InputError, match=f"cannot --resume.*{message}"):
            Checkpoint(config.checkpoint, IDS, resume=True, identity=run_identity(config)).close()
        assert config.checkpoint.read_text() == before
    first.agent.write_text(first.agent.read_text() + "\n# edited\n")  # same file, new content: another agent
    with pytest.raises(InputError, match="agent file .* changed since"):
        Checkpoint(first.checkpoint, IDS, resume=True, identity=run_identity(_config(tmp_path, first.agent, resume=True)))
    assert first.checkpoint.read_text() == before


def test_rerunning_without_resume_keeps_every_earlier_results_file(tmp_path: Path) -> None:
    """One `.bak` generation lost the first run's results on the third run; backups are never overwritten now."""
    config = _config(tmp_path, _agent(tmp_path, "return carla.VehicleControl()"))
    contents = []
    for _ in range(3):
        contents.append(_finished_checkpoint(tmp_path, config))
    backups = sorted(tmp_path.glob("results.json.bak*"))
    assert [p.name for p in backups] == ["results.json.bak", "results.json.bak.2"]
    assert [p.read_text() for p in backups] == contents[:2]


def test_a_second_writer_is_refused_while_the_first_process_runs(tmp_path: Path) -> None:
    config = _config(tmp_path, _agent(tmp_path, "return carla.VehicleControl()"))
    before = _finished_checkpoint(tmp_path, config)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from recon_carla_bridge.leaderboard.checkpoint import Checkpoint
            checkpoint = Checkpoint({str(config.checkpoint)!r}, {IDS!r}, resume=True)
            print("holding", flush=True)
            time.sleep(60)
        """)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(InputError, match="another evaluation is writing this checkpoint"):
            Checkpoint(config.checkpoint, IDS, resume=True)
        assert config.checkpoint.read_text() == before
    finally:
        holder.kill()
        holder.wait()
    Checkpoint(config.checkpoint, IDS, resume=True).close()  # the lock died with its process


def test_locks_are_released_when_the_evaluation_raises(tmp_path: Path) -> None:
    @releasing_checkpoint_locks
    def failing_evaluation() -> None:
        Checkpoint(tmp_path / "results.json", IDS, resume=False)
        raise RuntimeError("the world failed")

    with pytest.raises(RuntimeError):
        failing_evaluation()
    Checkpoint(tmp_path / "results.json", IDS, resume=True).close()


def test_results_file_follows_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        config = _config(tmp_path, _agent(tmp_path, "return carla.VehicleControl()"))
        _finished_checkpoint(tmp_path, config)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(config.checkpoint.stat().st_mode) == 0o644


@pytest.mark.parametrize(("run_step", "reason"), [("sys.exit(3)", "called sys.exit(3)"),
                                                  ("raise KeyboardInterrupt", "raised KeyboardInterrupt")])
def test_an_agent_that_exits_fails_its_route_not_the_evaluation(shared_data: Path, tmp_path: Path,
                                                                 run_step: str, reason: str) -> None:
    summary = evaluate(_config(tmp_path, _agent(tmp_path, run_step)))
    records = summary.results["_checkpoint"]["records"]
    assert [r["route_id"] for r in records] == IDS  # the second repetition still ran
    assert all(r["status"] == "Failed - Agent crashed" and reason in r["meta"]["failure_reason"] for r in records)


def test_resume_through_evaluate_refuses_another_agent(shared_data: Path, tmp_path: Path) -> None:
    first = _config(tmp_path, _agent(tmp_path, "return carla.VehicleControl(throttle=0.3)"), repetitions=1)
    evaluate(first)
    before = first.checkpoint.read_text()
    other = _agent(tmp_path, "return carla.VehicleControl(brake=1.0)", name="other.py")
    with pytest.raises(InputError, match="cannot --resume"):
        evaluate(_config(tmp_path, other, repetitions=1, resume=True))
    assert first.checkpoint.read_text() == before


def test_a_real_ctrl_c_still_stops_the_evaluation_cleanly(shared_data: Path, tmp_path: Path) -> None:
    agent = _agent(tmp_path, "print('stepping', flush=True)\ntime.sleep(0.2)\nreturn carla.VehicleControl()")
    process = subprocess.Popen(
        [sys.executable, "-m", "recon_carla_bridge.cli", "evaluate", "--routes", str(ROUTES), "--agent", str(agent),
         "--checkpoint", str(tmp_path / "results.json"), "--no-video", "--repetitions", "3"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        for line in process.stdout:
            if "stepping" in line:
                break
        time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert all(record["status"] == "Started" for record in data["_checkpoint"]["records"])  # nothing scored as failed
    Checkpoint(tmp_path / "results.json", [f"RouteScenario_0_rep{i}" for i in range(3)], resume=True).close()
