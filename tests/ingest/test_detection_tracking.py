"""Detector and tracker on synthetic point clouds with a known answer."""
from __future__ import annotations

import math

import numpy as np

from recon_carla_bridge.ingest.detection import DetectionConfig, detect_objects, fit_oriented_box, looks_like_vehicle
from recon_carla_bridge.ingest.scenelog import pose_from_xyz_yaw
from recon_carla_bridge.ingest.tracking import TrackingConfig, to_world, track_vehicles

from .synthetic import car_surface, ground_plane


def test_oriented_box_fit_recovers_a_rectangle() -> None:
    rng = np.random.default_rng(1)
    yaw = math.radians(30)
    pts = car_surface((0.0, 0.0), yaw, rng)[:, :2]
    fitted_yaw, center, extents = fit_oriented_box(pts)
    assert abs(math.degrees(fitted_yaw) - 30) < 2.5
    assert np.allclose(center, [0, 0], atol=0.15)
    assert np.allclose(extents, [4.4, 1.8], atol=0.2)


def test_detector_finds_cars_and_ignores_ground() -> None:
    rng = np.random.default_rng(2)
    cloud = np.vstack([ground_plane(rng), car_surface((10.0, 3.0), 0.2, rng), car_surface((-8.0, -4.0), 1.4, rng)])
    cloud = np.c_[cloud, np.zeros(len(cloud))].astype(np.float32)
    detections = [d for d in detect_objects(cloud, DetectionConfig()) if looks_like_vehicle(d)]
    centers = sorted((round(d.center[0]), round(d.center[1])) for d in detections)
    assert centers == [(-8, -4), (10, 3)]


def test_tracker_links_a_moving_car_and_keeps_a_parked_one() -> None:
    rng = np.random.default_rng(3)
    times = np.arange(20) * 0.1
    scans = []
    for i, t in enumerate(times[::2]):
        frame = 2 * i
        ego = pose_from_xyz_yaw(np.array([0.5 * t, 0, 0]), 0.0)
        moving = car_surface((5.0 + 8.0 * t - 0.5 * t, -3.5), 0.0, rng)  # 8 m/s in the world
        parked = car_surface((12.0 - 0.5 * t, 4.0), 0.0, rng)
        cloud = np.vstack([ground_plane(rng), moving, parked])
        cloud = np.c_[cloud, np.zeros(len(cloud))].astype(np.float32)
        detections = [d for d in detect_objects(cloud) if looks_like_vehicle(d)]
        scans.append(to_world(detections, ego, frame, float(t)))
    tracks = track_vehicles(scans, times, list(range(0, 20, 2)), TrackingConfig())
    assert len(tracks) == 2
    moving = [t for t in tracks if t.moving]
    parked = [t for t in tracks if not t.moving]
    assert len(moving) == 1 and len(parked) == 1
    assert len(moving[0].boxes) == 20  # a box in every frame, scans or not
    xs = np.array([b.center[0] for b in moving[0].boxes])
    assert np.allclose(np.diff(xs), 0.8, atol=0.15)  # 8 m/s at 10 Hz, smooth
    assert abs(moving[0].boxes[5].yaw) < 0.1
    assert np.allclose(parked[0].boxes[0].center[:2], [12.0, 4.0], atol=0.3)
    assert np.allclose(moving[0].size[:2], [4.4, 1.8], atol=0.3)
