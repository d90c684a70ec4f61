"""Callbacks of the episode loop, in the manner of nuplan-devkit's AbstractCallback.

Per episode: `on_episode_start` once the ego and its sensors exist (before the last setup tick), then per
step `on_step_start` with the control about to be applied (the world still shows the tick the control was
computed for), `on_step_end` after the world ticked (return a reason to end the episode), and
`on_episode_end` once when the episode closes. `EpisodeRunner` passes itself: callbacks read its `world`,
`ego`, `frame`, `time`, `hits` (the ego's collisions of the last tick) and `task`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.episode.runner import EpisodeRunner


class EpisodeCallback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_episode_start(self, runner: "EpisodeRunner") -> None:
        """The ego and its sensors exist; the world has not yet ticked with them."""

    def on_step_start(self, runner: "EpisodeRunner", control: Any) -> None:
        """`control` is about to be applied to the ego; the world still shows the tick it was computed for."""

    def on_step_end(self, runner: "EpisodeRunner") -> str | None:
        """The world ticked (also called once at the end of reset); a returned string ends the episode."""
        return None

    def on_episode_end(self, runner: "EpisodeRunner", reason: str) -> None:
        """The episode is over (`reason`: why, '' when the caller closed it); the actors still exist."""


class TimeLimit(EpisodeCallback):
    """Ends the episode after `seconds` of simulated time."""

    def __init__(self, seconds: float, reason: str | None = None) -> None:
        """Stop at `seconds` (s since the episode started) with `reason` (a default names the limit)."""
        self.seconds = float(seconds)
        self.reason = reason or f"time limit ({self.seconds:g} s)"

    def on_step_end(self, runner: "EpisodeRunner") -> str | None:
        """The reason once the limit is reached."""
        return self.reason if runner.time >= self.seconds - 1e-9 else None
