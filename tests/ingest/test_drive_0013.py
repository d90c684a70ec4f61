"""KITTI drive 0013 (a divided suburban road) ingested end to end: real vehicles only, and its road.

One ingest per module (about a minute on 2 shared cores). Locations are in the SceneLog world frame
(origin at the first ego pose, x along its heading, y to its left).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recon_carla_bridge.ingest.pipeline import IngestConfig, IngestReport, ingest
from recon_carla_bridge.ingest.scenelog import SceneLog
from recon_carla_bridge.roadnet.check import check_ego_in_lane, load_carla_map

# Fences, a hedge and the stone yard's fence along the right of the road that earlier versions boxed as
# vehicles (several of them "moving"), picked in the bird's-eye view and checked in frames 25-99.
STATIC_STRUCTURE_XY = {
    "fence at x 43": (42.7, -9.5),
    "fence at x 52": (51.7, -9.2),
    "fence with the banner": (69.9, -9.4),
    "fence at x 86": (85.8, -9.7),
    "hedge along the fence at x 54": (53.6, -7.6),
    "hedge at x 76": (75.9, -7.7),
    "hedge at the road edge at x 92": (92.4, -4.1),
}


@pytest.fixture(scope="module")
def drive_0013(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SceneLog, IngestReport, Path]:
    """Drive 0013 ingested once: log, report, scene folder."""
    src = shared_data / "kitti_2011_09_26_drive_0013" / "2011_09_26" / "2011_09_26_drive_0013_sync"
    if not src.is_dir():
        pytest.skip(f"{src} not found")
    out = tmp_path_factory.mktemp("kitti_0013") / "scene"
    log, report = ingest("kitti", src, out, IngestConfig(show_progress=False))
    return log, report, out


def _ego_yaws(log: SceneLog) -> np.ndarray:
    return np.array([np.arctan2(f.world_from_ego[1, 0], f.world_from_ego[0, 0]) for f in log.frames])


@pytest.mark.parametrize("name", sorted(STATIC_STRUCTURE_XY))
def test_no_vehicle_track_on_fences_or_hedges(drive_0013, name: str) -> None:
    log, _, _ = drive_0013
    spot = np.array(STATIC_STRUCTURE_XY[name])
    for track in log.tracks:
        distances = [float(np.linalg.norm(box.center[:2] - spot)) for box in track.boxes]
        assert min(distances) > 2.5, f"{track.track_id} ({'moving' if track.moving else 'static'}) sits on the {name}"


def test_the_real_vehicles_are_tracked(drive_0013) -> None:
    log, report, _ = drive_0013
    moving = [t for t in log.tracks if t.moving]
    print(f"{report.tracks} tracks, {report.moving_tracks} moving; evidence {report.track_evidence}")
    assert 4 <= len(moving) <= 8 and len(log.tracks) <= 12

    def ego_frame_xy(track, frame: int) -> np.ndarray | None:
        box = track.box_at(frame)
        if box is None:
            return None
        pose = log.frames[frame].world_from_ego
        return (pose[:3, :3].T @ (box.center - pose[:3, 3]))[:2]

    # frame 0: the black estate beside the ego in the right lane
    beside = [t for t in moving if (p := ego_frame_xy(t, 0)) is not None and -2 < p[0] < 8 and -5 < p[1] < -2]
    assert len(beside) == 1
    # frame 75: the car the ego follows, 10-30 m ahead in its lane
    ahead = [t for t in moving if (p := ego_frame_xy(t, 75)) is not None and 8 < p[0] < 30 and abs(p[1]) < 1.8]
    assert len(ahead) == 1
    # frames 81-99: the van oncoming beyond the median, moving against the ego
    oncoming = [t for t in moving if t.boxes[-1].center[1] > 15 and np.cos(t.boxes[-1].yaw - _ego_yaws(log)[-1]) < -0.9]
    assert len(oncoming) == 1


def test_moving_tracks_move_like_cars(drive_0013) -> None:
    log, _, _ = drive_0013
    for track in (t for t in log.tracks if t.moving):
        centers = np.array([b.center[:2] for b in track.boxes])
        times = np.array([log.frames[b.frame_index].timestamp for b in track.boxes])
        velocity = np.diff(centers, axis=0) / np.diff(times)[:, None]
        speed = np.linalg.norm(velocity, axis=1)
        assert speed.max() < 30.0, track.track_id
        fast = speed > 3.0
        yaws = np.array([b.yaw for b in track.boxes[1:]])
        along = np.cos(yaws[fast] - np.arctan2(velocity[fast, 1], velocity[fast, 0]))
        assert along.min() > 0.95, f"{track.track_id}: heading off its motion"
        acceleration = np.linalg.norm(np.diff(velocity, axis=0), axis=1) / np.diff(times)[1:]
        assert np.percentile(acceleration, 95) < 6.0, f"{track.track_id}: jitters"


def test_road_has_two_lanes_each_way_and_the_ego_in_its_lane(drive_0013) -> None:
    import carla

    log, report, out = drive_0013
    carla_map = load_carla_map("kitti_0013", (out / "road.xodr").read_text())
    positions, yaws = log.ego_positions(), _ego_yaws(log)
    check = check_ego_in_lane(carla_map, positions, yaws)
    assert check.fraction == 1.0, check.lane_ids
    assert report.lanes == 4

    x, y, z = positions[0]
    ego_lane = carla_map.get_waypoint(carla.Location(float(x), float(-y), float(z)), project_to_road=False)
    same = [ego_lane]
    right = ego_lane.get_right_lane()
    assert right is not None and right.lane_type == carla.LaneType.Driving
    same.append(right)
    # the dashed line between the two same-direction lanes: a lane change is legal and crossing it is an invasion
    assert ego_lane.right_lane_marking.type == carla.LaneMarkingType.Broken
    assert ego_lane.lane_change in (carla.LaneChange.Right, carla.LaneChange.Both)
    for lane in same:
        assert 3.0 <= lane.lane_width <= 4.0
        assert np.cos(np.radians(-lane.transform.rotation.yaw) - yaws[0]) > 0.95
    median = ego_lane.get_left_lane()
    assert median is not None and median.lane_type == carla.LaneType.Median and median.lane_width > 5.0
    # carla.Map walks each lane in its own direction: beyond the (oncoming-facing) median, the oncoming
    # lanes lie to its right
    oncoming = [median.get_right_lane()]
    oncoming.append(oncoming[0].get_right_lane())
    for lane in oncoming:
        assert lane is not None and lane.lane_type == carla.LaneType.Driving and lane.lane_id > 1
        assert np.cos(np.radians(-lane.transform.rotation.yaw) - yaws[0]) < -0.95
    # a route can start before the log's first pose and end after its last
    assert ego_lane.previous(50.0) and all(w.lane_type == carla.LaneType.Driving for w in ego_lane.previous(50.0))
    x, y, z = positions[-1]
    last = carla_map.get_waypoint(carla.Location(float(x), float(-y), float(z)), project_to_road=False)
    assert last.next(50.0)


def test_report_says_what_lidar_cannot_decide(drive_0013) -> None:
    _, report, out = drive_0013
    evidence = report.track_evidence
    assert evidence is not None and evidence.static_rejected.get("slides with the ego (static structure)", 0) >= 20
    tall = evidence.static_rejected.get("too tall", 0)
    assert tall >= 10 and evidence.undecided.startswith(f"{tall} static objects") and "look alike" in evidence.undecided
    assert evidence.undecided in (out / "ingest_report.json").read_text()
