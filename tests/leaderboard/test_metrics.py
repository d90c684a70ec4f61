"""RAD and Bench2Drive metrics on hand-built trajectories."""
from __future__ import annotations

import numpy as np
import pytest

from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.metrics import MetricContext, default_registry
from recon_carla_bridge.leaderboard.metrics.bench2drive import Comfortness

DT = 0.05


def _episode(x: np.ndarray, y: np.ndarray, yaw: np.ndarray, collisions=()) -> Episode:
    t = np.arange(len(x)) * DT
    vx, vy = np.gradient(x, DT), np.gradient(y, DT)
    ax, ay = np.gradient(vx, DT), np.gradient(vy, DT)
    route = np.column_stack([np.linspace(0, 200, 201), np.zeros(201), np.zeros(201)])
    return Episode(town="Test", dt=DT, time=t, frame=np.arange(len(x)), ego_pose=np.column_stack(
        [x, y, np.zeros_like(x), np.zeros_like(x), np.zeros_like(x), yaw]),
        ego_velocity=np.column_stack([vx, vy, 0 * vx]), ego_acceleration=np.column_stack([ax, ay, 0 * ax]),
        ego_angular_velocity=np.column_stack([0 * x, 0 * x, np.gradient(yaw, DT)]), ego_control=np.zeros((len(x), 3)),
        ego_extent=np.array([2.4, 1.0, 0.75]), route=route, route_cumulative=route[:, 0], expert=route,
        route_completion=np.linspace(0, 50, len(x)), actors=[np.zeros((0, 8))] * len(x),
        collisions=list(collisions))


def test_comfort_is_one_for_constant_speed_and_drops_with_hard_braking():
    n = 400
    steady = _episode(np.arange(n) * DT * 8.0, np.zeros(n), np.zeros(n))
    assert Comfortness().compute(MetricContext(steady)).value == pytest.approx(1.0)
    speed = np.where(np.arange(n) < 200, 10.0, np.maximum(10.0 - 8.0 * (np.arange(n) - 200) * DT, 0.0))
    braking = _episode(np.cumsum(speed) * DT, np.zeros(n), np.zeros(n))  # -8 m/s² < -4.05 m/s² bound
    value = Comfortness().compute(MetricContext(braking)).value
    assert 0.0 < value < 1.0


def test_rad_first_failure_classifies_and_ratios_add_up():
    n = 200
    registry = default_registry()
    straight = _episode(np.linspace(0, 50, n), np.zeros(n), np.zeros(n))
    drifting = _episode(np.linspace(0, 50, n), np.linspace(0, 4, n), np.zeros(n))  # > 2 m off at the end
    hit = _episode(np.linspace(0, 50, n), np.zeros(n), np.zeros(n), collisions=[(50, 7, "vehicle.audi.tt")])
    turned = _episode(np.linspace(0, 50, n), np.zeros(n), np.where(np.arange(n) > 100, 60.0, 0.0))
    wall = _episode(np.linspace(0, 50, n), np.linspace(0, 4, n), np.zeros(n), collisions=[(10, 0, "static.wall")])
    per_route = [registry.compute_all(MetricContext(e)) for e in (straight, drifting, hit, turned, wall)]
    total = registry.aggregate(per_route)
    assert total["rad.DCR"]["value"] == pytest.approx(1 / 5) and total["rad.SCR"]["value"] == pytest.approx(1 / 5)
    assert total["rad.PDR"]["value"] == pytest.approx(1 / 5) and total["rad.HDR"]["value"] == pytest.approx(1 / 5)
    assert total["rad.CR"]["value"] == pytest.approx(total["rad.DCR"]["value"] + total["rad.SCR"]["value"])
    assert total["rad.DR"]["value"] == pytest.approx(total["rad.PDR"]["value"] + total["rad.HDR"]["value"])
    assert per_route[0]["rad.ADD"]["value"] == pytest.approx(0.0, abs=1e-9)
    # drifting: ADD is the mean lateral offset before it first exceeds 2 m
    offsets = np.linspace(0, 4, n)
    assert per_route[1]["rad.ADD"]["value"] == pytest.approx(offsets[offsets <= 2.0].mean(), rel=1e-6)


def test_registry_rejects_duplicates():
    registry = default_registry()
    with pytest.raises(ValueError):
        registry.register(Comfortness())
