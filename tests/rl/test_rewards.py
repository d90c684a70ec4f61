"""The optional headway shaping of the longitudinal reward: it grows as the time to collision with the car ahead in
the ego's corridor shrinks, and ignores cars beside or behind the ego or pulling away."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.rl.config import RewardSettings
from recon_carla_bridge.rl.observations import ActorState, EgoState
from recon_carla_bridge.rl.rewards import headway_penalty, time_to_collision

EGO = EgoState(np.array([0.0, 0.0]), 0.0, 8.0, 0.0, 0.0, (0.0, 0.0))  # heading +x at 8 m/s


def car(x: float, y: float, speed: float) -> ActorState:
    return ActorState(np.array([x, y]), 0.0, np.array([speed, 0.0]), 4.9, 2.0)


def test_time_to_collision_of_the_car_ahead_only():
    assert abs(time_to_collision(EGO, [car(14.9, 0.0, 4.0)]) - 10.0 / 4.0) < 1e-9  # 10 m bumper gap, closing 4 m/s
    assert time_to_collision(EGO, [car(14.9, 3.5, 0.0)]) == float("inf")  # the next lane
    assert time_to_collision(EGO, [car(-10.0, 0.0, 20.0)]) == float("inf")  # behind
    assert time_to_collision(EGO, [car(14.9, 0.0, 9.0)]) == float("inf")  # pulling away


def test_headway_penalty_grows_as_the_gap_closes_and_is_off_by_default():
    settings = RewardSettings(headway=0.1, headway_time=2.0)
    far, near, touching = (headway_penalty(settings, EGO, [car(x, 0.0, 0.0)]) for x in (40.0, 12.9, 4.9))
    assert far == 0.0 and -0.1 <= touching < near < 0.0  # 8 m gap at 8 m/s: TTC 1 s -> -0.05
    assert abs(near + 0.05) < 1e-9
    assert headway_penalty(RewardSettings(), EGO, [car(4.9, 0.0, 0.0)]) == 0.0

