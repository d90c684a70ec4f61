"""A scene bundle: what a reconstructed scene needs at simulation time, small enough to ship.

SCENE_DIR/
  scene.gs      Gaussians (background + actors in box frames, with their logged trajectories)
  road.xodr     the scene's road network (SceneLog world frame; CARLA shows (x, y, z) at (x, -y, z))
  bundle.json   name, ego trajectory (timestamps, world_from_ego: the reconstruction's refined poses when
                scene.gs has them), cameras (K, size, ego_from_camera), ego size, geo reference — the
                SceneLog's metadata without images or LiDAR; optionally "restorer": a folder (relative to
                SCENE_DIR) holding the scene's diffusion restorer (`recon_carla_bridge.restore`), which the
                cameras then apply; bundles without it render splat-only

`write_scene_bundle` builds one from a SceneLog folder and a trained scene; `load_scene_bundle`
reads it back (or reads a full SceneLog folder that has a scene.gs next to its scene.json).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recon_carla_bridge.errors import InputError

if TYPE_CHECKING:
    from recon_carla_bridge.ingest.scenelog import SceneLog

BUNDLE_FILE = "bundle.json"
BUNDLE_FORMAT = "recon_carla_bridge.scene_bundle"
BUNDLE_VERSION = 1


@dataclass(frozen=True)
class BundleCamera:
    """A logged camera: intrinsics, image size and mounting on the ego (OpenCV axes)."""

    name: str
    K: np.ndarray  # (3, 3) pixels
    width: int
    height: int
    ego_from_camera: np.ndarray  # (4, 4)


@dataclass(frozen=True)
class SceneBundle:
    """A reconstructed scene ready to open as a world."""

    root: Path
    name: str
    timestamps: np.ndarray  # (F,) s since the log start
    world_from_ego: np.ndarray  # (F, 4, 4) logged ego poses, SceneLog world frame
    cameras: dict[str, BundleCamera]
    ego_size: np.ndarray  # (3,) length, width, height m
    restorer_dir: Path | None = None  # the scene's restorer folder, when bundle.json names one

    @property
    def scene_file(self) -> Path:
        """The Gaussian scene."""
        return self.root / "scene.gs"

    @property
    def road_file(self) -> Path:
        """The OpenDRIVE road network."""
        return self.root / "road.xodr"


def bundle_document(scene_log_dir: str | os.PathLike[str], scene_gs: str | os.PathLike[str] | None = None) -> dict:
    """The bundle.json content of a SceneLog: name, ego trajectory, cameras, ego size. The ego trajectory is
    the trained scene's refined one (`GaussianScene.ego_poses`) when `scene_gs` has it, else the log's."""
    from recon_carla_bridge.ingest.scenelog import load_scene_log

    log = load_scene_log(scene_log_dir)
    poses = _ego_trajectory(log, scene_gs)
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "name": log.name,
        "timestamps": [float(f.timestamp) for f in log.frames],
        "world_from_ego": poses.tolist(),
        "cameras": {
            name: {"K": np.asarray(c.K).tolist(), "width": int(c.width), "height": int(c.height),
                   "ego_from_camera": np.asarray(c.ego_from_camera).tolist()}
            for name, c in log.cameras.items()
        },
        "ego_size": [float(v) for v in log.ego_size],
    }


def write_scene_bundle(scene_log_dir: str | os.PathLike[str], scene_gs: str | os.PathLike[str],
                       out_dir: str | os.PathLike[str]) -> Path:
    """Write a bundle (scene.gs, road.xodr, bundle.json) from a SceneLog and a trained scene, atomically."""
    from recon_carla_bridge.ingest.scenelog import load_scene_log

    log = load_scene_log(scene_log_dir)
    if log.road_network is None:
        raise InputError(f"{scene_log_dir}: the SceneLog has no road network (road.xodr)")
    document = bundle_document(scene_log_dir, scene_gs)
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=target.parent))
    try:
        shutil.copyfile(scene_gs, staging / "scene.gs")
        shutil.copyfile(Path(log.root) / log.road_network, staging / "road.xodr")
        (staging / BUNDLE_FILE).write_text(json.dumps(document, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    """`python -m recon_carla_bridge.scene.bundle SCENE_LOG_DIR SCENE_GS OUT_DIR` writes a bundle."""
    import argparse

    parser = argparse.ArgumentParser(description="Bundle a trained scene with its SceneLog metadata.")
    parser.add_argument("scene_log_dir")
    parser.add_argument("scene_gs")
    parser.add_argument("out_dir")
    parser.add_argument("--metadata-only", action="store_true",
                        help="only (re)write OUT_DIR/bundle.json (OUT_DIR already holds scene.gs and road.xodr)")
    args = parser.parse_args(argv)
    if args.metadata_only:
        Path(args.out_dir, BUNDLE_FILE).write_text(json.dumps(bundle_document(args.scene_log_dir, args.scene_gs), indent=1), encoding="utf-8")
    else:
        write_scene_bundle(args.scene_log_dir, args.scene_gs, args.out_dir)
    return 0


def load_scene_bundle(scene_dir: str | os.PathLike[str]) -> SceneBundle:
    """Read a bundle; InputError naming the file and field when something is missing or malformed."""
    root = Path(scene_dir)
    if not root.is_dir():
        raise InputError(f"{root}: scene folder does not exist")
    for needed in ("scene.gs", "road.xodr"):
        if not (root / needed).is_file():
            raise InputError(f"{root / needed}: missing (a scene folder holds scene.gs, road.xodr and {BUNDLE_FILE})")
    file = root / BUNDLE_FILE
    if not file.is_file():
        return _from_scene_log(root)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(f"{file}: not valid JSON ({error})") from None
    if document.get("format") != BUNDLE_FORMAT:
        raise InputError(f"{file}: field format: expected {BUNDLE_FORMAT!r}, got {document.get('format')!r}")
    if int(document.get("version", 0)) > BUNDLE_VERSION:
        raise InputError(f"{file}: field version: {document.get('version')} is newer than this reader ({BUNDLE_VERSION})")
    try:
        timestamps = np.asarray(document["timestamps"], dtype=float)
        poses = np.asarray(document["world_from_ego"], dtype=float).reshape(-1, 4, 4)
        cameras = {
            name: BundleCamera(name, np.asarray(c["K"], float).reshape(3, 3), int(c["width"]), int(c["height"]),
                               np.asarray(c["ego_from_camera"], float).reshape(4, 4))
            for name, c in document["cameras"].items()
        }
        ego_size = np.asarray(document.get("ego_size", [4.5, 1.8, 1.5]), dtype=float).reshape(3)
        name = str(document["name"])
        restorer = document.get("restorer")
        if restorer is not None and (not isinstance(restorer, str) or not restorer.strip()):
            raise ValueError(f"restorer must be a folder name, got {restorer!r}")
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{file}: malformed field ({type(error).__name__}: {error})") from None
    if len(timestamps) != len(poses) or len(timestamps) == 0:
        raise InputError(f"{file}: field timestamps/world_from_ego: need one pose per timestamp, got {len(timestamps)}/{len(poses)}")
    if not (np.all(np.isfinite(poses)) and np.all(np.diff(timestamps) > 0)):
        raise InputError(f"{file}: field world_from_ego/timestamps: non-finite poses or timestamps not increasing")
    return SceneBundle(root, name, timestamps, poses, cameras, ego_size, None if restorer is None else root / restorer)


def _from_scene_log(root: Path) -> SceneBundle:
    from recon_carla_bridge.ingest.scenelog import load_scene_log

    log = load_scene_log(root)
    cameras = {name: BundleCamera(name, np.asarray(c.K, float), int(c.width), int(c.height),
                                  np.asarray(c.ego_from_camera, float)) for name, c in log.cameras.items()}
    return SceneBundle(root, log.name, np.array([f.timestamp for f in log.frames], float),
                       _ego_trajectory(log, root / "scene.gs"), cameras, np.asarray(log.ego_size, float))


def _ego_trajectory(log: SceneLog, scene_gs: str | os.PathLike[str] | None) -> np.ndarray:
    """(F, 4, 4) world_from_ego: the trained scene's refined trajectory when `scene_gs` exists and has one,
    else the log's; InputError when the scene was trained on a log with another frame count."""
    from recon_carla_bridge.recon.scene_file import load_ego_poses

    poses = np.array([np.asarray(f.world_from_ego, dtype=float) for f in log.frames])
    if scene_gs is None or not Path(scene_gs).is_file():
        return poses
    refined = load_ego_poses(scene_gs)
    if refined is None:
        return poses
    if refined.shape[0] != len(poses):
        raise InputError(f"{scene_gs}: its refined ego trajectory has {refined.shape[0]} poses, the SceneLog "
                         f"{log.root} has {len(poses)} frames: it was not trained on this log")
    return refined.numpy()


if __name__ == "__main__":
    raise SystemExit(main())
