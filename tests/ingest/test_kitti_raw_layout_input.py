"""Bad input in KITTI's raw layout (drive 0013's files, a few frames linked into a temporary folder):
without OXTS the poses come from LiDAR odometry; a missing calibration file, a truncated OXTS packet and
scans without images are refused with errors naming the file, and nothing is written."""
from __future__ import annotations

from pathlib import Path

import pytest

from recon_carla_bridge.cli import main
from recon_carla_bridge.ingest.pipeline import IngestConfig, ingest

FRAMES = 6  # images and OXTS packets 0-5, scans 0, 2, 4


@pytest.fixture()
def raw_0013(shared_data: Path, tmp_path: Path) -> Path:
    """A 6-frame copy of drive 0013 in KITTI's raw layout: links to the real files, shortened timestamps."""
    day = shared_data / "kitti_2011_09_26_drive_0013" / "2011_09_26"
    source = day / "2011_09_26_drive_0013_sync"
    if not source.is_dir():
        pytest.skip(f"{source} not found")
    target_day = tmp_path / "2011_09_26"
    drive = target_day / "2011_09_26_drive_0013_sync"
    for calib in day.glob("calib_*.txt"):
        target_day.mkdir(parents=True, exist_ok=True)
        (target_day / calib.name).symlink_to(calib)
    for folder, suffix, numbers in (("image_02", ".png", range(FRAMES)), ("oxts", ".txt", range(FRAMES)), ("velodyne_points", ".bin", range(0, FRAMES, 2))):
        (drive / folder / "data").mkdir(parents=True)
        for number in numbers:
            (drive / folder / "data" / f"{number:010d}{suffix}").symlink_to(source / folder / "data" / f"{number:010d}{suffix}")
        stamps = (source / folder / "timestamps.txt").read_text().splitlines()[:FRAMES]
        (drive / folder / "timestamps.txt").write_text("\n".join(stamps) + "\n")
    (drive / "oxts" / "dataformat.txt").symlink_to(source / "oxts" / "dataformat.txt")
    return drive


def _refused(drive: Path, out: Path, capsys) -> str:
    assert main(["ingest", "kitti", str(drive), "--out", str(out), "--quiet"]) == 2
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return error


def test_raw_layout_uses_oxts(raw_0013: Path, tmp_path: Path) -> None:
    _, report = ingest("kitti", raw_0013, tmp_path / "out", IngestConfig(show_progress=False, estimate_tracks=False))
    assert report.poses_from == "log" and report.frames == FRAMES and report.scans == 3
    assert 5.0 < report.trajectory_length_m < 8.0  # 0.5 s at ~42 km/h


def test_without_oxts_poses_come_from_lidar_odometry(raw_0013: Path, tmp_path: Path) -> None:
    for packet in (raw_0013 / "oxts" / "data").iterdir():
        packet.unlink()
    (raw_0013 / "oxts" / "data").rmdir()
    _, report = ingest("kitti", raw_0013, tmp_path / "out", IngestConfig(show_progress=False, estimate_tracks=False))
    assert report.poses_from.startswith("lidar odometry")
    assert 4.0 < report.trajectory_length_m < 9.0  # the same 0.5 s of driving, measured by KISS-ICP


def test_missing_calibration_file(raw_0013: Path, tmp_path: Path, capsys) -> None:
    (raw_0013.parent / "calib_imu_to_velo.txt").unlink()
    assert "calib_imu_to_velo.txt" in _refused(raw_0013, tmp_path / "out", capsys)


def test_truncated_oxts_packet(raw_0013: Path, tmp_path: Path, capsys) -> None:
    packet = raw_0013 / "oxts" / "data" / "0000000003.txt"
    text = packet.read_text()
    packet.unlink()
    packet.write_text(text[: len(text) // 2])
    error = _refused(raw_0013, tmp_path / "out", capsys)
    assert "0000000003.txt" in error and "OXTS packet" in error


def test_scans_without_images(raw_0013: Path, tmp_path: Path, capsys) -> None:
    (raw_0013 / "image_02" / "data" / "0000000004.png").unlink()
    (raw_0013 / "image_02" / "data" / "0000000005.png").unlink()
    error = _refused(raw_0013, tmp_path / "out", capsys)
    assert "0000000004.bin" in error and "no image" in error and "image_02" in error
