"""Leaderboard-style evaluation: agent interface, routes, infraction criteria, scoring, metrics, evaluator.

Layout:
- `api/`        the public leaderboard modules agents import (`leaderboard.autoagents.autonomous_agent`, …),
                aliased as `leaderboard.*` by `alias.install_leaderboard_alias()` while an agent runs.
- `routes`      leaderboard 1.0/2.0 route XML (+ 1.0 scenario-trigger JSON) → `RouteConfig`s.
- `criteria/`   per-tick infraction monitors with leaderboard 2.0 semantics, producing `TrafficEvent`s.
- `scoring`     route and global records in the leaderboard's JSON layout (penalty tables of 2.0).
- `checkpoint`  the results file: atomic writes, resume, never dropping finished routes.
- `metrics/`    RAD, Bench2Drive comfort, AlpaSim and HUGSIM metrics, computed from a recorded `Episode`.
- `evaluator`   runs agent files on routes in the server-less world and writes the results file.
"""

from recon_carla_bridge.leaderboard.alias import (
    install_leaderboard_alias,
    leaderboard_alias,
)

__all__ = ["install_leaderboard_alias", "leaderboard_alias"]
