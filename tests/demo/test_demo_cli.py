"""End-to-end: `recon-carla demo` (the README's first command) on the bundled reconstructed scene."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from recon_carla_bridge.paths import BUNDLED_SCENE_DIR, BUNDLED_SCENE_DIRS


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "recon_carla_bridge.cli", "demo", "--scene", "kitti", "--duration", "9",
         "--camera-scale", "0.125", "--out", str(out), "--render-backend", "cpu"],
        capture_output=True, text=True, timeout=900)
    return result, out


@pytest.fixture(scope="module")
def default_demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("demo_default")
    result = subprocess.run(
        [sys.executable, "-m", "recon_carla_bridge.cli", "demo", "--camera-scale", "0.125", "--out", str(out),
         "--render-backend", "cpu", "--quiet"],
        capture_output=True, text=True, timeout=900)
    return result, out


@pytest.mark.parametrize("scene", sorted(BUNDLED_SCENE_DIRS))
def test_bundled_scenes_are_shipped(scene: str) -> None:
    """The repository ships the scenes the demo needs (no ../shared on a user's machine)."""
    folder = BUNDLED_SCENE_DIRS[scene]
    for name in ("scene.gs", "road.xodr", "bundle.json", "recon_metrics.json", "REBUILD.md"):
        assert (folder / name).is_file(), name
    assert (folder / "scene.gs").stat().st_size <= 16 * 1024 * 1024


def test_default_demo_drives_through_the_street_of_drive_0013(
        default_demo_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    """`recon-carla demo` as the README runs it: 10 s through KITTI drive 0013 at the logged ego's speed, in
    its lane, past the logged traffic, with the street on camera in every frame."""
    result, out = default_demo_run
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scene"] == "2011_09_26_drive_0013_sync"
    assert metrics["sim_seconds"] == pytest.approx(10.0)
    assert metrics["target_speed_kmh"] > 35.0  # the log drives ~42 km/h
    assert 60.0 < metrics["distance_m"] < 115.0  # far along the street, still inside the 115 m reconstruction
    assert metrics["collisions"] == []
    assert metrics["max_lane_offset_m"] < 1.0
    first, last = metrics["other_vehicles_shown"]
    assert first >= 3 and last >= 3  # the logged cars stay in the world (more join as their log starts)
    count = 0
    for index, frame in enumerate(imageio.get_reader(str(out / "demo.mp4"))):
        count += 1
        if index % 10 == 9:  # one frame a second, the last included
            camera = frame[:, : frame.shape[1] // 2].astype(np.float32)
            assert camera.std() > 20, index  # a rendered street, not a flat fill
    assert count == 100


def test_demo_writes_video_bev_and_metrics(demo_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    result, out = demo_run
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sim_seconds"] == pytest.approx(9.0)  # past the end of the scene's 7.7 s log
    assert metrics["camera_frames"] == 90  # 10 Hz camera for 9 s
    first, last = metrics["other_vehicles_shown"]
    assert last >= first >= 10  # the logged traffic is still there after its log ended
    assert metrics["collisions"] == []
    assert metrics["max_lane_offset_m"] < 1.0  # BasicAgent keeps to its lane
    # frames per second of the whole driving loop, never more than of the time spent inside tick()
    assert 0 < metrics["camera_frames_per_wall_second"] <= metrics["camera_frames_per_tick_second"]
    assert metrics["driving_loop_seconds"] <= metrics["wall_seconds"]
    assert (out / "bev.png").stat().st_size > 10_000
    reader = imageio.get_reader(str(out / "demo.mp4"))
    frames = [frame for frame in reader]
    assert len(frames) == 90
    camera = frames[-1][:, : frames[-1].shape[1] // 2]
    assert camera.std() > 20  # a rendered street, not a flat image
    assert "demo: driving" in result.stderr  # progress is shown


def test_demo_rejects_an_unknown_config_key(tmp_path: Path) -> None:
    config = tmp_path / "demo.yaml"
    config.write_text("scene: kitti\nduraton_s: 3\n")
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "demo", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "duraton_s" in result.stderr and "duration_s" in result.stderr


def test_demo_reports_a_corrupt_scene(tmp_path: Path) -> None:
    scene = tmp_path / "broken"
    scene.mkdir()
    for name in ("road.xodr", "bundle.json"):
        (scene / name).write_bytes((BUNDLED_SCENE_DIR / name).read_bytes())
    (scene / "scene.gs").write_bytes((BUNDLED_SCENE_DIR / "scene.gs").read_bytes()[:1000])
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "demo", "--scene", str(scene),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "scene.gs" in result.stderr
    assert np.all([not (tmp_path / "out" / name).exists() for name in ("demo.mp4", "metrics.json")])
