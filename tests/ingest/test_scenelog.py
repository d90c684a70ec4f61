"""SceneLog format: round trip, validation messages naming file and field, all-or-nothing writes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import (
    SCENE_LOG_VERSION,
    ActorBox,
    ActorTrack,
    CameraCalib,
    CameraFrame,
    Frame,
    GeoReference,
    LidarCalib,
    LidarScan,
    SceneLog,
    box_corners,
    load_scene_log,
    save_scene_log,
    write_scene_json,
)
from recon_carla_bridge.ingest.staging import staged_directory


def make_log(root: Path) -> SceneLog:
    """A two-frame log with one camera, one LiDAR and one track, its files written under root."""
    (root / "images" / "cam").mkdir(parents=True)
    (root / "lidar" / "lid").mkdir(parents=True)

    frames = []
    for i in range(2):
        Image.new("RGB", (64, 32), (i * 100, 50, 50)).save(root / f"images/cam/{i:06d}.jpg")
        np.save(root / f"lidar/lid/{i:06d}.npy", np.full((5, 4), i, dtype=np.float32))
        pose = np.eye(4)
        pose[0, 3] = float(i)
        frames.append(
            Frame(i, 0.1 * i, pose, {"cam": CameraFrame("cam", f"images/cam/{i:06d}.jpg", 0.1 * i)}, {"lid": LidarScan("lid", f"lidar/lid/{i:06d}.npy", 0.1 * i, 5)})
        )
    K = np.array([[50.0, 0, 32], [0, 50.0, 16], [0, 0, 1]])
    camera = CameraCalib("cam", K, 64, 32, np.eye(4))
    track = ActorTrack("car_1", "vehicle", np.array([4.0, 1.8, 1.5]), True, [ActorBox(0, np.array([5.0, 0, 0.75]), 0.0), ActorBox(1, np.array([6.0, 0, 0.75]), 0.1)])
    return SceneLog("t", "test", "ground", np.array([4.5, 1.8, 1.5]), {"cam": camera}, {"lid": LidarCalib("lid", np.eye(4))}, frames, [track], GeoReference(49.0, 8.4, 0.0, "test"), None, {"a": "b"}, root)


def test_round_trip(tmp_path: Path) -> None:
    log = make_log(tmp_path / "a")
    write_scene_json(log, tmp_path / "a")
    loaded = load_scene_log(tmp_path / "a")
    assert json.loads((tmp_path / "a" / "scene.json").read_text())["version"] == SCENE_LOG_VERSION
    assert len(loaded.frames) == 2 and loaded.frames[1].world_from_ego[0, 3] == 1.0
    assert loaded.track_by_id("car_1").box_at(1).yaw == pytest.approx(0.1)
    assert loaded.load_points(1, "lid").shape == (5, 4)
    copy = save_scene_log(loaded, tmp_path / "b")
    again = load_scene_log(copy)
    assert again.provenance == {"a": "b"} and again.geo_reference.latitude == 49.0
    assert np.allclose(again.cameras["cam"].K, log.cameras["cam"].K)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["frames"][1].update(world_from_ego=[[2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "frames[1].world_from_ego"),
        (lambda d: d["frames"][1].update(timestamp=0.0), "frames[1].timestamp"),
        (lambda d: d["frames"][0]["cameras"]["cam"].update(image="images/cam/missing.jpg"), "frames[0].cameras.cam.image"),
        (lambda d: d["frames"][0]["cameras"]["cam"].update(image="../outside.jpg"), "frames[0].cameras.cam.image"),
        (lambda d: d["tracks"][0].update(category="spaceship"), "tracks[0].category"),
        (lambda d: d["tracks"][0]["boxes"][1].update(frame=7), "tracks[0].boxes[1].frame"),
        (lambda d: d["cameras"]["cam"].pop("K"), "cameras.cam.K"),
        (lambda d: d.update(version=SCENE_LOG_VERSION + 1), "version"),
    ],
)
def test_loader_names_the_bad_field(tmp_path: Path, edit, field: str) -> None:
    root = tmp_path / "s"
    write_scene_json(make_log(root), root)
    document = json.loads((root / "scene.json").read_text())
    edit(document)
    (root / "scene.json").write_text(json.dumps(document))
    with pytest.raises(InputError) as caught:
        load_scene_log(root)
    assert "scene.json" in str(caught.value) and field in str(caught.value)


def test_loader_rejects_non_json(tmp_path: Path) -> None:
    (tmp_path / "scene.json").write_text("{not json")
    with pytest.raises(InputError, match="scene.json: not valid JSON"):
        load_scene_log(tmp_path)


def test_staged_directory_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), staged_directory(target) as staging:
        (staging / "half.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with staged_directory(target) as staging:
        (staging / "done.txt").write_text("x")
    assert (target / "done.txt").is_file() and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(InputError, match="already exists"), staged_directory(target):
        pass


def test_box_corners_span_the_box() -> None:
    corners = box_corners(np.array([1.0, 2.0, 3.0]), np.array([4.0, 2.0, 1.0]), np.pi / 2)
    assert np.allclose(corners.mean(axis=0), [1, 2, 3])
    assert np.allclose(np.ptp(corners, axis=0), [2, 4, 1])
    assert np.allclose(corners[0], [0, 4, 2.5])  # front-left-bottom: front is +y after a 90 degree turn


def test_image_store_keeps_source_bytes_or_writes_png(tmp_path: Path) -> None:
    """RGB JPEG and PNG sources are stored byte for byte; other images become PNG, which is lossless."""
    from recon_carla_bridge.ingest.rawlog import ImageSource

    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    png, jpg, grey = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "c.png"
    Image.fromarray(pixels).save(png)
    Image.fromarray(pixels).save(jpg, quality=80)
    Image.fromarray(pixels[..., 0]).save(grey)
    out = tmp_path / "out"
    out.mkdir()
    for source, expected_suffix in ((png, ".png"), (jpg, ".jpg")):
        stored = ImageSource(source, 24, 16).store(out / source.stem)
        assert stored.suffix == expected_suffix and stored.read_bytes() == source.read_bytes()
    stored = ImageSource(grey, 24, 16).store(out / "grey")
    assert stored.suffix == ".png"
    assert np.array_equal(np.asarray(Image.open(stored)), np.repeat(pixels[..., :1], 3, axis=2))
    encoded = jpg.read_bytes()  # a container's embedded JPEG (Waymo) is written out as it is
    stored = ImageSource(tmp_path / "log.tfrecord", 24, 16, data=encoded).store(out / "embedded")
    assert stored.name == "embedded.jpg" and stored.read_bytes() == encoded


def test_image_store_rejects_corrupt_image(tmp_path: Path) -> None:
    from recon_carla_bridge.ingest.rawlog import ImageSource

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InputError, match="bad.png: cannot decode image"):
        ImageSource(bad, 24, 16).store(tmp_path / "stored")
    assert not list(tmp_path.glob("stored*"))
