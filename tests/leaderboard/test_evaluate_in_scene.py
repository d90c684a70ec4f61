"""The evaluator in the bundled reconstructed KITTI scene (no ../shared needed): scenarios/routes/kitti.xml
with a camera agent gives a video of the Gaussian rendering and scores; the same route runs through
`recon-carla scenario --route`; and the episode loop stepped from outside drives exactly as the evaluator."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

import recon_carla_bridge
from recon_carla_bridge.leaderboard.agent_host import (
    agent_class_of,
    build_agent,
    load_agent_module,
    plan_sample_distance,
)
from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.evaluator import evaluate
from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.leaderboard.route_runner import RouteEpisode
from recon_carla_bridge.leaderboard.routes import parse_routes_file
from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.scene.scene_world import load_place_map

ROUTES = REPO_ROOT / "scenarios" / "routes" / "kitti.xml"
TRIGGERS = REPO_ROOT / "scenarios" / "routes" / "kitti_scenarios.json"
CAMERA_AGENT = Path(__file__).with_name("data") / "small_camera_agent.py"
ROUTE_FOLLOWER = REPO_ROOT / "agents" / "leaderboard_agents" / "route_follower_agent.py"


def test_evaluate_a_camera_agent_in_the_kitti_scene(tmp_path: Path) -> None:
    config = EvaluatorConfig(routes=ROUTES, agent=CAMERA_AGENT, checkpoint=tmp_path / "results.json",
                             max_route_seconds=1.0, step_timeout=30.0)
    summary = evaluate(config)
    record = summary.results["_checkpoint"]["records"][0]
    assert record["meta"]["town"] == "kitti"
    assert record["meta"]["front_video"] == "agent camera 'front'"
    assert 0.0 <= record["scores"]["score_composed"] <= 100.0 and "metrics" in record
    artifacts = config.artifacts_dir / record["route_id"]
    frames = [frame for frame in imageio.get_reader(str(artifacts / "front.mp4"))]
    assert len(frames) >= 9  # 10 Hz for 1 s
    assert frames[-1].std() > 15  # the rendered street, not a schematic or a flat image
    episode = Episode.load(artifacts / "episode.npz")
    assert episode.town == "kitti" and episode.ego_pose[-1, 0] > episode.ego_pose[0, 0] + 0.3  # it drove


def test_the_same_route_runs_through_scenario_route(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recon_carla_bridge.cli", "scenario", "--route", str(ROUTES), str(TRIGGERS), "0",
         "--agent", str(CAMERA_AGENT), "--maxSimTime", "1", "--output"],
        capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert "Traceback" not in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    assert "RouteCompletionTest" in result.stdout and "CollisionTest" in result.stdout, result.stdout[-3000:]
    timeout_row = next(line for line in result.stdout.splitlines() if "Timeout (Req.)" in line)
    assert float(timeout_row.split("│")[4]) >= 1.0  # it ran its second of simulated time


def test_stepping_the_route_from_outside_drives_as_the_evaluator(tmp_path: Path) -> None:
    config = EvaluatorConfig(routes=ROUTES, agent=ROUTE_FOLLOWER, checkpoint=tmp_path / "results.json",
                             max_route_seconds=3.0, record_video=False, seed=3, track="SENSORS")
    evaluate(config)
    evaluated = Episode.load(config.artifacts_dir / "RouteScenario_0_rep0" / "episode.npz")

    route = parse_routes_file(ROUTES)[0]
    world_map = load_place_map(route.town)
    planned = plan_route(route, world_map, config.seed)
    world = recon_carla_bridge.Client().load_world(route.town)
    episode = RouteEpisode(world, world_map, planned, config, tmp_path / "outside")
    agent = build_agent(agent_class_of(load_agent_module(ROUTE_FOLLOWER)), "", planned.gps_route, planned.route,
                        plan_sample_distance(planned.config.format))
    observation = episode.runner.reset(episode.task, seed=config.seed, sensors=agent.sensors())
    assert set(observation.input_data) == {"speed"}  # an outside stepper gets the sensor data (SENSORS track)
    done = False
    while not done:
        result = episode.runner.step(agent.run_step(observation.input_data, observation.time))
        observation, done = result.observation, result.done
    episode.runner.close()
    outside = episode.episode(episode.criteria.events())
    assert outside.length == evaluated.length
    assert np.abs(outside.ego_pose - evaluated.ego_pose).max() < 1e-9
    assert evaluated.ego_pose[-1, 0] - evaluated.ego_pose[0, 0] > 2.0  # the route follower drove
    assert json.dumps(outside.events) == json.dumps(evaluated.events)
