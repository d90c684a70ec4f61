"""Static or moving from the LiDAR alone, and which static objects are parked cars, on small scenes."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.ingest.persistence import OccupancyHistory
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack
from recon_carla_bridge.ingest.static_vehicles import StaticVehicleConfig, parked_vehicle_verdict, vacated
from recon_carla_bridge.ingest.tracking import WorldDetection

TIMES = np.arange(10) * 0.2  # a 5 Hz LiDAR
EGO_SPEED = 10.0


def _outline(center: tuple[float, float], length: float, width: float, step: float = 0.1) -> np.ndarray:
    """(K, 2) points on the outline of an axis-aligned box."""
    cx, cy = center
    along = np.arange(-length / 2, length / 2 + 1e-9, step)
    across = np.arange(-width / 2, width / 2 + 1e-9, step)
    return np.concatenate([
        np.c_[cx + along, np.full_like(along, cy - width / 2)],
        np.c_[cx + along, np.full_like(along, cy + width / 2)],
        np.c_[np.full_like(across, cx - length / 2), cy + across],
        np.c_[np.full_like(across, cx + length / 2), cy + across],
    ])


def _detection(k: int, footprint: np.ndarray, height: float = 1.5) -> WorldDetection:
    center = footprint.mean(axis=0)
    size = np.array([np.ptp(footprint[:, 0]), np.ptp(footprint[:, 1]), height])
    return WorldDetection(k, float(TIMES[k]), np.array([*center, height / 2]), size, 0.0, 0.0, footprint, np.array([EGO_SPEED * TIMES[k], 0.0]), 0.0)


def _car_at(k: int, speed: float) -> np.ndarray:
    return _outline((8.0 + speed * TIMES[k], -3.5), 4.5, 1.8)


WALL = np.c_[np.arange(-10.0, 40.0, 0.1), np.full(500, -8.0)]


def _history(car_speed: float) -> OccupancyHistory:
    scans = [np.concatenate([WALL, _car_at(k, car_speed)]) for k in range(len(TIMES))]
    return OccupancyHistory(scans, TIMES, np.c_[EGO_SPEED * TIMES, np.zeros(len(TIMES))])


def test_a_wall_is_static_and_a_passing_car_is_not() -> None:
    history = _history(car_speed=12.0)
    wall_piece = WALL[(WALL[:, 0] > 10) & (WALL[:, 0] < 14)]
    assert history.persistence(wall_piece, TIMES[4])[0] == 1.0
    assert history.persistence(_car_at(4, 12.0), TIMES[4])[0] == 0.0
    # a parked car stays where it was: static
    assert _history(car_speed=0.0).persistence(_car_at(4, 0.0), TIMES[4])[0] == 1.0


def test_parked_car_kept_wall_and_tall_block_not() -> None:
    history = _history(car_speed=0.0)
    config = StaticVehicleConfig()
    car = [_detection(k, _car_at(k, 0.0)) for k in range(len(TIMES))]
    assert parked_vehicle_verdict(car, history, config) == "vehicle"
    wall = [_detection(k, WALL[(WALL[:, 0] > 2 * k) & (WALL[:, 0] < 2 * k + 4)], height=1.6) for k in range(len(TIMES))]
    assert parked_vehicle_verdict(wall, history, config) == "footprint"
    block = [_detection(k, _car_at(k, 0.0), height=2.3) for k in range(len(TIMES))]
    assert parked_vehicle_verdict(block, history, config) == "too tall"  # a van or a hedge: undecided
    assert parked_vehicle_verdict(block, history, config, in_lane=True) == "vehicle"  # in a lane: a van


def _track(dets: list[WorldDetection], size: tuple[float, float, float]) -> ActorTrack:
    boxes = [ActorBox(d.frame_index, d.center.copy(), 0.0) for d in dets]
    return ActorTrack("t", "vehicle", np.array(size), True, boxes)


def test_a_crawling_car_vacates_its_space_a_sliding_fence_does_not() -> None:
    crawling = _history(car_speed=2.0)
    car = [_detection(k, _car_at(k, 2.0)) for k in range(len(TIMES))]
    assert vacated(_track(car, (4.5, 1.8, 1.5)), car, crawling)
    # the visible piece of the wall slides along with the ego: its boxes drift, the wall stays
    pieces = [_detection(k, WALL[(WALL[:, 0] > 2 * k) & (WALL[:, 0] < 2 * k + 4)], height=1.6) for k in range(len(TIMES))]
    assert not vacated(_track(pieces, (4.0, 1.65, 1.6)), pieces, crawling)
