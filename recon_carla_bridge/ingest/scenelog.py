"""SceneLog: the on-disk format of an ingested driving log, its dataclasses, loader and saver.

A SceneLog is a folder (SCENE_DIR) holding

    scene.json                    everything but the bulk data (format below, docs/scenelog.md)
    images/<camera>/<NNNNNN>.png  camera images, one per frame and camera: the source's own JPEG or PNG
                                  bytes (.jpg/.png), other images as PNG; never re-encoded lossily
    lidar/<lidar>/<NNNNNN>.npy    LiDAR scans, float32 (N, 4): x, y, z [m] in the EGO frame, intensity [0..1]
    road.xodr                     OpenDRIVE road network in the world frame (optional)

Frames of reference (all right-handed, metres, radians):

* world: z up; origin at the first ego pose projected to the ground, x along the first ego heading.
* ego: x forward, y left, z up; origin on the ground under the vehicle's reference point
  (each source says which point in `SceneLog.ego_origin`). Poses are 4x4 `world_from_ego`.
* camera: OpenCV axes (x right, y down, z forward); extrinsics are 4x4 `ego_from_camera`.
* actor box: centre of the box in world coordinates, size (length, width, height), yaw about world z
  (0 = box length along world x).

All paths inside scene.json are relative to SCENE_DIR; a SceneLog never refers to files outside it.
`load_scene_log` validates every field and raises `InputError` naming the file and the field at fault.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import chmod_like_new_file

SCENE_LOG_FORMAT = "recon_carla_bridge.scenelog"
SCENE_LOG_VERSION = 1
SCENE_FILE_NAME = "scene.json"
ROAD_FILE_NAME = "road.xodr"
ACTOR_CATEGORIES: tuple[str, ...] = ("vehicle", "pedestrian", "cyclist", "unknown")


@dataclass(eq=False)
class CameraCalib:
    """Calibration of one pinhole camera (images are stored undistorted / rectified).

    Attributes:
        name: camera name, e.g. "image_02" or "CAM_FRONT"; also the images/ sub-folder name.
        K: (3, 3) float64 intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels.
        width: image width in pixels.
        height: image height in pixels.
        ego_from_camera: (4, 4) float64 rigid transform, camera (OpenCV axes) to ego frame.
    """

    name: str
    K: np.ndarray
    width: int
    height: int
    ego_from_camera: np.ndarray

    def camera_from_ego(self) -> np.ndarray:
        """(4, 4) inverse of `ego_from_camera`."""
        return invert_pose(self.ego_from_camera)


@dataclass(eq=False)
class LidarCalib:
    """Mounting of one LiDAR.

    Attributes:
        name: LiDAR name, e.g. "velodyne"; also the lidar/ sub-folder name.
        ego_from_lidar: (4, 4) float64 rigid transform, sensor to ego frame. Stored scans are already in
            the ego frame; this tells where the sensor sits (ray origins for ray casting).
    """

    name: str
    ego_from_lidar: np.ndarray


@dataclass(eq=False)
class CameraFrame:
    """One camera image of one frame.

    Attributes:
        camera: name of the camera (a key of `SceneLog.cameras`).
        image: image path relative to SCENE_DIR (JPEG or PNG, width x height of the camera's calibration).
        timestamp: capture time in seconds since the start of the log.
    """

    camera: str
    image: str
    timestamp: float


@dataclass(eq=False)
class LidarScan:
    """One LiDAR sweep of one frame.

    Attributes:
        lidar: name of the LiDAR (a key of `SceneLog.lidars`).
        points: path relative to SCENE_DIR of a float32 (N, 4) .npy: x, y, z [m] in the ego frame of this
            frame, intensity in [0, 1].
        timestamp: time of the sweep in seconds since the start of the log.
        num_points: N, the number of points in the file.
    """

    lidar: str
    points: str
    timestamp: float
    num_points: int


@dataclass(eq=False)
class Frame:
    """One time step of the log.

    Attributes:
        index: 0-based frame number; frames are stored in order, `frames[i].index == i`.
        timestamp: seconds since the start of the log (strictly increasing).
        world_from_ego: (4, 4) float64 ego pose.
        cameras: camera name -> image of this frame (a camera may be absent in a frame).
        lidars: LiDAR name -> scan of this frame (frames without a sweep have none).
    """

    index: int
    timestamp: float
    world_from_ego: np.ndarray
    cameras: dict[str, CameraFrame] = field(default_factory=dict)
    lidars: dict[str, LidarScan] = field(default_factory=dict)


@dataclass(eq=False)
class ActorBox:
    """An actor's 3D box in one frame (size is the track's, constant).

    Attributes:
        frame_index: index of the frame this box belongs to.
        center: (3,) float64 box centre in world coordinates [m].
        yaw: heading about world z [rad], 0 = box length along world x, in (-pi, pi].
    """

    frame_index: int
    center: np.ndarray
    yaw: float

    def world_from_box(self) -> np.ndarray:
        """(4, 4) transform from the box frame (x along the length, origin at the centre) to world."""
        return pose_from_xyz_yaw(self.center, self.yaw)


@dataclass(eq=False)
class ActorTrack:
    """One actor over the frames it was seen in.

    Attributes:
        track_id: unique id within the log (string).
        category: one of ACTOR_CATEGORIES ("vehicle", "pedestrian", "cyclist", "unknown").
        size: (3,) float64 box length, width, height [m], constant over the track.
        moving: True when the actor moves during the log (False = parked / static).
        boxes: one box per frame seen, in increasing frame order, at most one per frame.
    """

    track_id: str
    category: str
    size: np.ndarray
    moving: bool
    boxes: list[ActorBox] = field(default_factory=list)

    def box_at(self, frame_index: int) -> ActorBox | None:
        """The box in frame `frame_index`, or None if the actor was not seen then."""
        for box in self.boxes:
            if box.frame_index == frame_index:
                return box
        return None

    def corners_at(self, frame_index: int) -> np.ndarray | None:
        """(8, 3) world corners of the box in frame `frame_index` (None if unseen); see `box_corners`."""
        box = self.box_at(frame_index)
        if box is None:
            return None
        return box_corners(box.center, self.size, box.yaw)


@dataclass(frozen=True)
class GeoReference:
    """Where the world origin lies on Earth (a local tangent plane, x east-ish along the first heading).

    Attributes:
        latitude: degrees north of the world origin.
        longitude: degrees east of the world origin.
        altitude: metres above the WGS84 ellipsoid.
        note: how the numbers were obtained (e.g. "approximate: log has no GNSS").
    """

    latitude: float
    longitude: float
    altitude: float = 0.0
    note: str = ""


@dataclass(eq=False)
class SceneLog:
    """An ingested driving log.

    Attributes:
        name: scene name.
        source: reader that produced it ("kitti", "nuscenes", "dgp", "waymo").
        ego_origin: which point of the vehicle the ego frame's origin is under (free text).
        ego_size: (3,) length, width, height of the ego vehicle [m].
        cameras: camera name -> calibration.
        lidars: LiDAR name -> mounting.
        frames: the frames, in time order.
        tracks: actor tracks.
        geo_reference: where the world origin is on Earth.
        road_network: OpenDRIVE path relative to SCENE_DIR (normally "road.xodr"), or None.
        provenance: free-text facts about how each part was made (e.g. "ego_poses": "kiss-icp ...").
        root: folder the log was loaded from (not stored); relative paths resolve against it.
    """

    name: str
    source: str
    ego_origin: str
    ego_size: np.ndarray
    cameras: dict[str, CameraCalib]
    lidars: dict[str, LidarCalib]
    frames: list[Frame]
    tracks: list[ActorTrack] = field(default_factory=list)
    geo_reference: GeoReference | None = None
    road_network: str | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    root: Path | None = None

    def path(self, relative: str) -> Path:
        """Absolute path of a file of this log given its SCENE_DIR-relative path."""
        if self.root is None:
            raise InputError(f"scene log {self.name!r} has no root folder; load it or save it first")
        return self.root / relative

    def load_points(self, frame_index: int, lidar: str) -> np.ndarray:
        """Float32 (N, 4) points of a frame's scan, in the ego frame of that frame."""
        scan = self.frames[frame_index].lidars.get(lidar)
        if scan is None:
            raise InputError(f"frame {frame_index} has no scan from LiDAR {lidar!r}")
        return load_points_file(self.path(scan.points))

    def ego_positions(self) -> np.ndarray:
        """(F, 3) world positions of the ego origin, one per frame."""
        return np.stack([frame.world_from_ego[:3, 3] for frame in self.frames])

    def world_from_camera(self, frame_index: int, camera: str) -> np.ndarray:
        """(4, 4) world pose of a camera in a frame."""
        return self.frames[frame_index].world_from_ego @ self.cameras[camera].ego_from_camera

    def track_by_id(self, track_id: str) -> ActorTrack:
        """The track with this id (KeyError if none)."""
        for track in self.tracks:
            if track.track_id == track_id:
                return track
        raise KeyError(track_id)


# --------------------------------------------------------------------------------------------------
# small geometry helpers used by the format (kept here so the format has no other dependency)


def invert_pose(pose: np.ndarray) -> np.ndarray:
    """Inverse of a (4, 4) rigid transform."""
    rotation = pose[:3, :3]
    inverse = np.eye(4)
    inverse[:3, :3] = rotation.T
    inverse[:3, 3] = -rotation.T @ pose[:3, 3]
    return inverse


def pose_from_xyz_yaw(center: np.ndarray, yaw: float) -> np.ndarray:
    """(4, 4) transform with translation `center` (3,) and a rotation of `yaw` rad about z."""
    cos_yaw, sin_yaw = math.cos(yaw), math.sin(yaw)
    pose = np.eye(4)
    pose[:3, :3] = [[cos_yaw, -sin_yaw, 0.0], [sin_yaw, cos_yaw, 0.0], [0.0, 0.0, 1.0]]
    pose[:3, 3] = np.asarray(center, dtype=np.float64)[:3]
    return pose


def box_corners(center: np.ndarray, size: np.ndarray, yaw: float) -> np.ndarray:
    """(8, 3) corners of a yawed box: bottom face first (front-left, front-right, rear-right, rear-left),
    then the top face in the same order."""
    length, width, height = (float(v) for v in size)
    x = np.array([1, 1, -1, -1, 1, 1, -1, -1]) * length / 2
    y = np.array([1, -1, -1, 1, 1, -1, -1, 1]) * width / 2
    z = np.array([-1, -1, -1, -1, 1, 1, 1, 1]) * height / 2
    local = np.stack([x, y, z, np.ones(8)], axis=0)
    return (pose_from_xyz_yaw(center, yaw) @ local)[:3].T


def wrap_angle(angle: float) -> float:
    """Angle wrapped to (-pi, pi]."""
    wrapped = math.atan2(math.sin(angle), math.cos(angle))
    return math.pi if wrapped == -math.pi else wrapped


def load_points_file(path: Path) -> np.ndarray:
    """Load a SceneLog LiDAR .npy and check it is float32 (N, 4); errors name the file."""
    try:
        points = np.load(path, allow_pickle=False)
    except FileNotFoundError as error:
        raise InputError(f"{path}: LiDAR file is missing") from error
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy array ({error})") from error
    if points.dtype != np.float32 or points.ndim != 2 or points.shape[1] != 4:
        raise InputError(f"{path}: expected a float32 (N, 4) array, got {points.dtype} {points.shape}")
    return points


# --------------------------------------------------------------------------------------------------
# serialisation


def _matrix_to_json(matrix: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(matrix, dtype=np.float64)]


def _vector_to_json(vector: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(vector, dtype=np.float64).reshape(-1)]


def scene_log_to_json(log: SceneLog) -> dict[str, Any]:
    """The scene.json document of a log (bulk data stays in the files it refers to)."""
    return {
        "format": SCENE_LOG_FORMAT,
        "version": SCENE_LOG_VERSION,
        "name": log.name,
        "source": log.source,
        "ego_origin": log.ego_origin,
        "ego_size": _vector_to_json(log.ego_size),
        "geo_reference": None
        if log.geo_reference is None
        else {
            "latitude": log.geo_reference.latitude,
            "longitude": log.geo_reference.longitude,
            "altitude": log.geo_reference.altitude,
            "note": log.geo_reference.note,
        },
        "road_network": log.road_network,
        "provenance": dict(log.provenance),
        "cameras": {
            name: {
                "K": _matrix_to_json(calib.K),
                "width": int(calib.width),
                "height": int(calib.height),
                "ego_from_camera": _matrix_to_json(calib.ego_from_camera),
            }
            for name, calib in log.cameras.items()
        },
        "lidars": {name: {"ego_from_lidar": _matrix_to_json(calib.ego_from_lidar)} for name, calib in log.lidars.items()},
        "frames": [
            {
                "index": frame.index,
                "timestamp": float(frame.timestamp),
                "world_from_ego": _matrix_to_json(frame.world_from_ego),
                "cameras": {
                    name: {"image": cam.image, "timestamp": float(cam.timestamp)} for name, cam in frame.cameras.items()
                },
                "lidars": {
                    name: {"points": scan.points, "timestamp": float(scan.timestamp), "num_points": int(scan.num_points)}
                    for name, scan in frame.lidars.items()
                },
            }
            for frame in log.frames
        ],
        "tracks": [
            {
                "id": track.track_id,
                "category": track.category,
                "size": _vector_to_json(track.size),
                "moving": bool(track.moving),
                "boxes": [
                    {"frame": box.frame_index, "center": _vector_to_json(box.center), "yaw": float(box.yaw)}
                    for box in track.boxes
                ],
            }
            for track in log.tracks
        ],
    }


class _Reader:
    """Typed access to a parsed JSON document; every failure names the file and the field path."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, where: str, message: str) -> InputError:
        return InputError(f"{self.file}: field {where}: {message}")

    def get(self, obj: Any, key: str, where: str) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(where, f"expected an object, got {type(obj).__name__}")
        if key not in obj:
            raise self.fail(f"{where}.{key}" if where else key, "missing")
        return obj[key]

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"expected a finite number, got {value!r}")
        return float(value)

    def integer(self, value: Any, where: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(where, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def array(self, value: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise self.fail(where, f"expected numbers of shape {shape}") from error
        if array.shape != shape:
            raise self.fail(where, f"expected shape {shape}, got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise self.fail(where, "contains NaN or infinity")
        return array

    def rigid(self, value: Any, where: str) -> np.ndarray:
        matrix = self.array(value, (4, 4), where)
        rotation = matrix[:3, :3]
        if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-4) or np.linalg.det(rotation) < 0:
            raise self.fail(where, "rotation part is not a proper rotation matrix")
        if not np.allclose(matrix[3], [0, 0, 0, 1]):
            raise self.fail(where, "last row must be [0, 0, 0, 1]")
        return matrix

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def sequence(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return value

    def relative_file(self, value: Any, where: str, root: Path) -> str:
        relative = self.string(value, where)
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            raise self.fail(where, f"path {relative!r} must be relative to the scene folder and stay inside it")
        if not (root / path).is_file():
            raise self.fail(where, f"file {relative!r} does not exist in {root}")
        return relative


def scene_log_from_json(document: Any, file: Path, root: Path) -> SceneLog:
    """Build and validate a SceneLog from a parsed scene.json; `root` is the folder paths resolve against."""
    r = _Reader(file)
    doc = r.mapping(document, "<document>")
    if r.get(doc, "format", "") != SCENE_LOG_FORMAT:
        raise r.fail("format", f"expected {SCENE_LOG_FORMAT!r}, got {doc.get('format')!r}")
    version = r.integer(r.get(doc, "version", ""), "version", minimum=1)
    if version > SCENE_LOG_VERSION:
        raise r.fail("version", f"version {version} is newer than this reader ({SCENE_LOG_VERSION})")

    cameras: dict[str, CameraCalib] = {}
    for name, raw in r.mapping(r.get(doc, "cameras", ""), "cameras").items():
        where = f"cameras.{name}"
        K = r.array(r.get(raw, "K", where), (3, 3), f"{where}.K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
            raise r.fail(f"{where}.K", "expected positive focal lengths and last row [0, 0, 1]")
        cameras[name] = CameraCalib(
            name=name,
            K=K,
            width=r.integer(r.get(raw, "width", where), f"{where}.width", minimum=1),
            height=r.integer(r.get(raw, "height", where), f"{where}.height", minimum=1),
            ego_from_camera=r.rigid(r.get(raw, "ego_from_camera", where), f"{where}.ego_from_camera"),
        )
    lidars = {
        name: LidarCalib(name, r.rigid(r.get(raw, "ego_from_lidar", f"lidars.{name}"), f"lidars.{name}.ego_from_lidar"))
        for name, raw in r.mapping(r.get(doc, "lidars", ""), "lidars").items()
    }

    frames: list[Frame] = []
    previous_time = -math.inf
    for i, raw in enumerate(r.sequence(r.get(doc, "frames", ""), "frames")):
        where = f"frames[{i}]"
        index = r.integer(r.get(raw, "index", where), f"{where}.index")
        if index != i:
            raise r.fail(f"{where}.index", f"expected {i} (frames are stored in order), got {index}")
        timestamp = r.number(r.get(raw, "timestamp", where), f"{where}.timestamp")
        if timestamp <= previous_time:
            raise r.fail(f"{where}.timestamp", f"timestamps must increase ({timestamp} after {previous_time})")
        previous_time = timestamp
        frame_cameras: dict[str, CameraFrame] = {}
        for cam, cam_raw in r.mapping(r.get(raw, "cameras", where), f"{where}.cameras").items():
            cwhere = f"{where}.cameras.{cam}"
            if cam not in cameras:
                raise r.fail(cwhere, f"camera {cam!r} is not declared in cameras")
            frame_cameras[cam] = CameraFrame(
                camera=cam,
                image=r.relative_file(r.get(cam_raw, "image", cwhere), f"{cwhere}.image", root),
                timestamp=r.number(r.get(cam_raw, "timestamp", cwhere), f"{cwhere}.timestamp"),
            )
        frame_lidars: dict[str, LidarScan] = {}
        for lid, lid_raw in r.mapping(r.get(raw, "lidars", where), f"{where}.lidars").items():
            lwhere = f"{where}.lidars.{lid}"
            if lid not in lidars:
                raise r.fail(lwhere, f"LiDAR {lid!r} is not declared in lidars")
            frame_lidars[lid] = LidarScan(
                lidar=lid,
                points=r.relative_file(r.get(lid_raw, "points", lwhere), f"{lwhere}.points", root),
                timestamp=r.number(r.get(lid_raw, "timestamp", lwhere), f"{lwhere}.timestamp"),
                num_points=r.integer(r.get(lid_raw, "num_points", lwhere), f"{lwhere}.num_points"),
            )
        frames.append(
            Frame(
                index=index,
                timestamp=timestamp,
                world_from_ego=r.rigid(r.get(raw, "world_from_ego", where), f"{where}.world_from_ego"),
                cameras=frame_cameras,
                lidars=frame_lidars,
            )
        )
    if not frames:
        raise r.fail("frames", "a scene log needs at least one frame")

    tracks: list[ActorTrack] = []
    seen_ids: set[str] = set()
    for t, raw in enumerate(r.sequence(r.get(doc, "tracks", ""), "tracks")):
        where = f"tracks[{t}]"
        track_id = r.string(r.get(raw, "id", where), f"{where}.id")
        if track_id in seen_ids:
            raise r.fail(f"{where}.id", f"duplicate track id {track_id!r}")
        seen_ids.add(track_id)
        category = r.string(r.get(raw, "category", where), f"{where}.category")
        if category not in ACTOR_CATEGORIES:
            raise r.fail(f"{where}.category", f"expected one of {ACTOR_CATEGORIES}, got {category!r}")
        size = r.array(r.get(raw, "size", where), (3,), f"{where}.size")
        if np.any(size <= 0):
            raise r.fail(f"{where}.size", f"box sizes must be positive, got {size.tolist()}")
        moving = r.get(raw, "moving", where)
        if not isinstance(moving, bool):
            raise r.fail(f"{where}.moving", f"expected true or false, got {moving!r}")
        boxes: list[ActorBox] = []
        last_frame = -1
        for b, box_raw in enumerate(r.sequence(r.get(raw, "boxes", where), f"{where}.boxes")):
            bwhere = f"{where}.boxes[{b}]"
            frame_index = r.integer(r.get(box_raw, "frame", bwhere), f"{bwhere}.frame")
            if frame_index >= len(frames) or frame_index <= last_frame:
                raise r.fail(f"{bwhere}.frame", f"frame {frame_index} is out of range or not increasing")
            last_frame = frame_index
            boxes.append(
                ActorBox(
                    frame_index=frame_index,
                    center=r.array(r.get(box_raw, "center", bwhere), (3,), f"{bwhere}.center"),
                    yaw=r.number(r.get(box_raw, "yaw", bwhere), f"{bwhere}.yaw"),
                )
            )
        tracks.append(ActorTrack(track_id=track_id, category=category, size=size, moving=moving, boxes=boxes))

    geo_raw = doc.get("geo_reference")
    geo_reference = None
    if geo_raw is not None:
        geo_reference = GeoReference(
            latitude=r.number(r.get(geo_raw, "latitude", "geo_reference"), "geo_reference.latitude"),
            longitude=r.number(r.get(geo_raw, "longitude", "geo_reference"), "geo_reference.longitude"),
            altitude=r.number(geo_raw.get("altitude", 0.0), "geo_reference.altitude"),
            note=str(geo_raw.get("note", "")),
        )
    road_raw = doc.get("road_network")
    road_network = None if road_raw is None else r.relative_file(road_raw, "road_network", root)
    provenance = r.mapping(doc.get("provenance", {}), "provenance")
    return SceneLog(
        name=r.string(r.get(doc, "name", ""), "name"),
        source=r.string(r.get(doc, "source", ""), "source"),
        ego_origin=r.string(r.get(doc, "ego_origin", ""), "ego_origin"),
        ego_size=r.array(r.get(doc, "ego_size", ""), (3,), "ego_size"),
        cameras=cameras,
        lidars=lidars,
        frames=frames,
        tracks=tracks,
        geo_reference=geo_reference,
        road_network=road_network,
        provenance={str(k): str(v) for k, v in provenance.items()},
        root=root,
    )


def load_scene_log(scene_dir: str | os.PathLike[str]) -> SceneLog:
    """Load and validate the SceneLog in `scene_dir`; an `InputError` names the file and field at fault."""
    root = Path(scene_dir)
    file = root / SCENE_FILE_NAME
    if not root.is_dir():
        raise InputError(f"{root}: scene folder does not exist")
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InputError(f"{file}: missing (not a SceneLog folder)") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{file}: not valid JSON ({error})") from error
    return scene_log_from_json(document, file, root)


def _referenced_files(log: SceneLog) -> Iterator[str]:
    for frame in log.frames:
        for cam in frame.cameras.values():
            yield cam.image
        for scan in frame.lidars.values():
            yield scan.points
    if log.road_network is not None:
        yield log.road_network


def write_scene_json(log: SceneLog, scene_dir: Path) -> None:
    """Write scene.json into `scene_dir` atomically (temp file + rename), after checking it reloads."""
    document = scene_log_to_json(log)
    scene_log_from_json(json.loads(json.dumps(document)), scene_dir / SCENE_FILE_NAME, scene_dir)
    handle, temp_name = tempfile.mkstemp(prefix=".scene-", suffix=".json", dir=scene_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=1)
        chmod_like_new_file(temp_name)
        os.replace(temp_name, scene_dir / SCENE_FILE_NAME)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def save_scene_log(log: SceneLog, scene_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Save `log` as a SceneLog folder at `scene_dir` and return it.

    When `scene_dir` is the folder the log lives in (`log.root`), only scene.json is rewritten (atomically).
    Otherwise the files it refers to are copied from `log.root` into a temporary sibling folder that is
    renamed to `scene_dir` once complete, so a failure leaves nothing half-written. An existing
    `scene_dir` is replaced only when `overwrite` is True. `log.root` is set to `scene_dir`.
    """
    from recon_carla_bridge.ingest.staging import staged_directory

    target = Path(scene_dir)
    if log.root is not None and target.exists() and target.resolve() == Path(log.root).resolve():
        write_scene_json(log, target)
        return target
    if log.root is None:
        raise InputError(f"scene log {log.name!r} has no root folder holding its images and scans")
    with staged_directory(target, overwrite=overwrite) as staging:
        for relative in sorted(set(_referenced_files(log))):
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(log.root) / relative, destination)
        write_scene_json(log, staging)
    log.root = target
    return target
