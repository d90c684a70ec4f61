"""Bounded memory for what a long run accumulates: destroyed actors and the errors of user callbacks.

An RL loop respawns actors for millions of steps; keeping every destroyed actor's state (≈ 3 KiB each) or every
callback traceback leaks without end. CARLA itself forgets destroyed actors: operating on one raises "trying to
operate on a destroyed actor", which `Simulation.state_of` gives for any id it no longer holds, so only the
recently destroyed (whose last pose `get_transform` still reports) need keeping.
"""
from __future__ import annotations

import warnings
from collections import Counter, OrderedDict, deque
from typing import Generic, Hashable, TypeVar

DEAD_ACTORS_KEPT = 1024  # destroyed actors whose last state stays readable
CALLBACK_ERRORS_KEPT = 100  # newest callback errors kept in `Simulation.sensor_errors`

Value = TypeVar("Value")


class RecentlyDestroyed(Generic[Value]):
    """The last `capacity` destroyed actors' records, by id (oldest forgotten first)."""

    def __init__(self, capacity: int = DEAD_ACTORS_KEPT) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Value] = OrderedDict()

    def add(self, actor_id: int, value: Value) -> list[int]:
        """Keep `value`; returns the ids forgotten to make room."""
        self._items[actor_id] = value
        self._items.move_to_end(actor_id)
        forgotten = []
        while len(self._items) > self.capacity:
            forgotten.append(self._items.popitem(last=False)[0])
        return forgotten

    def get(self, actor_id: int) -> Value | None:
        """The record of a recently destroyed actor, or None."""
        return self._items.get(actor_id)

    def __contains__(self, actor_id: object) -> bool:
        return actor_id in self._items

    def __len__(self) -> int:
        return len(self._items)


class CallbackErrors(deque):
    """The newest callback error reports (a deque of strings). Each kind of failure is warned once (a sensor type or
    on_tick callback, the exception type and message): a respawned sensor with the same bug prints nothing new."""

    def __init__(self, capacity: int = CALLBACK_ERRORS_KEPT, warned_kept: int = 1000) -> None:
        super().__init__(maxlen=capacity)
        self.counts: Counter[Hashable] = Counter()  # failures per live source (sensor id, callback id)
        self.total = 0  # failures ever reported
        self._warned: OrderedDict[Hashable, None] = OrderedDict()
        self._warned_kept = warned_kept

    def report(self, source: Hashable, kind: Hashable, message: str, details: str) -> None:
        """Record one failure of `source`; the first failure of each `kind` is warned."""
        self.counts[source] += 1
        self.total += 1
        self.append(message + "\n" + details)
        if kind in self._warned:
            return
        self._warned[kind] = None
        if len(self._warned) > self._warned_kept:
            self._warned.popitem(last=False)
        warnings.warn(f"{message} (repeats of this error are kept in sensor_errors, not printed)",
                      RuntimeWarning, stacklevel=3)

    def forget(self, source: Hashable) -> None:
        """Drop the count of a source that no longer exists."""
        self.counts.pop(source, None)
