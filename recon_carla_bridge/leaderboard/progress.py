"""Progress lines for long runs: a route being driven (sim time, completion, ticks/s), a report being built."""
from __future__ import annotations

import sys
import time
from typing import TextIO

PRINT_EVERY = 10.0  # wall seconds between two progress lines


class RouteProgress:
    """Prints where a route run is every `every` wall seconds: sim time, % of the route, ticks/s."""

    def __init__(self, route_id: str, length_m: float, every: float = PRINT_EVERY, stream: TextIO | None = None) -> None:
        """Start the wall clock for `route_id`, a route of `length_m` metres."""
        self.route_id = route_id
        self.length_m = length_m
        self.every = every
        self.stream = stream or sys.stdout
        self.start = time.monotonic()
        self._last_print = self.start
        self._ticks = 0
        self._ticks_at_print = 0

    def update(self, sim_seconds: float, completion_percent: float) -> None:
        """Count a tick; print a line when `every` wall seconds passed since the last one."""
        self._ticks += 1
        now = time.monotonic()
        if now - self._last_print < self.every:
            return
        rate = (self._ticks - self._ticks_at_print) / max(now - self._last_print, 1e-9)
        print(f"  {self.route_id}: sim {sim_seconds:6.1f} s, {completion_percent:5.1f} % of {self.length_m:.0f} m, "
              f"{rate:.0f} ticks/s ({sim_seconds / max(now - self.start, 1e-9):.1f}x real time)",
              file=self.stream, flush=True)
        self._last_print, self._ticks_at_print = now, self._ticks

    def wall_seconds(self) -> float:
        """Wall seconds since the route started."""
        return time.monotonic() - self.start


class StepProgress:
    """Prints '<what> k/n (<label>)' for each step of a multi-step job, with the elapsed wall time."""

    def __init__(self, what: str, total: int, stream: TextIO | None = None) -> None:
        """A job of `total` steps."""
        self.what = what
        self.total = total
        self.stream = stream or sys.stdout
        self.start = time.monotonic()
        self.done = 0

    def step(self, label: str) -> None:
        """Announce the next step, `label`."""
        self.done += 1
        print(f"{self.what} {self.done}/{self.total}: {label} ({time.monotonic() - self.start:.0f} s)",
              file=self.stream, flush=True)
