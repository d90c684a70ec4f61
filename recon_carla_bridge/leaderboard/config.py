"""Evaluator settings (a frozen dataclass; the CLI fills it)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recon_carla_bridge.leaderboard.background_traffic import TrafficSettings


@dataclass(frozen=True)
class EvaluatorConfig:
    """How to evaluate an agent file on a route file.

    Fields:
        routes: route file (leaderboard 1.0/2.0 XML or ours).
        agent: agent Python file defining get_entry_point().
        checkpoint: results JSON (leaderboard layout); per-route artefacts go to `<stem>_routes/` beside it.
        agent_config: path passed to the agent's setup().
        scenarios: leaderboard 1.0 scenario-trigger JSON (1.0 route files only), or None.
        routes_subset: leaderboard-style subset of route ids ('0,2' or '0-3'), '' for all.
        repetitions: runs per route.
        resume: continue an interrupted run from its checkpoint.
        track: 'SENSORS' or 'MAP'.
        frame_rate: world ticks per simulated second (leaderboard: 20).
        step_timeout: wall seconds an agent call (setup, sensors, run_step) may take before the route fails.
        max_route_seconds: optional cap on simulated seconds per route (0: only the leaderboard's route timeout).
        skip_missing_towns: run only routes whose map exists instead of refusing the whole file.
        record_video: write a front-camera MP4 per route for the report.
        video_fps: frames per second of that video (a frame every frame_rate/video_fps ticks).
        seed: scenario sampling and background traffic seed (leaderboard 1.0 samples scenarios with 0).
        background_traffic: spawn the leaderboard's background traffic (False: empty roads).
        background_vehicles: how many background vehicles, or None for the leaderboard's amount.
        progress_every: wall seconds between two progress lines while a route runs (0: none).
    """

    routes: Path
    agent: Path
    checkpoint: Path
    agent_config: str = ""
    scenarios: Path | None = None
    routes_subset: str = ""
    repetitions: int = 1
    resume: bool = False
    track: str = "SENSORS"
    frame_rate: float = 20.0
    step_timeout: float = 60.0
    max_route_seconds: float = 0.0
    skip_missing_towns: bool = False
    record_video: bool = True
    video_fps: float = 10.0
    seed: int = 0
    background_traffic: bool = True
    background_vehicles: int | None = None
    progress_every: float = 10.0

    @property
    def traffic(self) -> TrafficSettings:
        """The background traffic settings of every route."""
        return TrafficSettings(self.background_traffic, self.background_vehicles, self.seed)

    @property
    def artifacts_dir(self) -> Path:
        """Folder of per-route episodes and videos."""
        return self.checkpoint.with_name(self.checkpoint.stem + "_routes")
