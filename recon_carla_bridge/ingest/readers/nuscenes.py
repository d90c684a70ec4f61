"""Reader for nuScenes as an mmdetection3d info .pkl (info_version 1.1, the `data_list` form).

Each entry of `data_list` is one keyframe: `ego2global` (4x4), `images[CAM]` with `img_path`, `cam2img`
(3x3 intrinsics), `cam2ego` (4x4) and `timestamp`, `lidar_points` with `lidar_path` (float32 x 5:
x, y, z, intensity 0-255, ring, in the LiDAR frame) and `lidar2ego`, and `instances` whose `bbox_3d` is
(x, y, z, length, width, height, yaw) in the LiDAR frame with z at the box's gravity centre, yaw about
LiDAR z from its x axis, and `velocity` (vx, vy) in m/s. File paths are resolved next to the .pkl, then
under samples/<sensor>/ and sweeps/<sensor>/ beside it.

Ego frame: nuScenes' vehicle frame (x forward, y left, z up, origin at the rear axle centre on the ground).
Boxes of different keyframes are not linked (the info has no instance tokens): each box is a track.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.rawlog import ImageSource, RawFrame, RawLog, ScanSource
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack, CameraCalib, GeoReference, LidarCalib, wrap_angle
from recon_carla_bridge.ingest.se3 import yaw_of

NUSCENES_EGO_SIZE = np.array([4.08, 1.73, 1.56])  # Renault Zoe, the nuScenes recording car
LIDAR_NAME = "LIDAR_TOP"
NUSCENES_CATEGORIES: dict[str, str] = {
    "car": "vehicle",
    "truck": "vehicle",
    "trailer": "vehicle",
    "bus": "vehicle",
    "construction_vehicle": "vehicle",
    "bicycle": "cyclist",
    "motorcycle": "cyclist",
    "pedestrian": "pedestrian",
}
MOVING_SPEED = 0.5  # m/s
LOCATIONS = {  # approximate city centres: the info .pkl carries no map position
    "n015": GeoReference(1.2966, 103.7764, 0.0, "approximate: Singapore One-North (nuScenes log prefix n015)"),
    "n008": GeoReference(42.3368, -71.0578, 0.0, "approximate: Boston Seaport (nuScenes log prefix n008)"),
}


def _find_pkl(src: Path) -> Path:
    if src.is_file():
        return src
    if src.is_dir():
        found = sorted(src.glob("*.pkl"))
        if len(found) == 1:
            return found[0]
        raise InputError(f"{src}: expected exactly one nuScenes info .pkl, found {len(found)}")
    raise InputError(f"{src}: does not exist")


def load_info(path: Path) -> dict[str, Any]:
    """Unpickle an mmdetection3d info file; a corrupt or foreign file raises InputError naming it."""
    try:
        with open(path, "rb") as stream:
            info = pickle.load(stream)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError, OSError) as error:
        raise InputError(f"{path}: not a readable nuScenes info .pkl ({type(error).__name__}: {error})") from error
    if not isinstance(info, dict) or not isinstance(info.get("data_list"), list):
        raise InputError(f"{path}: field data_list is missing (expected an mmdetection3d v1.1 info dict)")
    return info


def _matrix(value: Any, shape: tuple[int, int], path: Path, where: str) -> np.ndarray:
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InputError(f"{path}: field {where} is not numeric") from error
    if matrix.shape != shape or not np.all(np.isfinite(matrix)):
        raise InputError(f"{path}: field {where} must be a finite {shape[0]}x{shape[1]} matrix, got shape {matrix.shape}")
    return matrix


def _get(entry: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(entry, dict) or key not in entry:
        raise InputError(f"{path}: field {where}.{key} is missing")
    return entry[key]


def _resolve(root: Path, name: str, sensor: str, path: Path, where: str) -> Path:
    for candidate in (root / name, root / "samples" / sensor / Path(name).name, root / "sweeps" / sensor / Path(name).name):
        if candidate.is_file():
            return candidate
    raise InputError(f"{path}: field {where} names {name!r}, which is not beside the .pkl nor under samples/{sensor}/")


def _load_lidar(file: Path, ego_from_lidar: np.ndarray) -> np.ndarray:
    raw = file.read_bytes()
    if len(raw) == 0 or len(raw) % 20 != 0:
        raise InputError(f"{file}: truncated LiDAR file: {len(raw)} bytes is not a whole number of 5-float points")
    points = np.frombuffer(raw, dtype=np.float32).reshape(-1, 5)
    xyz = points[:, :3].astype(np.float64) @ ego_from_lidar[:3, :3].T + ego_from_lidar[:3, 3]
    return np.c_[xyz, np.clip(points[:, 3] / 255.0, 0.0, 1.0)].astype(np.float32)


def read_nuscenes(src: Path) -> RawLog:
    """Read a nuScenes info .pkl (or the folder holding exactly one) into a RawLog."""
    path = _find_pkl(Path(src))
    info = load_info(path)
    root = path.parent
    categories = {index: name for name, index in info.get("metainfo", {}).get("categories", {}).items()}
    entries = sorted(info["data_list"], key=lambda e: float(_get(e, "timestamp", path, "data_list[]")))
    if not entries:
        raise InputError(f"{path}: field data_list is empty")
    start = float(entries[0]["timestamp"])
    cameras: dict[str, CameraCalib] = {}
    lidars: dict[str, LidarCalib] = {}
    frames: list[RawFrame] = []
    tracks: list[ActorTrack] = []
    for k, entry in enumerate(entries):
        where = f"data_list[{k}]"
        frame = RawFrame(
            timestamp=float(entry["timestamp"]) - start,
            world_from_ego=_matrix(_get(entry, "ego2global", path, where), (4, 4), path, f"{where}.ego2global"),
            source_id=str(entry.get("token", k)),
        )
        for name, cam in _get(entry, "images", path, where).items():
            cwhere = f"{where}.images.{name}"
            if not isinstance(cam, dict) or not cam.get("img_path"):
                continue  # a camera without an image in this keyframe
            image_path = _resolve(root, cam["img_path"], name, path, f"{cwhere}.img_path")
            if name not in cameras:
                with Image.open(image_path) as image:
                    width, height = image.size
                cameras[name] = CameraCalib(
                    name,
                    _matrix(_get(cam, "cam2img", path, cwhere), (3, 3), path, f"{cwhere}.cam2img"),
                    width,
                    height,
                    _matrix(_get(cam, "cam2ego", path, cwhere), (4, 4), path, f"{cwhere}.cam2ego"),
                )
            frame.images[name] = ImageSource(image_path, cameras[name].width, cameras[name].height)
        lidar = _get(entry, "lidar_points", path, where)
        ego_from_lidar = _matrix(_get(lidar, "lidar2ego", path, f"{where}.lidar_points"), (4, 4), path, f"{where}.lidar_points.lidar2ego")
        lidars.setdefault(LIDAR_NAME, LidarCalib(LIDAR_NAME, ego_from_lidar))
        lidar_file = _resolve(root, _get(lidar, "lidar_path", path, f"{where}.lidar_points"), LIDAR_NAME, path, f"{where}.lidar_points.lidar_path")
        frame.scans[LIDAR_NAME] = ScanSource(lidar_file, lambda f=lidar_file, m=ego_from_lidar: _load_lidar(f, m))
        frames.append(frame)
        tracks.extend(_instances(entry, k, ego_from_lidar, categories, path, where))
    prefix = path.stem.split("-")[0]
    return RawLog(
        name=path.stem,
        source="nuscenes",
        ego_origin="nuScenes vehicle frame: rear axle centre on the ground",
        ego_size=NUSCENES_EGO_SIZE.copy(),
        cameras=cameras,
        lidars=lidars,
        frames=frames,
        tracks=tracks,
        geo_reference=LOCATIONS.get(prefix),
        provenance={"ego_poses": "nuScenes ego2global", "tracks": "nuScenes annotated 3D boxes (info instances)"},
    )


def _instances(entry: dict, frame: int, ego_from_lidar: np.ndarray, categories: dict[int, str], path: Path, where: str) -> list[ActorTrack]:
    tracks = []
    lidar_yaw = yaw_of(ego_from_lidar)
    for i, instance in enumerate(entry.get("instances", [])):
        iwhere = f"{where}.instances[{i}]"
        if not instance.get("bbox_3d_isvalid", True):
            continue
        box = np.asarray(_get(instance, "bbox_3d", path, iwhere), dtype=np.float64)
        if box.shape != (7,) or not np.all(np.isfinite(box)) or np.any(box[3:6] <= 0):
            raise InputError(f"{path}: field {iwhere}.bbox_3d must be 7 finite numbers with positive sizes")
        label = categories.get(int(instance.get("bbox_label_3d", -1)), "")
        category = NUSCENES_CATEGORIES.get(label, "unknown")
        center = ego_from_lidar[:3, :3] @ box[:3] + ego_from_lidar[:3, 3]
        velocity = np.asarray(instance.get("velocity", [np.nan, np.nan]), dtype=np.float64)
        moving = bool(np.all(np.isfinite(velocity)) and np.hypot(*velocity[:2]) > MOVING_SPEED)
        tracks.append(
            ActorTrack(
                track_id=f"{label or 'object'}_{frame:03d}_{i:03d}",
                category=category,
                size=box[3:6].copy(),
                moving=moving,
                boxes=[ActorBox(frame, center, wrap_angle(float(box[6]) + lidar_yaw))],
            )
        )
    return tracks
