"""The .gs file: round trip, size of the bundled scene, and clear errors on bad files."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_SCENE_DIR
from recon_carla_bridge.recon.scene_file import (
    FORMAT_VERSION,
    MAGIC,
    load_ego_poses,
    load_scene,
    save_scene,
)

from .synthetic import random_scene

MAX_BUNDLED_BYTES = 16 * 2**20


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    scene = random_scene(200, 4)
    size = save_scene(scene, tmp_path / "scene.gs")
    loaded = load_scene(tmp_path / "scene.gs")
    assert size == (tmp_path / "scene.gs").stat().st_size
    torch.testing.assert_close(loaded.background.means, scene.background.means, atol=0, rtol=0)  # float32 kept
    torch.testing.assert_close(loaded.background.sh, scene.background.sh, atol=2e-3, rtol=1e-3)  # float16
    torch.testing.assert_close(loaded.background.log_scales, scene.background.log_scales, atol=2e-3, rtol=1e-3)
    assert torch.equal(loaded.background.semantic, scene.background.semantic)
    actor, original = loaded.actors["car0"], scene.actors["car0"]
    assert (actor.category, actor.moving) == ("vehicle", True)
    assert torch.equal(actor.frame_indices, original.frame_indices)
    torch.testing.assert_close(actor.gaussians.means, original.gaussians.means, atol=0, rtol=0)
    torch.testing.assert_close(loaded.sky.texture, scene.sky.texture, atol=1e-3, rtol=0)
    assert loaded.metadata == scene.metadata


def test_refined_ego_trajectory_round_trips_and_version_1_files_still_load(tmp_path: Path) -> None:
    import dataclasses

    poses = torch.eye(4, dtype=torch.float64).repeat(5, 1, 1)
    poses[:, 0, 3] = torch.linspace(0.0, 4.0, 5, dtype=torch.float64) + 1e-9  # float64 kept to the nanometre
    scene = dataclasses.replace(random_scene(30, 1), ego_poses=poses)
    save_scene(scene, tmp_path / "ego.gs")
    assert torch.equal(load_scene(tmp_path / "ego.gs").ego_poses, poses)
    assert torch.equal(load_ego_poses(tmp_path / "ego.gs"), poses)  # without building the Gaussians
    save_scene(random_scene(30, 1), tmp_path / "plain.gs")  # no refined trajectory: the log's is the scene's
    blob = (tmp_path / "plain.gs").read_bytes()
    (tmp_path / "v1.gs").write_bytes(_older_layout(blob, 1))
    old = load_scene(tmp_path / "v1.gs")
    assert old.ego_poses is None and load_ego_poses(tmp_path / "v1.gs") is None
    logged = torch.eye(4, dtype=torch.float64)
    assert torch.equal(old.camera_pose(2, logged, torch.eye(4)), logged)
    mount = torch.eye(4, dtype=torch.float64)
    mount[2, 3] = 1.5
    assert torch.allclose(load_scene(tmp_path / "ego.gs").camera_pose(2, logged, mount)[:3, 3],
                          torch.tensor([2.0, 0.0, 1.5], dtype=torch.float64))
    with pytest.raises(InputError, match="log frame 5: the scene's refined ego trajectory has 5 frames"):
        load_scene(tmp_path / "ego.gs").camera_pose(5, logged, mount)


def test_malformed_ego_trajectory_is_reported(tmp_path: Path) -> None:
    import dataclasses

    poses = torch.eye(4, dtype=torch.float64).repeat(3, 1, 1)
    poses[1, 0, 3] = float("nan")
    save_scene(dataclasses.replace(random_scene(30, 1), ego_poses=poses), tmp_path / "nan.gs")
    with pytest.raises(InputError, match="ego/world_from_ego"):
        load_scene(tmp_path / "nan.gs")
    with pytest.raises(InputError, match="nan.gs: corrupt GaussianScene contents"):
        load_ego_poses(tmp_path / "nan.gs")


def _saved(tmp_path: Path) -> bytes:
    save_scene(random_scene(50, 1), tmp_path / "ok.gs")
    return (tmp_path / "ok.gs").read_bytes()


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    blob = _saved(tmp_path)
    for cut in (5, 30, len(blob) - 7):
        (tmp_path / "cut.gs").write_bytes(blob[:cut])
        with pytest.raises(InputError, match="truncated"):
            load_scene(tmp_path / "cut.gs")


def test_corrupt_payload_and_header_are_reported(tmp_path: Path) -> None:
    blob = bytearray(_saved(tmp_path))
    blob[-100] ^= 0xFF
    (tmp_path / "bad.gs").write_bytes(bytes(blob))
    with pytest.raises(InputError, match="corrupt"):
        load_scene(tmp_path / "bad.gs")
    blob = bytearray(_saved(tmp_path))
    blob[struct.calcsize("<8sIQ") + 2] = ord("#")  # break the JSON header
    (tmp_path / "bad_header.gs").write_bytes(bytes(blob))
    with pytest.raises(InputError, match="corrupt"):
        load_scene(tmp_path / "bad_header.gs")


def test_newer_version_and_foreign_file_are_refused(tmp_path: Path) -> None:
    blob = _saved(tmp_path)
    newer = struct.pack("<8sI", MAGIC, FORMAT_VERSION + 1) + blob[12:]
    (tmp_path / "newer.gs").write_bytes(newer)
    with pytest.raises(InputError, match="newer"):
        load_scene(tmp_path / "newer.gs")
    (tmp_path / "png.gs").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(InputError, match="not a GaussianScene"):
        load_scene(tmp_path / "png.gs")
    with pytest.raises(InputError, match="does not exist"):
        load_scene(tmp_path / "missing.gs")


def test_bundled_scene_fits_and_renders_cars_and_road() -> None:
    path = BUNDLED_SCENE_DIR / "scene.gs"
    if not path.is_file():
        pytest.skip("no bundled scene")
    assert path.stat().st_size <= MAX_BUNDLED_BYTES
    scene = load_scene(path)
    assert scene.gaussian_count() > 50_000 and len(scene.actors) > 0
    import json

    import numpy as np

    from recon_carla_bridge.recon.camera import CameraBatch
    from recon_carla_bridge.recon.render import render
    from recon_carla_bridge.recon.semantics import CarlaTag

    doc = json.loads((BUNDLED_SCENE_DIR / "scene.json").read_text())
    _, calib = next(iter(doc["cameras"].items()))
    frame = doc["frames"][40]
    pose = np.array(frame["world_from_ego"]) @ np.array(calib["ego_from_camera"])
    camera = CameraBatch.from_numpy(pose, np.array(calib["K"]), calib["width"], calib["height"]).scaled(310, 94)
    out = render(scene, camera, scene.logged_actor_poses(40), backend="cpu")
    tags = set(out.semantic.unique().tolist())
    assert {int(CarlaTag.CAR), int(CarlaTag.ROADS), int(CarlaTag.SKY)} <= tags
    assert 0.2 < float(out.rgb.mean()) < 0.8


def _older_layout(blob: bytes, version: int) -> bytes:
    """A version-1/2 file (no header checksum) with the header and payload of a current file."""
    _, _, header_len = struct.unpack_from("<8sIQ", blob)
    return struct.pack("<8sIQ", MAGIC, version, header_len) + blob[24:]


def _header_span(blob: bytes) -> tuple[int, int]:
    _, _, header_len = struct.unpack_from("<8sIQ", blob)
    return 24, 24 + header_len


def test_a_flipped_bit_in_the_header_is_refused_naming_the_file(tmp_path: Path) -> None:
    """Version 3 puts the header under a checksum: an actor's size, a dtype's byte order or the actor list can no
    longer change silently (before, one flip made a box 41 m long or byte-swapped every position)."""
    blob = _saved(tmp_path)
    start, end = _header_span(blob)
    header = blob[start:end]
    for target in (b'"size": [', b'"<f4"', b'"track_id"'):
        position = start + header.index(target) + len(target) - 2
        for bit in (0, 3, 6):
            flipped = bytearray(blob)
            flipped[position] ^= 1 << bit
            (tmp_path / "flip.gs").write_bytes(bytes(flipped))
            with pytest.raises(InputError, match="flip.gs.*header checksum"):
                load_scene(tmp_path / "flip.gs")


def test_older_files_with_a_foreign_dtype_or_non_finite_means_are_refused(tmp_path: Path) -> None:
    """Files without a header checksum (version 2) are still checked: dtypes must be the format's, values finite."""
    blob = _older_layout(_saved(tmp_path), 2)
    swapped = blob.replace(b'"<f4"', b'">f4"', 1)
    (tmp_path / "swapped.gs").write_bytes(swapped)
    with pytest.raises(InputError, match="swapped.gs.*dtype '>f4'"):
        load_scene(tmp_path / "swapped.gs")
    for garbage in (b'"(f4"', b'"<f4,"', b'"O"'):  # numpy raises SyntaxError/TypeError on some of these
        (tmp_path / "garbage.gs").write_bytes(blob.replace(b'"<f4"', garbage, 1))
        with pytest.raises(InputError, match="garbage.gs"):
            load_scene(tmp_path / "garbage.gs")
    scene = random_scene(20, 1)
    scene.background.means[3, 1] = float("nan")
    save_scene(scene, tmp_path / "nan.gs")
    with pytest.raises(InputError, match="nan.gs.*background/means.*non-finite"):
        load_scene(tmp_path / "nan.gs")
    scene.background.means[3, 1] = 1e38
    save_scene(scene, tmp_path / "far.gs")
    with pytest.raises(InputError, match="far.gs.*beyond"):
        load_scene(tmp_path / "far.gs")
