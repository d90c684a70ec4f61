"""The simulation clock the evaluator advances and agents read (the leaderboard's `GameTime` role)."""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field


@dataclass
class GameClock:
    """Frame and simulated time of the last world tick, plus the wall clock at the first tick.

    Fields:
        frame: world frame number of the last tick (int, monotonically increasing).
        time: simulated seconds since the route started (float, s).
        wallclock_t0: wall-clock time of the first tick (None before it).
    """

    frame: int = 0
    time: float = 0.0
    wallclock_t0: datetime.datetime | None = field(default=None)

    def on_tick(self, frame: int, elapsed_seconds: float) -> None:
        """Record a world tick: its frame and the simulated seconds since the route started."""
        self.frame = int(frame)
        self.time = float(elapsed_seconds)
        if self.wallclock_t0 is None:
            self.wallclock_t0 = datetime.datetime.now()

    @staticmethod
    def wallclock() -> datetime.datetime:
        """The current wall-clock time."""
        return datetime.datetime.now()
