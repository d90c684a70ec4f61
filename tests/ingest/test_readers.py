"""Readers on the format fixtures in ../shared/data/format_fixtures, and their bad-input messages."""
from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.pipeline import IngestConfig, ingest
from recon_carla_bridge.ingest.readers.dgp import read_dgp
from recon_carla_bridge.ingest.readers.nuscenes import read_nuscenes
from recon_carla_bridge.ingest.scenelog import invert_pose, load_scene_log

NUSCENES = "format_fixtures/nuscenes_one_keyframe"
DGP = "format_fixtures/dgp_scene_02"
WAYMO = "format_fixtures/pvps_data_one_frame.tfrecord"


def points_in_boxes(points: np.ndarray, tracks) -> int:
    total = 0
    for track in tracks:
        box = track.boxes[0]
        local = (invert_pose(box.world_from_box()) @ np.c_[points[:, :3], np.ones(len(points))].T).T[:, :3]
        total += int(np.all(np.abs(local) <= track.size / 2, axis=1).sum())
    return total


def test_nuscenes_reader(shared_data: Path) -> None:
    raw = read_nuscenes(shared_data / NUSCENES)
    assert sorted(raw.cameras) == sorted(["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"])
    assert (raw.cameras["CAM_FRONT"].width, raw.cameras["CAM_FRONT"].height) == (1600, 900)
    assert len(raw.frames) == 1 and raw.has_poses
    assert len(raw.tracks) == 66  # 69 boxes, 3 marked invalid
    points = raw.frames[0].scans["LIDAR_TOP"].load()
    vehicles = [t for t in raw.tracks if t.category == "vehicle"]
    # The annotated boxes (already in the ego frame) hold the LiDAR returns of their cars.
    assert points_in_boxes(points, vehicles) > 400
    front = raw.cameras["CAM_FRONT"].ego_from_camera
    assert front[0, 2] > 0.99  # the front camera's optical axis points along ego x


def test_nuscenes_corrupt_pkl(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / NUSCENES
    for path in source.iterdir():
        shutil.copy(path, tmp_path)
    pkl = next(tmp_path.glob("*.pkl"))
    pkl.write_bytes(pkl.read_bytes()[:500])
    out = tmp_path / "scene"
    with pytest.raises(InputError, match=re.escape(pkl.name)):
        ingest("nuscenes", tmp_path, out, IngestConfig(show_progress=False))
    assert not out.exists() and not list(tmp_path.glob(".scene*"))


def test_dgp_reader(shared_data: Path) -> None:
    raw = read_dgp(shared_data / DGP)
    assert len(raw.frames) == 3 and len(raw.cameras) == 6
    assert all(len(frame.images) == 6 and "LIDAR" in frame.scans for frame in raw.frames)
    assert np.diff([f.timestamp for f in raw.frames]).min() > 0.9
    assert len(raw.tracks) == 13 and all(len(t.boxes) == 3 for t in raw.tracks)
    points = raw.frames[0].scans["LIDAR"].load()
    near = [t for t in raw.tracks if np.linalg.norm(t.boxes[0].center[:2]) < 40 and t.category == "vehicle"]
    assert points_in_boxes(points, near) > 100


def test_dgp_and_nuscenes_ingest(shared_data: Path, tmp_path: Path) -> None:
    for name, src in (("dgp", DGP), ("nuscenes", NUSCENES)):
        _, report = ingest(name, shared_data / src, tmp_path / name, IngestConfig(show_progress=False))
        loaded = load_scene_log(tmp_path / name)
        assert loaded.source == name and len(loaded.tracks) == report.tracks
        first = loaded.frames[0].world_from_ego  # world origin at the first ego pose, x along its heading
        assert np.allclose(first[:3, 3], 0.0) and abs(first[1, 0]) < 1e-9 and first[0, 0] > 0.99
        assert report.ego_in_lane_fraction == 1.0


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("waymo_open_dataset", "tfrecord", "crc32c")),
    reason="waymo-open-dataset protos / tfrecord not installed (pip install --no-deps waymo-open-dataset-tf-2-12-0)",
)
def test_waymo_reader(shared_data: Path, tmp_path: Path) -> None:
    from recon_carla_bridge.ingest.readers.waymo import read_waymo

    raw = read_waymo(shared_data / WAYMO)
    assert sorted(raw.cameras) == sorted(["FRONT", "FRONT_LEFT", "FRONT_RIGHT", "SIDE_LEFT", "SIDE_RIGHT"])
    assert raw.frames[0].images["FRONT"].load().size == (1920, 1280)
    assert len(raw.tracks) == 50 and {t.category for t in raw.tracks} <= {"vehicle", "pedestrian", "cyclist"}
    # the front camera looks along the vehicle's x axis in OpenCV axes
    assert raw.cameras["FRONT"].ego_from_camera[0, 2] > 0.99
    truncated = tmp_path / "cut.tfrecord"
    truncated.write_bytes((shared_data / WAYMO).read_bytes()[:1000])
    with pytest.raises(InputError, match=re.escape("cut.tfrecord")):
        read_waymo(truncated)
