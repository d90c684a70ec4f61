"""The `ingest` and `inspect` sub-commands through the real CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from recon_carla_bridge.cli import main


def test_inspect_writes_pngs(kitti_ingest, tmp_path: Path, capsys) -> None:
    _, _, scene = kitti_ingest
    assert main(["inspect", str(scene), "--out", str(tmp_path / "pics"), "--frames", "3"]) == 0
    bev = np.asarray(Image.open(tmp_path / "pics" / "bev.png"))
    frames = np.asarray(Image.open(tmp_path / "pics" / "frames.png"))
    assert frames.shape[:2] == (3 * 375, 1242)
    assert bev.shape[0] > 500 and bev.std() > 10
    # boxes are drawn: saturated red/orange pixels appear in the strip
    reddish = (frames[..., 0] > 230) & (frames[..., 2] < 60) & (frames[..., 1] < 190)
    assert reddish.sum() > 2000
    assert "wrote" in capsys.readouterr().out


def test_inspect_rejects_a_non_scene(tmp_path: Path, capsys) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    assert "scene.json" in capsys.readouterr().err


def test_ingest_dgp_through_cli(shared_data: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "dgp"
    assert main(["ingest", "dgp", str(shared_data / "format_fixtures/dgp_scene_02"), "--out", str(out), "--quiet"]) == 0
    assert (out / "scene.json").is_file() and (out / "road.xodr").is_file()
    assert "actor tracks (log): 13" in capsys.readouterr().out
    assert main(["ingest", "dgp", str(shared_data / "format_fixtures/dgp_scene_02"), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_inspect_on_a_corrupt_image_or_scan_exits_2_naming_the_file(kitti_ingest, tmp_path: Path, capsys) -> None:
    """The docs promise exit 2 for bad input; a corrupt image or LiDAR file used to end in a traceback (exit 1)."""
    import json
    import os
    import shutil

    _, _, scene = kitti_ingest
    document = json.loads((scene / "scene.json").read_text())
    first = document["frames"][0]
    for kind, relative in (("image", next(iter(first["cameras"].values()))["image"]),
                           ("scan", next(iter(first["lidars"].values()))["points"])):
        copy = tmp_path / kind
        shutil.copytree(scene, copy, copy_function=os.link)  # hard links: the shared ingest stays intact
        (copy / relative).unlink()
        (copy / relative).write_bytes(b"\x89PNG\r\n\x1a\n garbage" if kind == "image" else b"\x93NUMPY garbage")
        assert main(["inspect", str(copy), "--out", str(tmp_path / f"{kind}_pics"), "--frames", "2"]) == 2
        assert relative.split("/")[-1] in capsys.readouterr().err
