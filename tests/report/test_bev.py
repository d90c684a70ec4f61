"""The report's bird's-eye view on a hand-built episode: heading-up geometry, actors, light states, markers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from recon_carla_bridge.leaderboard.episode import SIGNAL_GREEN, SIGNAL_RED, Episode
from recon_carla_bridge.report.bev import (
    ACTOR_COLORS,
    ALERT,
    EGO,
    SIGNAL_COLORS,
    BevRenderer,
    BevView,
    overview_image,
)

YAW = 30.0  # degrees, CARLA (clockwise from +x seen from above)
EGO_XY = np.array([10.0, 5.0])
FORWARD = np.array([math.cos(math.radians(YAW)), math.sin(math.radians(YAW))])
RIGHT = np.array([-FORWARD[1], FORWARD[0]])  # CARLA's right of the heading


def _episode(ticks: int = 3) -> Episode:
    route = np.array([[*(EGO_XY + FORWARD * s), YAW] for s in np.arange(0.0, 60.0, 1.0)])
    ahead = EGO_XY + 12.0 * FORWARD
    right_car = EGO_XY + 8.0 * RIGHT
    actors = np.array([[7, *ahead, YAW, 2.0, 1.0, 0.0, 0.0], [8, *right_car, YAW, 2.0, 1.0, 0.0, 0.0]])
    stop = EGO_XY + 20.0 * FORWARD
    return Episode(
        town="Hand", dt=0.05, time=np.arange(ticks) * 0.05, frame=np.arange(ticks) + 100,
        ego_pose=np.tile([*EGO_XY, 0.0, 0.0, 0.0, YAW], (ticks, 1)), ego_velocity=np.zeros((ticks, 3)),
        ego_acceleration=np.zeros((ticks, 3)), ego_angular_velocity=np.zeros((ticks, 3)),
        ego_control=np.zeros((ticks, 3)), ego_extent=np.array([2.4, 1.0, 0.8]), route=route,
        route_cumulative=np.arange(len(route), dtype=float), expert=route, route_completion=np.zeros(ticks),
        actors=[actors] * ticks, actor_types={7: "vehicle.tesla.model3", 8: "walker.pedestrian.0001"},
        events=[{"type": "COLLISION_STATIC", "frame": 101, "message": "hit",
                 "data": {"location": [*(EGO_XY - 15.0 * FORWARD), 0.0]}}],
        signal_ids=np.array([42]), stop_lines=np.array([[0, *stop, YAW, 1.75]]),
        signal_states=np.array([[SIGNAL_GREEN], [SIGNAL_RED], [SIGNAL_RED]], dtype=np.int8))


def _uv(view: BevView, forward_m: float, right_m: float) -> tuple[float, float]:
    """Where a point `forward_m` ahead and `right_m` to the right of the ego must be drawn (heading up)."""
    return view.size / 2 + right_m * view.scale, view.size * view.ego_row - forward_m * view.scale


def _pixel(view: BevView, forward_m: float, right_m: float) -> tuple[int, int]:
    """The pixel (column, row) holding that point."""
    u, v = _uv(view, forward_m, right_m)
    return int(u), int(v)


def test_heading_points_up_and_right_stays_right():
    view = BevView()
    renderer = BevRenderer(_episode(), None, view)
    points = np.array([EGO_XY + 10.0 * FORWARD, EGO_XY + 10.0 * RIGHT])
    pixels = renderer._to_pixels(points, *EGO_XY, YAW)
    assert pixels[0] == pytest.approx(_uv(view, 10.0, 0.0))
    assert pixels[1] == pytest.approx(_uv(view, 0.0, 10.0))


def test_frame_draws_ego_actors_lights_and_infractions_where_they_are():
    view = BevView()
    episode = _episode()
    renderer = BevRenderer(episode, None, view)
    frame0, frame1 = renderer.frame(0), renderer.frame(1)
    assert frame0.shape == (view.size, view.size, 3) and frame0.dtype == np.uint8

    def color(frame: np.ndarray, forward: float, right: float) -> tuple[int, ...]:
        u, v = _pixel(view, forward, right)
        return tuple(int(c) for c in frame[v, u])

    assert color(frame0, 0.0, 0.0) == EGO
    assert color(frame0, 12.0, 0.0) == ACTOR_COLORS["vehicle"]
    assert color(frame0, 0.0, 8.0) == ACTOR_COLORS["walker"]
    assert color(frame0, 20.0, 1.0) == SIGNAL_COLORS[SIGNAL_GREEN]  # the light turns red at tick 1
    assert color(frame1, 20.0, 1.0) == SIGNAL_COLORS[SIGNAL_RED]
    # The layout collision (frame 101 = tick 1) behind the ego is ringed from tick 1 on, not before.
    u, v = _pixel(view, -15.0, 0.0)
    ring0 = frame0[v - 12:v + 13, u - 12:u + 13].reshape(-1, 3)
    ring1 = frame1[v - 12:v + 13, u - 12:u + 13].reshape(-1, 3)
    assert not (ring0 == ALERT).all(axis=1).any()
    assert (ring1 == ALERT).all(axis=1).sum() > 20


def test_overview_covers_route_and_marks_the_infraction():
    image = np.asarray(overview_image(_episode(), None, size=300))
    assert image.shape == (300, 300, 3)
    assert (image == ALERT).all(axis=2).sum() > 20
