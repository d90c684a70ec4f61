"""Held-out scoring: the driving score of an episode is the leaderboard's (route completion x collision penalties)."""
from __future__ import annotations

import pytest

from recon_carla_bridge.rl.evaluation import driving_score, summarise


def test_driving_score_is_completion_times_the_leaderboards_collision_penalty():
    assert driving_score([], 0.8) == pytest.approx(0.8)
    assert driving_score(["dynamic_collision"], 0.5) == pytest.approx(0.3)
    assert driving_score(["static_collision"], 1.0) == pytest.approx(0.65)
    assert driving_score(["position_deviation"], 0.4) == pytest.approx(0.4)  # ends the route, no factor


def test_summary_averages_the_driving_score_over_episodes():
    episode = {"add": 0.1, "jerk_longitudinal": 1.0, "jerk_lateral": 0.1}
    episodes = [{**episode, "events": [], "completion": 1.0, "driving_score": driving_score([], 1.0)},
                {**episode, "events": ["dynamic_collision"], "completion": 0.5,
                 "driving_score": driving_score(["dynamic_collision"], 0.5)}]
    summary = summarise(episodes)
    assert summary["CR"] == pytest.approx(0.5)
    assert summary["route_completion"] == pytest.approx(0.75)
    assert summary["driving_score"] == pytest.approx(0.65)
