"""Long vehicles, track extension over scans the detector missed, tracklet linking and clipped heights,
on synthetic point clouds with a known answer."""
from __future__ import annotations

import math

import numpy as np
import pytest

from recon_carla_bridge.ingest.detection import (
    DetectionConfig,
    detect_in_obstacles,
    detect_objects,
    fit_top_beam,
    looks_like_vehicle,
    reaches_top_beam,
    thinned_obstacles,
)
from recon_carla_bridge.ingest.extension import (
    ExtensionConfig,
    place_along,
    support_scan,
)
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack
from recon_carla_bridge.ingest.tracking import (
    TrackingConfig,
    WorldDetection,
    finalize_track,
    link_fragments,
    remove_duplicates,
    to_world,
    track_vehicles,
)

from .synthetic import car_surface, ground_plane

TRAILER = (10.0, 2.5, 3.0)
TRACTOR = (5.0, 2.4, 3.0)
LANE_Y = -4.0
SPEED = 3.0  # m/s along world x
SCAN_FRAMES = list(range(0, 20, 2))  # a scan every second frame, as KITTI here
FRAME_TIMES = np.arange(20) * 0.1


def _cloud(*parts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cloud = np.vstack([ground_plane(rng), *parts])
    return np.c_[cloud, np.zeros(len(cloud))].astype(np.float32)


def _truck(time: float, gap: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Trailer and tractor (in front of it, `gap` metres apart) driving along the lane at SPEED."""
    rear = -2.0 + SPEED * time
    trailer = car_surface((rear + TRAILER[0] / 2, LANE_Y), 0.0, rng, TRAILER, count=6000)
    tractor_rear = rear + TRAILER[0] + gap
    tractor = car_surface((tractor_rear + TRACTOR[0] / 2, LANE_Y), 0.0, rng, TRACTOR, count=3000)
    return trailer, tractor


def _scans(merged_until: int, truck_from: int, rng: np.random.Generator) -> tuple[list, list]:
    """Per scan: world vehicle detections and support scans of a static ego at the origin. Before frame
    `merged_until` the tractor touches its trailer (one cluster); before `truck_from` there is no truck."""
    ego = np.eye(4)
    scans, support = [], []
    for frame in SCAN_FRAMES:
        time = float(FRAME_TIMES[frame])
        parts = _truck(time, 0.0 if frame < merged_until else 1.0, rng) if frame >= truck_from else ()
        obstacles, ground = thinned_obstacles(_cloud(*parts, rng=rng))
        detections = [d for d in detect_in_obstacles(obstacles, ground) if looks_like_vehicle(d)]
        scans.append(to_world(detections, ego, frame, time))
        support.append(support_scan(obstacles, ground, ego, frame, time))
    return scans, support


def test_a_long_truck_is_one_detection_of_its_length() -> None:
    rng = np.random.default_rng(11)
    size = (17.5, 2.55, 3.8)  # longer than the former 16 m limit
    cloud = _cloud(car_surface((6.0, -4.0), 0.0, rng, size, count=8000), rng=rng)
    detections = [d for d in detect_objects(cloud, DetectionConfig()) if looks_like_vehicle(d)]
    assert len(detections) == 1
    assert np.allclose(detections[0].size[:2], size[:2], atol=0.25)
    assert detections[0].size[2] > 3.5


def test_trailer_and_tractor_are_tracked_where_they_form_one_cluster() -> None:
    rng = np.random.default_rng(12)
    scans, support = _scans(merged_until=8, truck_from=0, rng=rng)
    # without the points, the detector's view: a 15 m cluster until frame 7, then two vehicles
    plain = track_vehicles(scans, FRAME_TIMES, SCAN_FRAMES, TrackingConfig())
    assert sorted(round(t.size[0]) for t in plain) == [5, 10, 15]
    tracks = track_vehicles(scans, FRAME_TIMES, SCAN_FRAMES, TrackingConfig(), support)
    assert sorted(round(t.size[0]) for t in tracks) == [5, 10]  # the merged cluster is gone
    for track in tracks:
        assert track.moving and track.boxes[0].frame_index == 0 and len(track.boxes) == 20
        xs = np.array([b.center[0] for b in track.boxes])
        assert np.allclose(np.diff(xs), SPEED * 0.1, atol=0.1)  # smooth, at the truck's speed
        assert all(abs(b.center[1] - LANE_Y) < 0.3 for b in track.boxes)
    trailer, tractor = sorted(tracks, key=lambda t: t.size[0], reverse=True)
    # frame 0: the trailer's rear and the tractor's front are where the points end
    assert trailer.box_at(0).center[0] - trailer.size[0] / 2 == pytest.approx(-2.0, abs=0.3)
    assert tractor.box_at(0).center[0] + tractor.size[0] / 2 == pytest.approx(-2.0 + 15.0, abs=0.3)


def test_a_track_is_not_extended_where_its_object_is_not() -> None:
    rng = np.random.default_rng(13)
    scans, support = _scans(merged_until=0, truck_from=8, rng=rng)  # the truck arrives at frame 8
    tracks = track_vehicles(scans, FRAME_TIMES, SCAN_FRAMES, TrackingConfig(), support)
    assert sorted(round(t.size[0]) for t in tracks) == [5, 10]
    assert all(t.boxes[0].frame_index == 7 for t in tracks)  # just after the last scan without it


def test_extension_can_be_switched_off() -> None:
    rng = np.random.default_rng(14)
    scans, support = _scans(merged_until=8, truck_from=0, rng=rng)
    config = TrackingConfig(extension=ExtensionConfig(enabled=False))
    tracks = track_vehicles(scans, FRAME_TIMES, SCAN_FRAMES, config, support)
    assert min(t.boxes[0].frame_index for t in tracks if round(t.size[0]) in (5, 10)) == 7


def test_box_is_placed_on_the_end_of_the_points_with_free_space_beyond() -> None:
    config = ExtensionConfig()
    # a 4 m box predicted at 0; the points run on behind it (a trailer) and end 0.5 m ahead of it
    coords = np.linspace(-2.0 - config.search - config.face_gap, 2.5, 400)
    assert place_along(coords, 0.0, 2.0, config, sensor=-10.0) == pytest.approx(0.5)
    # points running on past both ends (a wall, a queue): no end seen, no placement
    wall = np.linspace(-8.0, 8.0, 400)
    assert place_along(wall, 0.0, 2.0, config, sensor=-10.0) is None
    # both ends seen, as far apart as the box is long: centred between them
    whole = np.linspace(-1.7, 2.3, 400)
    assert place_along(whole, 0.0, 2.0, config, sensor=-10.0) == pytest.approx(0.3)


def _detection(frame: int, x: float, length: float, height: float = 1.5, top_clipped: bool = False) -> WorldDetection:
    """A world detection of a box `length` long centred at (x, LANE_Y), fully seen."""
    along = np.linspace(x - length / 2, x + length / 2, 60)
    footprint = np.r_[np.c_[along, np.full(60, LANE_Y + 1.2)], np.c_[np.full(10, x - length / 2), np.linspace(LANE_Y - 1.2, LANE_Y + 1.2, 10)]]
    return WorldDetection(
        frame_index=frame, time=frame * 0.1, center=np.array([x, LANE_Y, height / 2]), size=np.array([length, 2.4, height]),
        yaw=0.0, ground_z=0.0, footprint=footprint, sensor_xy=np.zeros(2), ego_yaw=0.0, top_clipped=top_clipped,
    )


def test_tracklets_of_one_long_vehicle_are_linked_but_not_a_merged_cluster() -> None:
    # a trailer mostly seen as its rear 7 m (its front falls into a cluster of its own), sometimes whole
    # (10.5 m): the box centre jumps by 1.75 m, and association split the track where it jumped
    def view(frame: int, whole: bool) -> WorldDetection:
        rear = 2.0 + 0.3 * frame
        length = 10.5 if whole else 7.0
        return _detection(frame, rear + length / 2, length)

    first = [view(0, False), view(2, False), view(4, True), view(6, True)]
    second = [view(8, False), view(10, False), view(12, True), view(14, False)]
    config = TrackingConfig()
    assert [len(t) for t in link_fragments([first, second], config)] == [8]
    # a 15 m cluster (trailer + tractor) does not continue as the trailer's rear
    merged = [_detection(f, 9.5 + 0.3 * f, 15.0) for f in (0, 2, 4, 6)]
    assert sorted(len(t) for t in link_fragments([merged, second], config)) == [4, 4]


def test_height_of_a_vehicle_whose_top_the_lidar_never_saw() -> None:
    config = TrackingConfig()
    clipped = [_detection(f, 10.0 + 0.3 * f, 10.0, height=2.2, top_clipped=True) for f in range(0, 12, 2)]
    track = finalize_track(clipped, FRAME_TIMES, "truck", config)
    assert track is not None and track.size[2] == pytest.approx(config.clipped_height)
    # seen over its top a few times: the height is measured there
    seen = clipped[:3] + [_detection(f, 10.0 + 0.3 * f, 10.0, height=2.3) for f in (6, 8, 10)]
    assert finalize_track(seen, FRAME_TIMES, "van", config).size[2] == pytest.approx(2.3)
    # a car on a road higher than the ego's reaches the top beam too: no truck height for it
    car = [_detection(f, 10.0 + 0.3 * f, 4.2, height=1.5, top_clipped=True) for f in range(0, 12, 2)]
    assert finalize_track(car, FRAME_TIMES, "car", config).size[2] == pytest.approx(1.5)


def test_top_beam_is_fitted_and_clusters_reaching_it_are_marked() -> None:
    rng = np.random.default_rng(15)
    base, slope = 1.95, 0.034
    scans = []
    for _ in range(3):
        r = rng.uniform(3.0, 40.0, 3000)
        angle = rng.uniform(-math.pi, math.pi, 3000)
        z = base + slope * r - rng.uniform(0.0, 2.5, 3000)  # returns at or below the top beam
        z[:600] = base + slope * r[:600]  # the top beam hits something at many ranges
        scans.append(np.c_[r * np.cos(angle), r * np.sin(angle), z])
    beam = fit_top_beam(scans)
    assert beam is not None and beam.base == pytest.approx(base, abs=0.02) and beam.slope == pytest.approx(slope, abs=0.002)
    side = np.c_[np.linspace(2.0, 12.0, 50), np.full(50, -2.5), np.zeros(50)]
    tall = side.copy()
    tall[:, 2] = beam.height_at(np.hypot(tall[:, 0], tall[:, 1]))  # the beam runs along a truck's side
    low = side.copy()
    low[:, 2] = 1.5  # a car roof under the beam
    assert reaches_top_beam(tall, beam) and not reaches_top_beam(low, beam) and not reaches_top_beam(tall, None)


def test_tracks_that_follow_each_other_are_not_duplicates() -> None:
    def track(track_id: str, frames: range, x: float) -> ActorTrack:
        return ActorTrack(track_id, "vehicle", np.array([4.0, 1.8, 1.5]), False, [ActorBox(f, np.array([x, 0.0, 0.75]), 0.0) for f in frames])

    earlier, later = track("a", range(10), 5.0), track("b", range(9, 20), 5.5)  # meet in frame 9
    assert len(remove_duplicates([earlier, later], {"a": 5, "b": 6}, min_shared=3)) == 2
    assert len(remove_duplicates([earlier, later], {"a": 5, "b": 6}, min_shared=1)) == 1
