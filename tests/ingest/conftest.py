"""Fixtures of the ingest tests: one real KITTI ingest per session, and small KITTI-layout copies."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recon_carla_bridge.ingest.pipeline import IngestConfig, IngestReport, ingest
from recon_carla_bridge.ingest.scenelog import SceneLog


@pytest.fixture(scope="session")
def kitti_src(shared_data: Path) -> Path:
    """The real KITTI raw drive."""
    return shared_data / "kitti_2011_09_26_drive"


@pytest.fixture(scope="session")
def kitti_ingest(kitti_src: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[SceneLog, IngestReport, Path]:
    """The KITTI drive ingested once (about half a minute on 2 cores): log, report, scene folder."""
    out = tmp_path_factory.mktemp("kitti") / "scene"
    log, report = ingest("kitti", kitti_src, out, IngestConfig(show_progress=False))
    return log, report, out


@pytest.fixture()
def small_kitti(kitti_src: Path, tmp_path: Path) -> Path:
    """A 4-frame KITTI-layout drive in tmp_path (real files copied from the drive), for bad-input tests."""
    drive = tmp_path / "drive"
    (drive / "image_02").mkdir(parents=True)
    (drive / "velodyne_points").mkdir()
    shutil.copytree(kitti_src / "calib", drive / "calib")
    for number in range(4):
        shutil.copy(kitti_src / "image_02" / f"{number:010d}.png", drive / "image_02")
        if number % 2 == 0:
            shutil.copy(kitti_src / "velodyne_points" / f"{number:010d}.bin", drive / "velodyne_points")
    return drive
