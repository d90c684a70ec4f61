"""Scenes by name: the bundled scenes and the user's ($RECON_CARLA_SCENE_DIRS), with what each holds.

A scene is a folder with `scene.gs` (the GaussianScene), `bundle.json` (ego trajectory, cameras) and
`road.xodr`; `recon_metrics.json` beside them, when present, holds its training run's held-out scores.
`scene_folders()` maps names to folders (bundled names first; a user scene cannot shadow a bundled one);
`describe_scene` reads what `recon-carla scenes` prints.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import BUNDLED_SCENE_DIRS, user_scene_dirs
from recon_carla_bridge.scene.bundle import BUNDLE_FILE, load_scene_bundle

SCENE_FILE = "scene.gs"
METRICS_FILE = "recon_metrics.json"


def is_scene_folder(path: Path) -> bool:
    """Whether `path` is a scene folder (a trained scene.gs and its bundle.json)."""
    return path.is_dir() and (path / SCENE_FILE).is_file() and (path / BUNDLE_FILE).is_file()


def scene_folders() -> dict[str, Path]:
    """Scene name -> folder: the bundled scenes, then each scene folder inside $RECON_CARLA_SCENE_DIRS."""
    folders = dict(BUNDLED_SCENE_DIRS)
    for root in user_scene_dirs():
        if not root.is_dir():
            continue
        for child in sorted(root.iterdir()):
            if is_scene_folder(child) and child.name not in folders:
                folders[child.name] = child
    return folders


def find_scene(name: str | os.PathLike[str]) -> Path | None:
    """The folder of the scene named `name` (a catalogue name), or None when no scene has that name."""
    return scene_folders().get(str(name))


@dataclass(frozen=True)
class SceneEntry:
    """One line of the catalogue.

    Attributes:
        name: the name `load_world`, `Client(scene=...)`, scenario and route files use.
        folder: where the scene lives.
        bundled: shipped with the package (else a user scene).
        frames: logged frames of its ego trajectory.
        drive_length_m: length of the logged ego path [m].
        duration_s: logged time span [s].
        gaussians: Gaussians in scene.gs (None when unknown).
        held_out_psnr, held_out_ssim: held-out scores as the simulator renders the scene (None when the
            folder has no metrics).
    """

    name: str
    folder: Path
    bundled: bool
    frames: int
    drive_length_m: float
    duration_s: float
    gaussians: int | None
    held_out_psnr: float | None
    held_out_ssim: float | None


def describe_scene(name: str, folder: Path, bundled: bool) -> SceneEntry:
    """The catalogue entry of a scene folder (reads bundle.json and recon_metrics.json, not the Gaussians)."""
    bundle = load_scene_bundle(folder)
    path = bundle.world_from_ego[:, :3, 3]
    length = float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()) if len(path) > 1 else 0.0
    metrics: dict = {}
    metrics_path = folder / METRICS_FILE
    if metrics_path.is_file():
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{metrics_path}: unreadable metrics ({error})") from None

    def number(*keys: str) -> float | None:
        for key in keys:
            if isinstance(metrics.get(key), (int, float)):
                return float(metrics[key])
        return None

    gaussians = number("gaussians")
    return SceneEntry(name=name, folder=folder, bundled=bundled, frames=len(path), drive_length_m=length,
                      duration_s=float(bundle.timestamps[-1] - bundle.timestamps[0]) if len(path) else 0.0,
                      gaussians=int(gaussians) if gaussians is not None else None,
                      held_out_psnr=number("psnr_as_simulated", "psnr"),
                      held_out_ssim=number("ssim_as_simulated", "ssim"))


def catalogue() -> list[SceneEntry]:
    """Every scene that opens by name, bundled ones first (those whose files are missing are left out)."""
    entries = []
    for name, folder in scene_folders().items():
        if is_scene_folder(folder):
            entries.append(describe_scene(name, folder, bundled=name in BUNDLED_SCENE_DIRS))
    return entries
