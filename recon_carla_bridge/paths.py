"""Where recon_carla_bridge finds its data: map folders, the bundled scene, the shared real data."""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
BUNDLED_DATA_DIR = PACKAGE_DIR / "data"
BUNDLED_MAPS_DIR = BUNDLED_DATA_DIR / "maps"
BUNDLED_SCENE_DIR = BUNDLED_DATA_DIR / "kitti_scene"  # KITTI 2011_09_26, the 78-frame stop-and-go drive ('kitti')
BUNDLED_SCENE_0013_DIR = BUNDLED_DATA_DIR / "kitti_0013_scene"  # KITTI drive 0013, 115 m of street ('kitti_0013')
BUNDLED_SCENE_DIRS = {"kitti_0013": BUNDLED_SCENE_0013_DIR, "kitti": BUNDLED_SCENE_DIR}
DEFAULT_SCENE = "kitti_0013"


def user_scene_dirs() -> list[Path]:
    """Folders holding the user's scenes ($RECON_CARLA_SCENE_DIRS, os.pathsep-separated): each scene is a
    sub-folder (its name is the scene's name) with scene.gs and bundle.json."""
    override = os.environ.get("RECON_CARLA_SCENE_DIRS", "")
    return [Path(p) for p in override.split(os.pathsep) if p]


def shared_data_dir() -> Path:
    """The real-data folder: $RECON_CARLA_SHARED_DATA, else ../shared/data beside the repository."""
    override = os.environ.get("RECON_CARLA_SHARED_DATA")
    if override:
        return Path(override)
    return REPO_ROOT.parent / "shared" / "data"


def default_map_dirs() -> list[Path]:
    """Folders searched for `<Town>.xodr`, first match wins.

    $RECON_CARLA_MAP_DIRS (os.pathsep-separated) comes first, then the shared CARLA towns when
    present, then the maps bundled with the package.
    """
    dirs: list[Path] = []
    override = os.environ.get("RECON_CARLA_MAP_DIRS")
    if override:
        dirs.extend(Path(p) for p in override.split(os.pathsep) if p)
    shared_maps = shared_data_dir() / "carla_maps"
    if shared_maps.is_dir():
        dirs.append(shared_maps)
    dirs.append(BUNDLED_MAPS_DIR)
    return dirs


def chmod_like_new_file(path: str | os.PathLike[str]) -> None:
    """Give a file made by `tempfile.mkstemp` (always 0600) the mode `open()` would have given it: 0666 less the
    umask, so results written atomically are shared as the user's other files are."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)
