"""Logged box trajectories replayed at any time: linear interpolation, visibility at the ends."""
from __future__ import annotations

import numpy as np
import pytest

from recon_carla_bridge.scene.scene_world import TrackReplay


def _track(hold: bool) -> tuple[TrackReplay, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    times = np.concatenate([[0.0], np.sort(rng.uniform(0.1, 10.0, 29))])
    locations = rng.normal(size=(30, 3))
    yaws = np.cumsum(rng.normal(size=30)) * 30.0
    return TrackReplay(times, locations, yaws, hold_after_end=hold), times, locations, yaws


def test_replay_interpolates_position_and_yaw_linearly_between_log_times() -> None:
    replay, times, locations, yaws = _track(hold=True)
    for t in np.concatenate([np.linspace(-1.0, 11.0, 97), times]):
        clamped = float(np.clip(t, times[0], times[-1]))
        location, rotation = replay(float(t))
        expected = [np.interp(clamped, times, locations[:, k]) for k in range(3)]
        assert location == pytest.approx(expected, abs=1e-9)
        assert rotation[1] == pytest.approx(np.interp(clamped, times, yaws), abs=1e-9)
        assert rotation[0] == 0.0 and rotation[2] == 0.0


def test_moving_actor_is_absent_outside_its_log_and_a_parked_one_stays() -> None:
    moving, times, _, _ = _track(hold=False)
    assert moving(-0.5) is None and moving(float(times[-1]) + 0.5) is None
    assert moving(float(times[3])) is not None
    parked, _, locations, _ = _track(hold=True)
    assert parked(-0.5)[0] == pytest.approx(locations[0])
    assert parked(99.0)[0] == pytest.approx(locations[-1])


def test_a_single_pose_log_holds_that_pose() -> None:
    replay = TrackReplay(np.array([0.0]), np.array([[1.0, 2.0, 3.0]]), np.array([45.0]), hold_after_end=True)
    location, rotation = replay(5.0)
    assert location == pytest.approx([1.0, 2.0, 3.0]) and rotation[1] == pytest.approx(45.0)
