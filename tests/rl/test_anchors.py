"""The anchor mask forbids what the kinematic bicycle model cannot drive, and allows what it can."""
from __future__ import annotations

import numpy as np
import pytest

from recon_carla_bridge.adversary.trajectory import VehicleLimits
from recon_carla_bridge.rl.anchors import AnchorGrid, arc_to, feasible_mask

GRID = AnchorGrid()


def test_grid_is_rads_61_by_61():
    assert GRID.lateral.shape == (61,) and GRID.longitudinal.shape == (61,)
    assert GRID.lateral[0] == pytest.approx(-0.75) and GRID.longitudinal[-1] == pytest.approx(15.0)


def test_standing_car_cannot_move_sideways_or_jump_ahead():
    mask = feasible_mask(GRID, 0.0)
    # from rest, 4 m/s^2 for 0.5 s covers 0.5 m at most: nothing beyond, and no sideways step in place
    longitudinal_limit = 0.5 * VehicleLimits().max_acceleration * 0.25
    assert not mask[:, GRID.longitudinal > longitudinal_limit + 1e-9].any()
    assert mask[30, 0]  # standing still is allowed
    assert not mask[np.abs(GRID.lateral) > 0.5, :].any()  # too sharp a turn for so short an arc


def test_fast_car_cannot_stop_in_place_but_can_brake_and_keep_going():
    speed = 10.0
    mask = feasible_mask(GRID, speed)
    assert not mask[:, 0].any()  # stopping within 0 m from 10 m/s is beyond 8 m/s^2
    assert mask[30, np.argmin(np.abs(GRID.longitudinal - speed * 0.5))]  # constant speed
    shortest = speed * 0.5 - 0.5 * VehicleLimits().max_deceleration * 0.25  # full braking for the 0.5 s: 4 m
    assert not mask[:, GRID.longitudinal < shortest - 1e-9].any()
    assert mask[30, np.argmin(np.abs(GRID.longitudinal - shortest))]


def test_every_feasible_anchor_is_driven_within_the_limits():
    limits = VehicleLimits()
    for speed in (0.0, 3.0, 8.0, 14.0):
        mask = feasible_mask(GRID, speed)
        for i, j in zip(*np.nonzero(mask)):
            lateral, longitudinal = GRID.displacement(i, j)
            arc = arc_to(lateral, longitudinal, speed, GRID.horizon)
            forward, right, _ = arc.pose_at(GRID.horizon)
            assert forward == pytest.approx(longitudinal, abs=1e-6) and right == pytest.approx(lateral, abs=1e-6)
            assert abs(arc.curvature) <= limits.max_curvature + 1e-9
            assert -limits.max_deceleration - 1e-9 <= arc.acceleration <= limits.max_acceleration + 1e-9
