"""A recorded route run (`Episode`): what the metrics and the report read, saved as one .npz per route."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ACTOR_COLUMNS = ("id", "x", "y", "yaw", "half_length", "half_width", "vx", "vy")  # yaw in degrees
STOP_LINE_COLUMNS = ("signal", "x", "y", "yaw", "half_width")  # signal: column in signal_states; yaw in degrees
SIGNAL_GREEN, SIGNAL_YELLOW, SIGNAL_RED, SIGNAL_OFF = 0, 1, 2, 3


@dataclass
class Episode:
    """One route run, sampled once per world tick (T ticks).

    Fields:
        town: map name.
        dt: seconds per tick.
        time: (T,) simulated seconds since the route started.
        frame: (T,) world frame numbers.
        ego_pose: (T, 6) x, y, z (m), roll, pitch, yaw (degrees).
        ego_velocity: (T, 3) m/s, world frame.
        ego_acceleration: (T, 3) m/s², world frame.
        ego_angular_velocity: (T, 3) degrees/s (CARLA's unit), world frame.
        ego_control: (T, 3) throttle, steer, brake as applied.
        ego_extent: (3,) bounding-box half-extents (m).
        route: (N, 3) route x, y, yaw (degrees); `route_cumulative`: (N,) m along it.
        expert: (M, 3) reference trajectory x, y, yaw (degrees) for deviation metrics.
        route_completion: (T,) % of the route completed at each tick.
        actors: per tick, (K, 8) float64 rows in ACTOR_COLUMNS order (other actors near the ego).
        actor_types: {actor id: type_id}.
        collisions: [(tick index, other id, other type id)] from the ego's collision sensor.
        events: leaderboard traffic events as dicts (type, frame, message, data).
        signal_ids: (K,) int64 traffic-light actor ids.
        stop_lines: (S, 5) float64 rows in STOP_LINE_COLUMNS order, one per lane a light controls.
        signal_states: (T, K) int8 light state per tick (SIGNAL_GREEN, _YELLOW, _RED or _OFF).
    """

    town: str
    dt: float
    time: np.ndarray
    frame: np.ndarray
    ego_pose: np.ndarray
    ego_velocity: np.ndarray
    ego_acceleration: np.ndarray
    ego_angular_velocity: np.ndarray
    ego_control: np.ndarray
    ego_extent: np.ndarray
    route: np.ndarray
    route_cumulative: np.ndarray
    expert: np.ndarray
    route_completion: np.ndarray
    actors: list[np.ndarray] = field(default_factory=list)
    actor_types: dict[int, str] = field(default_factory=dict)
    collisions: list[tuple[int, int, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    signal_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    stop_lines: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))
    signal_states: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))

    @property
    def length(self) -> int:
        """Number of ticks T."""
        return len(self.time)

    def save(self, path: Path) -> None:
        """Write to an .npz file (arrays) with a JSON member for the rest."""
        counts = np.array([len(a) for a in self.actors], dtype=np.int64)
        stacked = np.concatenate(self.actors, axis=0) if self.actors and counts.sum() else np.zeros((0, 8))
        meta = {"town": self.town, "dt": self.dt, "actor_types": {str(k): v for k, v in self.actor_types.items()},
                "collisions": self.collisions, "events": self.events}
        np.savez_compressed(
            path, time=self.time, frame=self.frame, ego_pose=self.ego_pose, ego_velocity=self.ego_velocity,
            ego_acceleration=self.ego_acceleration, ego_angular_velocity=self.ego_angular_velocity,
            ego_control=self.ego_control, ego_extent=self.ego_extent, route=self.route,
            route_cumulative=self.route_cumulative, expert=self.expert, route_completion=self.route_completion,
            actor_counts=counts, actor_rows=stacked, signal_ids=self.signal_ids, stop_lines=self.stop_lines,
            signal_states=self.signal_states, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path) -> Episode:
        """Read an .npz written by `save`."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            counts = data["actor_counts"]
            rows = data["actor_rows"]
            splits = np.cumsum(counts)[:-1] if len(counts) else []
            actors = list(np.split(rows, splits)) if len(counts) else []
            signals: dict[str, np.ndarray] = {key: data[key] for key in ("signal_ids", "stop_lines", "signal_states")
                                              if key in data.files}
            return cls(
                town=meta["town"], dt=float(meta["dt"]), time=data["time"], frame=data["frame"],
                ego_pose=data["ego_pose"], ego_velocity=data["ego_velocity"],
                ego_acceleration=data["ego_acceleration"], ego_angular_velocity=data["ego_angular_velocity"],
                ego_control=data["ego_control"], ego_extent=data["ego_extent"], route=data["route"],
                route_cumulative=data["route_cumulative"], expert=data["expert"],
                route_completion=data["route_completion"], actors=actors,
                actor_types={int(k): v for k, v in meta["actor_types"].items()},
                collisions=[tuple(c) for c in meta["collisions"]], events=meta["events"], **signals)


class EpisodeRecorder:
    """Collects per-tick rows and builds an `Episode`."""

    def __init__(self, town: str, dt: float, ego_extent: np.ndarray, route: np.ndarray,
                 route_cumulative: np.ndarray, expert: np.ndarray) -> None:
        """Start an empty recording for one route."""
        self._static = dict(town=town, dt=dt, ego_extent=np.asarray(ego_extent, dtype=np.float64),
                            route=route, route_cumulative=route_cumulative, expert=expert)
        self._rows: dict[str, list] = {k: [] for k in ("time", "frame", "ego_pose", "ego_velocity",
                                                        "ego_acceleration", "ego_angular_velocity",
                                                        "ego_control", "route_completion")}
        self.actors: list[np.ndarray] = []
        self.actor_types: dict[int, str] = {}
        self.collisions: list[tuple[int, int, str]] = []
        self.signal_ids = np.zeros(0, dtype=np.int64)
        self.stop_lines = np.zeros((0, 5))
        self._signal_rows: list[np.ndarray] = []

    def set_signals(self, signal_ids: np.ndarray, stop_lines: np.ndarray) -> None:
        """The traffic lights of the route's world (see `Episode` for the layouts); call before the first tick."""
        self.signal_ids = np.asarray(signal_ids, dtype=np.int64).reshape(-1)
        self.stop_lines = np.asarray(stop_lines, dtype=np.float64).reshape(-1, 5)

    def add_signal_states(self, states: np.ndarray) -> None:
        """Light states of this tick, (K,) int8 in `signal_ids` order."""
        self._signal_rows.append(np.asarray(states, dtype=np.int8).reshape(len(self.signal_ids)))

    def add(self, time: float, frame: int, pose: tuple, velocity: tuple, acceleration: tuple,
            angular_velocity: tuple, control: tuple, route_completion: float, actors: np.ndarray) -> None:
        """Append one tick (see `Episode` for units)."""
        for key, value in (("time", time), ("frame", frame), ("ego_pose", pose), ("ego_velocity", velocity),
                           ("ego_acceleration", acceleration), ("ego_angular_velocity", angular_velocity),
                           ("ego_control", control), ("route_completion", route_completion)):
            self._rows[key].append(value)
        self.actors.append(np.asarray(actors, dtype=np.float64).reshape(-1, 8))

    def add_collision(self, other_id: int, other_type_id: str) -> None:
        """Record a collision-sensor hit at the current tick."""
        self.collisions.append((max(len(self.actors) - 1, 0), int(other_id), str(other_type_id)))

    def build(self, events: list[dict[str, Any]]) -> Episode:
        """The finished `Episode`."""
        arrays = {key: np.asarray(values, dtype=np.float64) for key, values in self._rows.items()}
        widths = {"ego_pose": 6, "ego_velocity": 3, "ego_acceleration": 3, "ego_angular_velocity": 3,
                  "ego_control": 3}
        for key, width in widths.items():
            arrays[key] = arrays[key].reshape(-1, width)
        arrays["frame"] = arrays["frame"].astype(np.int64)
        states = (np.stack(self._signal_rows) if self._signal_rows and len(self.signal_ids)
                  else np.zeros((len(arrays["time"]), len(self.signal_ids)), dtype=np.int8))
        return Episode(**self._static, **arrays, actors=self.actors, actor_types=dict(self.actor_types),
                       collisions=list(self.collisions), events=events, signal_ids=self.signal_ids,
                       stop_lines=self.stop_lines, signal_states=states)
