"""Reader for a KITTI raw drive: rectified colour camera 02, Velodyne scans, calibration, and OXTS poses
and tracklet boxes when the drive has them.

Accepted layouts: the raw one (SRC/image_02/data/*.png, SRC/velodyne_points/data/*.bin, SRC/oxts/data/,
SRC/tracklet_labels.xml, calibration in SRC's parent) and a flat one (SRC/image_02/*.png,
SRC/velodyne_points/*.bin, SRC/calib/*.txt). File stems are frame numbers.

Ego frame: the Velodyne's axes (x forward, y left, z up), origin on the ground under the Velodyne,
which KITTI mounts 1.73 m above the road.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.rawlog import ImageSource, RawFrame, RawLog, ScanSource
from recon_carla_bridge.ingest.readers.kitti_calib import KittiCalibration, find_calib_dir, load_kitti_calibration
from recon_carla_bridge.ingest.readers.kitti_oxts import oxts_world_from_imu, read_oxts_packet
from recon_carla_bridge.ingest.readers.kitti_tracklets import read_tracklets
from recon_carla_bridge.ingest.scenelog import (
    ActorBox,
    ActorTrack,
    CameraCalib,
    GeoReference,
    LidarCalib,
    invert_pose,
    wrap_angle,
)

KITTI_VELODYNE_HEIGHT_M = 1.73
KITTI_FRAME_PERIOD_S = 0.1
KITTI_EGO_SIZE = np.array([4.77, 1.82, 1.48])  # VW Passat B6 estate, the KITTI recording car
CAMERA_NAME = "image_02"
KARLSRUHE_APPROXIMATE = GeoReference(
    49.0069, 8.4037, 115.0, "approximate: central Karlsruhe, where KITTI raw was recorded; this log has no GNSS"
)
LIDAR_NAME = "velodyne"
KITTI_METADATA_FILES = frozenset({"timestamps.txt", "timestamps_start.txt", "timestamps_end.txt", "dataformat.txt"})


def ego_from_velodyne() -> np.ndarray:
    """(4, 4) Velodyne to ego: same axes, origin moved down to the ground."""
    pose = np.eye(4)
    pose[2, 3] = KITTI_VELODYNE_HEIGHT_M
    return pose


def _data_dir(src: Path, name: str) -> Path | None:
    for candidate in (src / name / "data", src / name):
        if candidate.is_dir():
            return candidate
    return None


def _numbered_files(folder: Path | None, suffix: str) -> dict[int, Path]:
    files: dict[int, Path] = {}
    if folder is None:
        return files
    for path in sorted(folder.glob(f"*{suffix}")):
        if path.name in KITTI_METADATA_FILES:
            continue
        if not path.stem.isdigit():
            raise InputError(f"{path}: KITTI file names must be frame numbers")
        files[int(path.stem)] = path
    return files


def _read_timestamps(path: Path) -> list[float]:
    """Seconds (absolute, arbitrary epoch) of each line of a KITTI timestamps.txt."""
    stamps: list[float] = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        day, _, clock = line.strip().partition(" ")
        try:
            whole, _, fraction = clock.partition(".")
            moment = dt.datetime.strptime(f"{day} {whole}", "%Y-%m-%d %H:%M:%S")
            stamps.append(moment.timestamp() + float(f"0.{fraction or '0'}"))
        except ValueError as error:
            raise InputError(f"{path}:{line_number}: bad timestamp {line.strip()!r}") from error
    return stamps


def load_velodyne_bin(path: Path) -> np.ndarray:
    """Float32 (N, 4) x, y, z, reflectance of a Velodyne .bin; errors name the file."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read Velodyne scan ({error})") from error
    if len(raw) == 0 or len(raw) % 16 != 0:
        raise InputError(f"{path}: truncated Velodyne scan: {len(raw)} bytes is not a whole number of 16-byte points")
    points = np.frombuffer(raw, dtype=np.float32).reshape(-1, 4)
    if not np.all(np.isfinite(points)):
        raise InputError(f"{path}: Velodyne scan contains NaN or infinite values")
    return points


def _velodyne_to_ego(path: Path) -> np.ndarray:
    points = load_velodyne_bin(path).copy()
    points[:, 2] += KITTI_VELODYNE_HEIGHT_M
    return points


def _check_image_sizes(images: dict[int, Path], calib: KittiCalibration) -> None:
    for path in images.values():
        try:
            with Image.open(path) as image:
                size = image.size
        except OSError as error:
            raise InputError(f"{path}: cannot read image ({error})") from error
        if size != (calib.width, calib.height):
            raise InputError(
                f"{path}: image is {size[0]}x{size[1]}, calib_cam_to_cam.txt S_rect_0{calib.camera} says "
                f"{calib.width}x{calib.height}"
            )


def _tracks_from_tracklets(path: Path, frame_numbers: list[int]) -> list[ActorTrack]:
    index_of = {number: i for i, number in enumerate(frame_numbers)}
    tracks: list[ActorTrack] = []
    for t, tracklet in enumerate(read_tracklets(path)):
        boxes: list[ActorBox] = []
        for k, (bottom, yaw) in enumerate(zip(tracklet.bottom_centers, tracklet.yaws)):
            frame = index_of.get(tracklet.first_frame + k)
            if frame is None:
                continue
            center = bottom + np.array([0.0, 0.0, tracklet.size[2] / 2 + KITTI_VELODYNE_HEIGHT_M])
            boxes.append(ActorBox(frame, center, wrap_angle(float(yaw))))
        if boxes:
            tracks.append(ActorTrack(f"{tracklet.object_type.lower()}_{t:03d}", tracklet.category, tracklet.size, False, boxes))
    return tracks


def read_kitti(src: Path) -> RawLog:
    """Read a KITTI raw drive folder into a RawLog (poses/tracks None when OXTS/tracklets are absent)."""
    src = Path(src)
    if not src.is_dir():
        raise InputError(f"{src}: KITTI drive folder does not exist")
    image_dir = _data_dir(src, "image_02")
    velo_dir = _data_dir(src, "velodyne_points")
    oxts_dir = _data_dir(src, "oxts")
    images = _numbered_files(image_dir, ".png")
    scans = _numbered_files(velo_dir, ".bin")
    if not images and not scans:
        raise InputError(f"{src}: no image_02/*.png and no velodyne_points/*.bin found")
    oxts = _numbered_files(oxts_dir, ".txt")
    calib = load_kitti_calibration(find_calib_dir(src), camera=2, need_imu=bool(oxts))
    _check_image_sizes(images, calib)

    _check_scans_have_images(images, scans, image_dir)
    frame_numbers = sorted(set(images) | set(scans))
    camera_times = _timestamps_for(image_dir, frame_numbers)
    scan_times = _timestamps_for(velo_dir, frame_numbers)
    start = min(t for t in (camera_times[0], scan_times[0]) if t is not None) if frame_numbers else 0.0

    poses: list[np.ndarray | None] = [None] * len(frame_numbers)
    geo_reference = KARLSRUHE_APPROXIMATE
    if oxts:
        missing = [n for n in frame_numbers if n not in oxts]
        if missing:
            raise InputError(f"{oxts_dir}: OXTS packets missing for frames {missing[:5]}")
        packets = [read_oxts_packet(oxts[n]) for n in frame_numbers]
        velo_from_ego = invert_pose(ego_from_velodyne())
        assert calib.velo_from_imu is not None
        imu_from_velo = invert_pose(calib.velo_from_imu)
        poses = [world_from_imu @ imu_from_velo @ velo_from_ego for world_from_imu in oxts_world_from_imu(packets)]
        geo_reference = GeoReference(packets[0].latitude, packets[0].longitude, packets[0].altitude, "first OXTS packet")

    ego_from_cam = ego_from_velodyne() @ invert_pose(calib.cam_from_velo)
    frames: list[RawFrame] = []
    for i, number in enumerate(frame_numbers):
        camera_time = camera_times[i]
        scan_time = scan_times[i]
        frame_time = camera_time if camera_time is not None else scan_time
        assert frame_time is not None
        frame = RawFrame(timestamp=frame_time - start, world_from_ego=poses[i], source_id=f"{number:010d}")
        if number in images:
            frame.images[CAMERA_NAME] = ImageSource(images[number], calib.width, calib.height)
        if number in scans:
            path = scans[number]
            frame.scans[LIDAR_NAME] = ScanSource(path, lambda path=path: _velodyne_to_ego(path))
        frames.append(frame)
    _check_scan_sizes(scans)

    tracklet_file = src / "tracklet_labels.xml"
    tracks = _tracks_from_tracklets(tracklet_file, frame_numbers) if tracklet_file.is_file() else None
    return RawLog(
        name=src.name,
        source="kitti",
        ego_origin=f"ground point {KITTI_VELODYNE_HEIGHT_M} m below the Velodyne HDL-64 (axes of the Velodyne)",
        ego_size=KITTI_EGO_SIZE.copy(),
        cameras={CAMERA_NAME: CameraCalib(CAMERA_NAME, calib.K, calib.width, calib.height, ego_from_cam)},
        lidars={LIDAR_NAME: LidarCalib(LIDAR_NAME, ego_from_velodyne())},
        frames=frames,
        tracks=tracks,
        geo_reference=geo_reference,
        provenance={
            "ego_poses": "OXTS GPS/IMU" if oxts else "none in the log",
            "tracks": "KITTI tracklet_labels.xml" if tracks is not None else "none in the log",
            "calibration": "calib_cam_to_cam.txt (P_rect_02, R_rect_00), calib_velo_to_cam.txt",
        },
    )


def _timestamps_for(folder: Path | None, frame_numbers: list[int]) -> list[float | None]:
    """Per frame: the folder's timestamps.txt entry, else frame number x 0.1 s; None if no folder."""
    if folder is None:
        return [None] * len(frame_numbers)
    stamp_file = folder.parent / "timestamps.txt" if folder.name == "data" else folder / "timestamps.txt"
    if stamp_file.is_file():
        stamps = _read_timestamps(stamp_file)
        if frame_numbers and frame_numbers[-1] >= len(stamps):
            raise InputError(f"{stamp_file}: has {len(stamps)} lines, frame {frame_numbers[-1]} needs more")
        return [stamps[n] for n in frame_numbers]
    return [n * KITTI_FRAME_PERIOD_S for n in frame_numbers]


def _check_scans_have_images(images: dict[int, Path], scans: dict[int, Path], image_dir: Path | None) -> None:
    """In a drive with both, every LiDAR scan must have its camera image (a synced KITTI drive pairs them;
    a drive may scan only every other frame, but never image fewer frames than it scans)."""
    if not images or not scans:
        return
    orphans = sorted(set(scans) - set(images))
    if orphans:
        raise InputError(
            f"{scans[orphans[0]]}: scan of frame {orphans[0]} has no image in {image_dir} "
            f"({len(scans)} scans, {len(images)} images; {len(orphans)} scans without an image, "
            f"images cover frames {min(images)}-{max(images)})"
        )


def _check_scan_sizes(scans: dict[int, Path]) -> None:
    for path in scans.values():
        size = path.stat().st_size
        if size == 0 or size % 16 != 0:
            raise InputError(f"{path}: truncated Velodyne scan: {size} bytes is not a whole number of 16-byte points")
