"""Routes in worker processes and on Ray: the same records as one after another in this process, whatever order
the routes end in; a route whose process dies natively fails with the signal named and the others go on; a killed
parallel run leaves a valid checkpoint that --resume completes; bad --workers / --ray-address change nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recon_carla_bridge.cli import main
from recon_carla_bridge.leaderboard.checkpoint import read_results
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import evaluate
from recon_carla_bridge.leaderboard.execution import ExecutionSettings

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).with_name("data")
ROUTES = DATA / "crossing_four.xml"  # 110, 30, 70 and 40 m on the bundled Crossing map
AGENT = DATA / "noisy_route_agent.py"  # route follower + noise from `random` and NumPy's global generator
ROUTE_IDS = [f"RouteScenario_{k}_rep0" for k in range(4)]


def _config(folder: Path, agent_config: str = "", **overrides: Any) -> EvaluatorConfig:
    values = dict(routes=ROUTES, agent=AGENT, checkpoint=folder / "results.json", record_video=False,
                  step_timeout=20.0, agent_config=agent_config, progress_every=0.0)
    values.update(overrides)
    return EvaluatorConfig(**values)


def _agent_config(folder: Path, settings: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "agent.json"
    path.write_text(json.dumps(settings))
    return str(path)


def _comparable(records: list[dict]) -> dict[str, dict]:
    """Records by route id without their wall-clock field."""
    records = json.loads(json.dumps(records))
    for record in records:
        record["meta"].pop("duration_system")
    return {record["route_id"]: record for record in records}


def _episodes(checkpoint: Path) -> dict[str, dict[str, np.ndarray]]:
    folder = checkpoint.with_name(checkpoint.stem + "_routes")
    episodes = {}
    for path in sorted(folder.glob("*/episode.npz")):
        with np.load(path) as data:
            episodes[path.parent.name] = {key: data[key] for key in data.files}
    return episodes


def _same_episodes(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(
        first[route].keys() == second[route].keys()
        and all(np.array_equal(first[route][key], second[route][key]) for key in first[route])
        for route in first)


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], dict]:
    """The four routes one after another in this process (today's evaluation): records and episodes."""
    folder = tmp_path_factory.mktemp("sequential")
    summary = evaluate(_config(folder))
    records = summary.results["_checkpoint"]["records"]
    assert [r["route_id"] for r in records] == ROUTE_IDS
    assert all(r["scores"]["score_route"] == 100.0 for r in records), records  # the agent drove every route
    return _comparable(records), _episodes(folder / "results.json")


def test_two_workers_give_the_records_of_one_worker_and_of_the_sequential_run(sequential, tmp_path, capsys):
    records, episodes = sequential
    runs = {}
    for workers in (1, 2):
        folder = tmp_path / f"workers{workers}"
        summary = evaluate(_config(folder), ExecutionSettings(workers=workers))
        finished = [line[2:].split(":")[0] for line in capsys.readouterr().out.splitlines() if line.startswith("> ")]
        stored = summary.results["_checkpoint"]["records"]
        runs[workers] = (finished, _comparable(stored), _episodes(folder / "results.json"))
        assert [r["route_id"] for r in stored] == ROUTE_IDS  # stored in route order
        assert json.loads((folder / "results.json").read_text())["_checkpoint"]["records"] == stored
    assert runs[1][0] == ROUTE_IDS
    assert runs[2][0] != ROUTE_IDS and sorted(runs[2][0]) == ROUTE_IDS  # the 30 m route ended before the 110 m one
    for workers in (1, 2):
        assert runs[workers][1] == records, workers  # scores, infractions, metrics: identical
        assert _same_episodes(runs[workers][2], episodes), workers  # trajectories, actors, controls: identical


def test_a_native_crash_of_the_agent_fails_its_route_with_the_signal_and_the_others_finish(sequential, tmp_path):
    """`--workers 1`: each route in its own process, so a SIGSEGV or os._exit of the agent is contained."""
    records, _ = sequential
    faults = {"faults": {"-40,2": "segv", "-2,-40": "exit", "2,40": "sys_exit"}}  # routes 1, 2, 3 (first plan point)
    summary = evaluate(_config(tmp_path, _agent_config(tmp_path, faults)), ExecutionSettings(workers=1))
    stored = summary.results["_checkpoint"]["records"]
    assert [r["route_id"] for r in stored] == ROUTE_IDS
    crashed = {r["route_id"]: r for r in stored[1:]}
    assert all(r["status"] == "Failed - Agent crashed" for r in crashed.values())
    assert "killed by SIGSEGV (signal 11) during agent run_step" in crashed[ROUTE_IDS[1]]["meta"]["failure_reason"]
    assert "exited with code 7 during agent run_step" in crashed[ROUTE_IDS[2]]["meta"]["failure_reason"]
    assert "called sys.exit(5)" in crashed[ROUTE_IDS[3]]["meta"]["failure_reason"]
    assert 0 < crashed[ROUTE_IDS[1]]["scores"]["score_route"] < 10  # completion reached before the 20th step
    assert _comparable(stored)[ROUTE_IDS[0]] == records[ROUTE_IDS[0]]  # the route without a fault: unchanged
    assert main(["report", str(tmp_path / "results.json"), "--no-video"]) == 0  # reads it like a sequential run
    page = (tmp_path / "results_report" / "index.html").read_text()
    assert all(route_id in page for route_id in ROUTE_IDS) and "killed by SIGSEGV" in page


def _read_until(process: subprocess.Popen, text: str, seen: list[str], timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "".join(seen) + process.stderr.read()
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no line with {text!r} within {timeout} s:\n" + "".join(seen))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _find(process: subprocess.Popen, text: str, seen: list[str], occurrence: int = 1) -> str:
    """The `occurrence`-th line of the output holding `text` (read on as far as needed)."""
    while True:
        matches = [line for line in seen if text in line]
        if len(matches) >= occurrence:
            return matches[occurrence - 1]
        _read_until(process, "", seen)


def _pid(line: str) -> int:
    return int(line.split()[-1])


def test_a_killed_worker_runs_its_route_once_more_and_a_killed_run_resumes(sequential, tmp_path):
    """SIGKILL (the OOM killer's signal) on a route process: the route runs once more (same record as a
    sequential run's); a second SIGKILL fails it, naming the signal; then the whole evaluation is killed: the
    checkpoint stays valid, no route process is left, and --resume completes the run."""
    records, _ = sequential
    slow = {"80,-2": 0.01, "-40,2": 0.03, "-2,-40": 0.03}  # s per step on routes 0, 1, 2: time to kill them
    command = [sys.executable, "-m", "recon_carla_bridge.cli", "evaluate", "--routes", str(ROUTES), "--agent",
               str(AGENT), "--agent-config", _agent_config(tmp_path, {"sleep": slow}), "--checkpoint",
               str(tmp_path / "results.json"), "--no-video", "--timeout", "20", "--workers", "2"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    running = [f"RouteScenario_{k}_rep0: running in process" for k in range(3)]
    seen: list[str] = []
    try:
        first = [_pid(_find(process, running[k], seen)) for k in (0, 1)]
        time.sleep(1.0)
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        for k in (0, 1):
            _find(process, f"RouteScenario_{k}_rep0: the route's process was killed by SIGKILL (signal 9)", seen)
        again = _pid(_find(process, running[0], seen, occurrence=2))
        time.sleep(1.0)
        os.kill(again, signal.SIGKILL)  # the second time: route 0 fails
        assert "Failed" in _find(process, "> RouteScenario_0_rep0", seen)
        assert "Completed" in _find(process, "> RouteScenario_1_rep0", seen)  # its second run ended normally
        survivor = _pid(_find(process, running[2], seen))
        time.sleep(0.5)
        process.kill()  # the whole evaluation dies mid-route
        process.wait(30)
        deadline = time.monotonic() + 10
        while _alive(survivor) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(survivor)  # no orphan route process drives on
    finally:
        process.kill()
        process.communicate()
    killed = _comparable(read_results(tmp_path / "results.json")["_checkpoint"]["records"])  # valid after the kill
    assert "killed by SIGKILL (signal 9)" in killed[ROUTE_IDS[0]]["meta"]["failure_reason"]
    assert "killed by SIGKILL (signal 9)" in killed[ROUTE_IDS[0]]["meta"]["retried_after"]
    assert "killed by SIGKILL (signal 9)" in killed[ROUTE_IDS[1]]["meta"].pop("retried_after")
    assert killed[ROUTE_IDS[1]] == records[ROUTE_IDS[1]]  # run once more: the sequential run's record
    assert killed[ROUTE_IDS[2]]["status"] == "Started"

    resumed = subprocess.run(command + ["--resume"], cwd=REPO, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "RouteScenario_0_rep0 (" not in resumed.stdout  # the finished (failed) route is not redone
    final = json.loads((tmp_path / "results.json").read_text())
    assert final["entry_status"] != "Started"
    stored = _comparable(final["_checkpoint"]["records"])
    assert list(stored) == ROUTE_IDS
    assert stored[ROUTE_IDS[0]]["meta"]["exit"] == "was killed by SIGKILL (signal 9)"
    stored[ROUTE_IDS[1]]["meta"].pop("retried_after")
    for route_id in ROUTE_IDS[1:]:
        assert stored[route_id] == records[route_id], route_id


def test_ctrl_c_stops_a_parallel_run_cleanly_and_keeps_what_finished(tmp_path):
    """A terminal's Ctrl-C reaches the whole process group: the route processes ignore it, the evaluation stops
    them and exits 130; the routes they ran stay 'Started' (not scored as failed), so --resume redoes them."""
    command = [sys.executable, "-m", "recon_carla_bridge.cli", "evaluate", "--routes", str(ROUTES), "--agent",
               str(AGENT), "--agent-config", _agent_config(tmp_path, {"sleep": {"80,-2": 0.05, "-40,2": 0.05}}), "--checkpoint",
               str(tmp_path / "results.json"), "--no-video", "--workers", "2"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen: list[str] = []
    try:
        workers = [_pid(_find(process, f"RouteScenario_{k}_rep0: running in process", seen)) for k in (0, 1)]
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and "interrupted; the routes that finished are kept" in err, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    records = read_results(tmp_path / "results.json")["_checkpoint"]["records"]
    assert [r["status"] for r in records[:2]] == ["Started", "Started"]
    assert not any(_alive(pid) for pid in workers)


@pytest.mark.parametrize(("flags", "message"), [
    (["--workers", "0"], "--workers must be >= 1, got 0"),
    (["--workers", "-3"], "--workers must be >= 1, got -3"),
    (["--ray-address", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
    (["--ray-address", "10.255.255.1:6379"], "10.255.255.1:6379"),  # unroutable, or a port that is not Ray's
    (["--ray-address", "no-port"], "expected 'local', 'auto', HOST:PORT"),
])
def test_bad_workers_or_ray_address_exit_2_fast_and_write_nothing(tmp_path, capsys, flags, message):
    checkpoint = tmp_path / "results.json"
    checkpoint.write_text(json.dumps({"_checkpoint": {"records": [], "progress": [0, 4], "global_record": {}},
                                      "entry_status": "Started", "keep": "me"}))
    before = checkpoint.read_text()
    start = time.monotonic()
    code = main(["evaluate", "--routes", str(ROUTES), "--agent", str(AGENT), "--checkpoint", str(checkpoint),
                 "--no-video", *flags])
    assert code == 2
    assert time.monotonic() - start < 15.0  # an address that does not answer is not a hang
    assert message in capsys.readouterr().err
    assert checkpoint.read_text() == before
    assert not list(tmp_path.glob("results.json.bak*")) and not (tmp_path / "results_routes").exists()


@pytest.mark.skipif(not os.environ.get("RECON_CARLA_SLOW_TESTS"),
                    reason="starts a local Ray cluster (~30 s on 2 shared cores); RECON_CARLA_SLOW_TESTS=1 runs it")
def test_a_local_ray_cluster_gives_the_sequential_records(sequential, tmp_path):
    ray = pytest.importorskip("ray")
    records, episodes = sequential
    try:
        ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}})
    except Exception as error:  # noqa: BLE001 — e.g. googleapis-common-protos too new for protobuf<5 kills Ray's agent
        pytest.skip(f"a local Ray cluster does not start in this environment: {error}")
    try:
        summary = evaluate(_config(tmp_path), ExecutionSettings(ray_address="local"))
    finally:
        ray.shutdown()
    assert _comparable(summary.results["_checkpoint"]["records"]) == records
    assert _same_episodes(_episodes(tmp_path / "results.json"), episodes)


def test_a_routes_scenario_clock_starts_at_zero_whatever_ran_before(shared_data):
    """srunner's GameTime only moves forward with frame numbers: a previous route's last frame (larger than a
    fresh world's) froze it, and a scenario's timeouts then depended on the routes run before in the process."""
    import carla

    import recon_carla_bridge
    from recon_carla_bridge.compat_imports import install_srunner_alias
    from recon_carla_bridge.leaderboard.agent_host import register_hero
    from recon_carla_bridge.leaderboard.planning import plan_route
    from recon_carla_bridge.leaderboard.routes import parse_routes_file
    from recon_carla_bridge.leaderboard.scenario_host import ScenarioHost

    install_srunner_alias()
    from srunner.scenariomanager.timer import GameTime

    routes = Path(shared_data) / "leaderboard_1.0" / "routes_training.xml"
    (route,) = parse_routes_file(routes, Path(shared_data) / "leaderboard_1.0" / "all_towns_traffic_scenarios_public.json",
                                 "3")
    world = recon_carla_bridge.Client().load_world(route.town)
    settings = world.get_settings()
    settings.synchronous_mode, settings.fixed_delta_seconds = True, 0.05
    world.apply_settings(settings)
    planned = plan_route(route, world.get_map(), 0)
    assert planned.scenarios
    start = planned.route[0][0]
    ego = world.spawn_actor(world.get_blueprint_library().find("vehicle.lincoln.mkz_2020"),
                            carla.Transform(carla.Location(start.location.x, start.location.y, start.location.z + 0.5),
                                            start.rotation))
    register_hero(world, ego, planned.route)
    GameTime._last_frame, GameTime._current_game_time = 10**6, 500.0  # as a long previous route leaves it
    host = ScenarioHost(world, ego, planned)
    try:
        assert host.built and host.tree is not None, host.skipped
        for _ in range(10):
            world.tick()
            host.tick(world.get_snapshot())
        assert 0.0 < GameTime.get_time() <= 10 * 0.05 + 1e-9  # counted from this route's start, and moving
    finally:
        host.close()
