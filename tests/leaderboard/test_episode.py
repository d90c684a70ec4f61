"""Episodes survive their .npz round trip, light states included."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.leaderboard.episode import (
    SIGNAL_GREEN,
    SIGNAL_RED,
    SIGNAL_YELLOW,
    Episode,
    EpisodeRecorder,
)


def test_recorded_episode_round_trips_through_npz(tmp_path):
    route = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    recorder = EpisodeRecorder("Town01", 0.05, np.array([2.4, 1.0, 0.8]), route, np.array([0.0, 1.0, 2.0]), route)
    recorder.set_signals(np.array([5, 9]), np.array([[0, 3.0, 1.0, 0.0, 1.75], [1, 4.0, -1.0, 180.0, 1.75]]))
    states = [[SIGNAL_GREEN, SIGNAL_RED], [SIGNAL_YELLOW, SIGNAL_RED]]
    for tick, row in enumerate(states):
        actors = np.array([[3, 5.0 + tick, 2.0, 90.0, 2.0, 1.0, 1.0, 0.0]]) if tick else np.zeros((0, 8))
        recorder.add(tick * 0.05, 10 + tick, (tick * 0.1, 0.0, 0.0, 0.0, 0.0, 0.0), (2.0, 0.0, 0.0), (0.0, 0.0, 0.0),
                     (0.0, 0.0, 0.0), (0.5, 0.0, 0.0), 50.0 * tick, actors)
        recorder.add_signal_states(np.array(row))
    recorder.actor_types[3] = "vehicle.audi.tt"
    recorder.add_collision(3, "vehicle.audi.tt")
    episode = recorder.build([{"type": "COLLISION_VEHICLE", "frame": 11, "message": "m", "data": {"id": 3}}])
    episode.save(tmp_path / "episode.npz")
    loaded = Episode.load(tmp_path / "episode.npz")
    for name in ("time", "frame", "ego_pose", "ego_velocity", "ego_control", "route", "route_completion",
                 "signal_ids", "stop_lines", "signal_states"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(episode, name), err_msg=name)
    assert loaded.signal_states.tolist() == states
    assert [a.tolist() for a in loaded.actors] == [a.tolist() for a in episode.actors]
    assert loaded.actor_types == {3: "vehicle.audi.tt"} and loaded.collisions == [(1, 3, "vehicle.audi.tt")]
    assert loaded.events == episode.events and loaded.town == "Town01" and loaded.length == 2
