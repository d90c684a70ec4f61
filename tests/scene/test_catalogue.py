"""Scenes by name: the catalogue (`recon-carla scenes`), user scenes from $RECON_CARLA_SCENE_DIRS, the route
file each bundled scene ships."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import recon_carla_bridge
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.leaderboard.routes import parse_routes_file
from recon_carla_bridge.paths import BUNDLED_SCENE_DIRS, DEFAULT_SCENE
from recon_carla_bridge.scene.catalogue import catalogue, scene_folders
from recon_carla_bridge.scene.scene_world import load_place_map, resolve_scene_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_catalogue_lists_both_kitti_drives_with_their_figures() -> None:
    entries = {entry.name: entry for entry in catalogue()}
    assert DEFAULT_SCENE == "kitti_0013" and {"kitti", "kitti_0013"} <= set(entries)
    street, short = entries["kitti_0013"], entries["kitti"]
    assert street.frames == 100 and 100.0 < street.drive_length_m < 130.0  # ~115 m of street
    assert short.frames == 78 and short.drive_length_m < 10.0  # the 8 m stop-and-go drive
    for entry in (street, short):
        assert entry.bundled and entry.gaussians and entry.gaussians > 100_000
        assert entry.held_out_psnr is not None and 10.0 < entry.held_out_psnr < 40.0


def test_scenes_command_prints_the_catalogue() -> None:
    result = subprocess.run([sys.executable, "-m", "recon_carla_bridge.cli", "scenes", "--json"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    names = [entry["name"] for entry in json.loads(result.stdout)]
    assert names[:2] == ["kitti_0013", "kitti"]


def test_a_user_scene_opens_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder in $RECON_CARLA_SCENE_DIRS is a scene by its name: load_world and the catalogue find it."""
    (tmp_path / "my_street").symlink_to(BUNDLED_SCENE_DIRS["kitti"], target_is_directory=True)
    monkeypatch.setenv("RECON_CARLA_SCENE_DIRS", os.pathsep.join([str(tmp_path / "absent"), str(tmp_path)]))
    assert scene_folders()["my_street"] == tmp_path / "my_street"
    assert [e.name for e in catalogue() if not e.bundled] == ["my_street"]
    world = recon_carla_bridge.Client().load_world("my_street")
    assert world.get_map().name == "my_street"
    assert len(world.get_actors().filter("vehicle.*")) >= 10  # the logged traffic of the 78-frame drive


def test_an_unknown_scene_name_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match="kitti_0013"):
        resolve_scene_dir("kitti_0014")


@pytest.mark.parametrize("scene", sorted(BUNDLED_SCENE_DIRS))
def test_each_bundled_scene_ships_a_route_along_its_road(scene: str) -> None:
    route = parse_routes_file(REPO / "scenarios" / "routes" / f"{scene}.xml", None, None)[0]
    assert route.town == scene
    planned = plan_route(route, load_place_map(scene), 0)
    assert planned.length > (100.0 if scene == "kitti_0013" else 40.0)
