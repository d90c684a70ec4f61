"""Reader for a DGP (TRI Dataset Governance Policy) scene folder in its JSON form.

scene_<sha>.json lists `samples` (one per time step, each with a calibration_key and datum_keys) and
`data` (datums: `point_cloud` or `image`, each with a filename, a `pose` = the sensor's pose in the world,
and annotation files by ontology key). calibration/<key>.json holds per-sensor `intrinsics` (fx, fy, cx,
cy, skew) and `extrinsics` (sensor pose in the vehicle frame); point clouds are .npz arrays `data` of
(N, 4) X, Y, Z, INTENSITY in the sensor frame; bounding_box_3d/<sensor>/*.json boxes have a `pose` in that
sensor's frame (centre), length/width/height and an `instance_id` that links them over time. Rotations
are quaternions (qw, qx, qy, qz). The vehicle frame has x forward, y left, z up on the ground.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.rawlog import ImageSource, RawFrame, RawLog, ScanSource
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack, CameraCalib, LidarCalib, invert_pose, wrap_angle
from recon_carla_bridge.ingest.se3 import quaternion_to_rotation, yaw_of

DGP_CATEGORIES: dict[str, str] = {
    "car": "vehicle",
    "truck": "vehicle",
    "bus/rv/caravan": "vehicle",
    "trailer": "vehicle",
    "towed object": "vehicle",
    "train": "vehicle",
    "wheeled slow": "vehicle",
    "motorcycle": "cyclist",
    "bicycle": "cyclist",
    "person": "pedestrian",
    "pedestrian": "pedestrian",
}
DGP_EGO_SIZE = np.array([4.9, 1.9, 1.7])  # not in the format; a mid-size test car


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InputError(f"{path}: file is missing") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from error


def _field(obj: Any, key: str, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{path}: field {where}.{key} is missing")
    return obj[key]


def pose_matrix(pose: Any, path: Path, where: str) -> np.ndarray:
    """(4, 4) transform of a DGP pose {rotation: {qw, qx, qy, qz}, translation: {x, y, z}} (missing = 0)."""
    try:
        rotation = pose.get("rotation", {})
        translation = pose.get("translation", {})
        matrix = np.eye(4)
        matrix[:3, :3] = quaternion_to_rotation(
            float(rotation.get("qw", 1.0)), float(rotation.get("qx", 0.0)), float(rotation.get("qy", 0.0)), float(rotation.get("qz", 0.0))
        )
        matrix[:3, 3] = [float(translation.get(k, 0.0)) for k in ("x", "y", "z")]
    except (AttributeError, TypeError, ValueError) as error:
        raise InputError(f"{path}: field {where} is not a DGP pose ({error})") from error
    return matrix


def _time(stamp: Any, path: Path, where: str) -> float:
    try:
        return dt.datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError as error:
        raise InputError(f"{path}: field {where} is not an ISO timestamp: {stamp!r}") from error


def _load_npz_points(file: Path, ego_from_lidar: np.ndarray) -> np.ndarray:
    try:
        with np.load(file) as archive:
            data = np.asarray(archive["data"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{file}: not a DGP point cloud .npz with a 'data' array ({error})") from error
    if data.ndim != 2 or data.shape[1] < 3:
        raise InputError(f"{file}: point array has shape {data.shape}, expected (N, >=3)")
    xyz = data[:, :3] @ ego_from_lidar[:3, :3].T + ego_from_lidar[:3, 3]
    intensity = np.clip(data[:, 3], 0.0, 1.0) if data.shape[1] > 3 else np.zeros(len(data))
    return np.c_[xyz, intensity].astype(np.float32)


def _ontology_names(root: Path, scene: dict, key: str, scene_file: Path) -> dict[int, str]:
    ontologies = scene.get("ontologies", {})
    if key not in ontologies:
        return {}
    ontology = _json(root / "ontology" / f"{ontologies[key]}.json")
    return {int(item["id"]): str(item["name"]) for item in ontology.get("items", [])}


def read_dgp(src: Path) -> RawLog:
    """Read a DGP scene folder (holding scene_*.json) into a RawLog."""
    root = Path(src)
    scene_files = sorted(root.glob("scene_*.json")) if root.is_dir() else [root]
    if len(scene_files) != 1 or not scene_files[0].is_file():
        raise InputError(f"{src}: expected a DGP scene folder with exactly one scene_*.json")
    scene_file = scene_files[0]
    root = scene_file.parent
    scene = _json(scene_file)
    datums = {d.get("key"): d for d in _field(scene, "data", scene_file, "scene")}
    samples = _field(scene, "samples", scene_file, "scene")
    if not samples:
        raise InputError(f"{scene_file}: field samples is empty")
    box_names = _ontology_names(root, scene, "1", scene_file)

    calibrations: dict[str, dict[str, tuple[dict, dict]]] = {}
    cameras: dict[str, CameraCalib] = {}
    lidars: dict[str, LidarCalib] = {}
    frames: list[RawFrame] = []
    boxes_by_instance: dict[int, list[tuple[int, str, np.ndarray, np.ndarray, float]]] = {}
    start = None
    for k, sample in enumerate(samples):
        where = f"samples[{k}]"
        calib_key = _field(sample, "calibration_key", scene_file, where)
        if calib_key not in calibrations:
            calib_file = root / "calibration" / f"{calib_key}.json"
            calib = _json(calib_file)
            names = _field(calib, "names", calib_file, "calibration")
            calibrations[calib_key] = {n: (i, e) for n, i, e in zip(names, calib["intrinsics"], calib["extrinsics"])}
        calib_by_name = calibrations[calib_key]
        sample_datums = []
        for key in _field(sample, "datum_keys", scene_file, where):
            if key not in datums:
                raise InputError(f"{scene_file}: field {where}.datum_keys names datum {key!r}, which is not in data")
            sample_datums.append(datums[key])
        lidar_datums = [d for d in sample_datums if "point_cloud" in d["datum"]]
        if not lidar_datums:
            raise InputError(f"{scene_file}: {where} has no point_cloud datum to give the ego pose")
        lidar_datum = lidar_datums[0]
        lidar_name = lidar_datum["id"]["name"]
        point_cloud = lidar_datum["datum"]["point_cloud"]
        if lidar_name not in calib_by_name:
            raise InputError(f"{scene_file}: sensor {lidar_name} has no calibration in calibration/{calib_key}.json")
        ego_from_lidar = pose_matrix(calib_by_name[lidar_name][1], scene_file, f"calibration {lidar_name} extrinsics")
        lidars.setdefault(lidar_name, LidarCalib(lidar_name, ego_from_lidar))
        world_from_lidar = pose_matrix(_field(point_cloud, "pose", scene_file, f"{where} {lidar_name}"), scene_file, f"{where} {lidar_name}.pose")
        time = _time(lidar_datum["id"].get("timestamp"), scene_file, f"{where} {lidar_name}.id.timestamp")
        start = time if start is None else start
        frame = RawFrame(timestamp=time - start, world_from_ego=world_from_lidar @ invert_pose(ego_from_lidar), source_id=str(sample["id"].get("timestamp")))
        cloud_file = root / _field(point_cloud, "filename", scene_file, f"{where} {lidar_name}")
        if not cloud_file.is_file():
            raise InputError(f"{cloud_file}: point cloud file is missing (named by {scene_file})")
        frame.scans[lidar_name] = ScanSource(cloud_file, lambda f=cloud_file, m=ego_from_lidar: _load_npz_points(f, m))
        for datum in sample_datums:
            if "image" not in datum["datum"]:
                continue
            name = datum["id"]["name"]
            image = datum["datum"]["image"]
            if name not in cameras:
                if name not in calib_by_name:
                    raise InputError(f"{scene_file}: camera {name} has no calibration in calibration/{calib_key}.json")
                intr, extr = calib_by_name[name]
                K = np.array([[intr["fx"], intr.get("skew", 0.0), intr["cx"]], [0.0, intr["fy"], intr["cy"]], [0.0, 0.0, 1.0]])
                if K[0, 0] <= 0 or K[1, 1] <= 0:
                    raise InputError(f"{scene_file}: camera {name} has non-positive focal lengths in its calibration")
                cameras[name] = CameraCalib(name, K, int(image["width"]), int(image["height"]), pose_matrix(extr, scene_file, f"calibration {name}"))
            image_file = root / _field(image, "filename", scene_file, f"{where} {name}")
            if not image_file.is_file():
                raise InputError(f"{image_file}: image is missing (named by {scene_file})")
            frame.images[name] = ImageSource(image_file, cameras[name].width, cameras[name].height)
        box_file = point_cloud.get("annotations", {}).get("1")
        if box_file:
            for a, annotation in enumerate(_field(_json(root / box_file), "annotations", root / box_file, "")):
                box = _field(annotation, "box", root / box_file, f"annotations[{a}]")
                box_pose = ego_from_lidar @ pose_matrix(box["pose"], root / box_file, f"annotations[{a}].box.pose")
                size = np.array([float(box["length"]), float(box["width"]), float(box["height"])])
                name = box_names.get(int(annotation.get("class_id", -1)), "unknown")
                boxes_by_instance.setdefault(int(annotation.get("instance_id", -(a + 1) - 1000 * k)), []).append(
                    (k, name, box_pose[:3, 3].copy(), size, yaw_of(box_pose))
                )
        frames.append(frame)

    tracks = []
    for instance, boxes in sorted(boxes_by_instance.items()):
        name = boxes[0][1]
        tracks.append(
            ActorTrack(
                track_id=f"{name.lower().replace('/', '_').replace(' ', '_')}_{instance}",
                category=DGP_CATEGORIES.get(name.lower(), "unknown"),
                size=np.median([b[3] for b in boxes], axis=0),
                moving=False,
                boxes=[ActorBox(b[0], b[2], wrap_angle(b[4])) for b in boxes],
            )
        )
    return RawLog(
        name=scene.get("name") or root.name,
        source="dgp",
        ego_origin="DGP vehicle frame (here the LiDAR's frame, ground at z = 0)",
        ego_size=DGP_EGO_SIZE.copy(),
        cameras=cameras,
        lidars=lidars,
        frames=frames,
        tracks=tracks,
        geo_reference=None,
        provenance={"ego_poses": "DGP LiDAR datum poses", "tracks": "DGP bounding_box_3d by instance_id"},
    )
