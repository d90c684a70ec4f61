"""The committed RL teacher (a privileged agent) drives a Town04 route through the leaderboard evaluator."""
from __future__ import annotations

from pathlib import Path

from recon_carla_bridge.leaderboard.config import EvaluatorConfig
from recon_carla_bridge.leaderboard.evaluator import evaluate
from recon_carla_bridge.paths import REPO_ROOT

AGENT = REPO_ROOT / "agents" / "leaderboard_agents" / "rl_teacher_agent.py"
ROUTES = REPO_ROOT / "scenarios" / "routes" / "town04_rl_teacher.xml"


def test_committed_teacher_drives_the_route_without_infractions(tmp_path: Path) -> None:
    config = EvaluatorConfig(routes=ROUTES, agent=AGENT, checkpoint=tmp_path / "results.json", max_route_seconds=8.0,
                             step_timeout=30.0, record_video=False, background_traffic=False)
    summary = evaluate(config)
    record = summary.results["_checkpoint"]["records"][0]
    assert record["meta"]["town"] == "Town04"
    assert not any(record["infractions"].values()), record["infractions"]
    assert record["scores"]["score_route"] > 20.0  # it drove 8 s along the route (about 40 m of 153 m)
