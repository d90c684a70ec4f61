"""KITTI raw: the real drive ingested (poses, tracks, road, reprojection) and bad-input handling."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from recon_carla_bridge.cli import main
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.readers.kitti import read_kitti
from recon_carla_bridge.ingest.readers.kitti_calib import load_kitti_calibration
from recon_carla_bridge.ingest.scenelog import load_scene_log
from recon_carla_bridge.roadnet.check import check_ego_in_lane, load_carla_map


def test_calibration_matches_the_kitti_setup(kitti_src: Path) -> None:
    calib = load_kitti_calibration(kitti_src / "calib")
    assert (calib.width, calib.height) == (1242, 375)
    assert np.isclose(calib.K[0, 0], 721.5377)
    # camera 2 sits about 0.27 m ahead of the Velodyne and a little lower (KITTI setup drawing)
    cam_in_velo = np.linalg.inv(calib.cam_from_velo)[:3, 3]
    assert 0.2 < cam_in_velo[0] < 0.35 and -0.15 < cam_in_velo[2] < 0.0
    # its optical axis looks along the Velodyne's x axis
    assert np.linalg.inv(calib.cam_from_velo)[0, 2] > 0.99


def test_ingest_time_and_size(kitti_ingest) -> None:
    _, report, out = kitti_ingest
    assert report.seconds < 300
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert size <= 90 * 2**20, f"scene is {size / 2**20:.1f} MiB"  # 53 MiB of them the drive's own PNGs
    loaded = load_scene_log(out)
    assert len(loaded.frames) == 78 and sum(len(f.lidars) for f in loaded.frames) == 39
    assert all(not Path(f.cameras["image_02"].image).is_absolute() for f in loaded.frames)


def test_images_are_the_drives_own_bytes(kitti_ingest, kitti_src: Path) -> None:
    """The ground truth the reconstruction is trained and scored on is the logged image, not a re-encoding."""
    log, _, _ = kitti_ingest
    for frame in (log.frames[0], log.frames[-1]):
        stored = log.path(frame.cameras["image_02"].image)
        assert stored.suffix == ".png"
        assert stored.read_bytes() == (kitti_src / "image_02" / f"{frame.index:010d}.png").read_bytes()


def test_poses_are_smooth(kitti_ingest) -> None:
    log, report, _ = kitti_ingest
    positions = log.ego_positions()
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    assert steps.max() < 0.5
    assert 4.0 < report.trajectory_length_m < 15.0  # the ego creeps a few metres in stop-and-go traffic
    assert np.isclose(report.trajectory_length_m, steps.sum())
    # acceleration bounded: no kink between consecutive frames (10 Hz)
    assert np.abs(np.diff(steps)).max() < 0.1
    print(f"trajectory length {report.trajectory_length_m:.2f} m, largest step {steps.max():.3f} m")


def test_static_points_reproject_onto_image_edges(kitti_ingest) -> None:
    _, report, _ = kitti_ingest
    r = report.reprojection
    assert r is not None and r.pairs >= 70 and r.points > 5000
    print(f"reprojection median {r.median_px:.2f} px (p75 {r.p75_px:.2f}); shifted pose {r.shifted_median_px:.2f} px")
    assert r.median_px < 4.0
    assert r.shifted_median_px > 1.5 * r.median_px


def test_vehicle_tracks_found(kitti_ingest) -> None:
    log, _, _ = kitti_ingest
    vehicles = [t for t in log.tracks if t.category == "vehicle"]
    assert len(vehicles) >= 5
    # the car right ahead of the ego in its lane is tracked over the whole log and moves
    ahead = [t for t in vehicles if len(t.boxes) == 78 and all(abs(b.center[1]) < 1.0 for b in t.boxes)
             and all(3.0 < b.center[0] - log.frames[b.frame_index].world_from_ego[0, 3] < 12.0 for b in t.boxes)]
    assert len(ahead) == 1 and ahead[0].moving
    # the queue of cars in the lane to the left (about +3.5 m) is found too
    left = [t for t in vehicles if 2.5 < np.median([b.center[1] for b in t.boxes]) < 4.5 and np.median([b.center[0] for b in t.boxes]) > -20]
    assert len(left) >= 5
    for track in vehicles:
        centers = np.array([b.center for b in track.boxes])
        if len(centers) > 1:
            assert np.linalg.norm(np.diff(centers, axis=0), axis=1).max() < 2.0  # < 20 m/s, no jumps


def test_opendrive_loads_and_ego_in_lane(kitti_ingest) -> None:
    log, report, out = kitti_ingest
    text = (out / "road.xodr").read_text()
    assert "<geoReference>" in text and "approximate" in text
    carla_map = load_carla_map("kitti", text)
    yaws = np.array([np.arctan2(f.world_from_ego[1, 0], f.world_from_ego[0, 0]) for f in log.frames])
    check = check_ego_in_lane(carla_map, log.ego_positions(), yaws)
    print(f"ego in a driving lane in {100 * check.fraction:.1f} % of frames; lanes {report.lanes} x {report.lane_width_m:.2f} m")
    assert check.fraction >= 0.95
    assert report.lanes >= 2 and 2.8 <= report.lane_width_m <= 4.0


def _run_ingest(src: Path, out: Path) -> int:
    return main(["ingest", "kitti", str(src), "--out", str(out), "--quiet"])


def _assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_truncated_bin(small_kitti: Path, tmp_path: Path, capsys) -> None:
    scan = small_kitti / "velodyne_points" / "0000000002.bin"
    scan.write_bytes(scan.read_bytes()[:100003])
    with pytest.raises(InputError, match="0000000002.bin: truncated"):
        read_kitti(small_kitti)
    assert _run_ingest(small_kitti, tmp_path / "out") == 2
    assert "0000000002.bin" in capsys.readouterr().err
    _assert_nothing_written(tmp_path / "out")


def test_missing_calibration(small_kitti: Path, tmp_path: Path, capsys) -> None:
    os.remove(small_kitti / "calib" / "calib_velo_to_cam.txt")
    assert _run_ingest(small_kitti, tmp_path / "out") == 2
    assert "calib_velo_to_cam.txt: calibration file is missing" in capsys.readouterr().err
    _assert_nothing_written(tmp_path / "out")


def test_image_of_wrong_size(small_kitti: Path, tmp_path: Path, capsys) -> None:
    from PIL import Image

    path = small_kitti / "image_02" / "0000000001.png"
    Image.open(path).resize((621, 188)).save(path)
    assert _run_ingest(small_kitti, tmp_path / "out") == 2
    error = capsys.readouterr().err
    assert "0000000001.png: image is 621x188" in error and "1242x375" in error
    _assert_nothing_written(tmp_path / "out")


def test_small_drive_ingests(small_kitti: Path, tmp_path: Path) -> None:
    assert _run_ingest(small_kitti, tmp_path / "out") == 0
    log = load_scene_log(tmp_path / "out")
    assert len(log.frames) == 4 and log.frames[1].lidars == {} and "velodyne" in log.frames[2].lidars
