"""Reader for Waymo Open Dataset Frame records (.tfrecord), decoded with Waymo's own protobuf classes.

Needs `waymo-open-dataset-tf-2-12-0` (for `waymo_open_dataset.dataset_pb2`, installed with --no-deps:
only its generated protobuf modules are used, so TensorFlow is not needed), `protobuf` and `tfrecord`
(the TFRecord container reader). Per Frame: `pose.transform` (world_from_vehicle, row-major 4x4), camera
images (JPEG) with `context.camera_calibrations` (intrinsic f_u, f_v, c_u, c_v, distortion; extrinsic
vehicle_from_camera with camera axes x forward, y left, z up), and `laser_labels` (box centre in the
vehicle frame, length/width/height, heading, id linking frames, speed). Lens distortion is not removed.
LiDAR range images are not converted (the test frame has none); scans are left out.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.rawlog import ImageSource, RawFrame, RawLog
from recon_carla_bridge.ingest.scenelog import ActorBox, ActorTrack, CameraCalib, wrap_angle

WAYMO_EGO_SIZE = np.array([5.2, 2.1, 1.8])  # Chrysler Pacifica / Jaguar I-PACE class vehicle
CAMERA_NAMES = {1: "FRONT", 2: "FRONT_LEFT", 3: "FRONT_RIGHT", 4: "SIDE_LEFT", 5: "SIDE_RIGHT"}
LABEL_CATEGORIES = {1: "vehicle", 2: "pedestrian", 4: "cyclist"}  # 3 = sign: not an actor
MOVING_SPEED = 0.5  # m/s
# OpenCV camera axes (x right, y down, z forward) expressed in Waymo camera axes (x forward, y left, z up).
WAYMO_FROM_OPENCV = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def _frame_class() -> type:
    try:
        from waymo_open_dataset import dataset_pb2
    except ImportError as error:
        raise InputError(
            "reading Waymo needs waymo_open_dataset.dataset_pb2: pip install --no-deps waymo-open-dataset-tf-2-12-0==1.6.7 "
            f"protobuf tfrecord crc32c ({error})"
        ) from error
    return dataset_pb2.Frame


def read_frames(path: Path) -> list:
    """All Frame messages of a .tfrecord; a truncated or foreign file raises InputError naming it."""
    frame_class = _frame_class()
    from google.protobuf.message import DecodeError

    try:
        from tfrecord.reader import tfrecord_iterator
    except ImportError as error:
        raise InputError(f"reading Waymo needs the tfrecord package: pip install tfrecord crc32c ({error})") from error

    frames = []
    try:
        for number, record in enumerate(tfrecord_iterator(str(path))):
            frame = frame_class()
            try:
                frame.ParseFromString(bytes(record))
            except DecodeError as error:
                raise InputError(f"{path}: record {number} is not a Waymo Frame ({error})") from error
            frames.append(frame)
    except (OSError, ValueError, RuntimeError) as error:
        raise InputError(f"{path}: not a readable TFRecord file ({error})") from error
    if not frames:
        raise InputError(f"{path}: holds no records")
    return frames


def read_waymo(src: Path) -> RawLog:
    """Read a Waymo Frame .tfrecord into a RawLog (cameras, poses, labelled boxes)."""
    path = Path(src)
    if not path.is_file():
        raise InputError(f"{path}: Waymo .tfrecord file does not exist")
    frames_pb = read_frames(path)
    cameras: dict[str, CameraCalib] = {}
    for calib in frames_pb[0].context.camera_calibrations:
        name = CAMERA_NAMES.get(calib.name, f"CAMERA_{calib.name}")
        intrinsic = list(calib.intrinsic)
        extrinsic = np.asarray(calib.extrinsic.transform, dtype=np.float64)
        if len(intrinsic) < 4 or extrinsic.size != 16:
            raise InputError(f"{path}: camera {name} calibration lacks intrinsic or extrinsic values")
        K = np.array([[intrinsic[0], 0.0, intrinsic[2]], [0.0, intrinsic[1], intrinsic[3]], [0.0, 0.0, 1.0]])
        cameras[name] = CameraCalib(name, K, int(calib.width), int(calib.height), extrinsic.reshape(4, 4) @ WAYMO_FROM_OPENCV)
    start = frames_pb[0].timestamp_micros * 1e-6
    frames: list[RawFrame] = []
    boxes: dict[str, list[tuple[int, int, np.ndarray, np.ndarray, float, float]]] = {}
    for k, frame_pb in enumerate(frames_pb):
        pose = np.asarray(frame_pb.pose.transform, dtype=np.float64)
        if pose.size != 16:
            raise InputError(f"{path}: frame {k} has no pose.transform")
        frame = RawFrame(timestamp=frame_pb.timestamp_micros * 1e-6 - start, world_from_ego=pose.reshape(4, 4), source_id=str(frame_pb.timestamp_micros))
        for image in frame_pb.images:
            name = CAMERA_NAMES.get(image.name, f"CAMERA_{image.name}")
            if name not in cameras:
                raise InputError(f"{path}: frame {k} image from camera {name} has no calibration")
            frame.images[name] = ImageSource(path, cameras[name].width, cameras[name].height, data=bytes(image.image))
        for label in frame_pb.laser_labels:
            category = LABEL_CATEGORIES.get(int(label.type))
            if category is None:
                continue
            b = label.box
            speed = float(np.hypot(label.metadata.speed_x, label.metadata.speed_y))
            boxes.setdefault(label.id, []).append(
                (k, int(label.type), np.array([b.center_x, b.center_y, b.center_z]), np.array([b.length, b.width, b.height]), float(b.heading), speed)
            )
        frames.append(frame)
    tracks = []
    for number, (label_id, seen) in enumerate(sorted(boxes.items())):
        category = LABEL_CATEGORIES[seen[0][1]]
        tracks.append(
            ActorTrack(
                track_id=f"{category}_{number:03d}",
                category=category,
                size=np.median([s[3] for s in seen], axis=0),
                moving=any(s[5] > MOVING_SPEED for s in seen),
                boxes=[ActorBox(s[0], s[2], wrap_angle(s[4])) for s in seen],
            )
        )
    return RawLog(
        name=frames_pb[0].context.name or path.stem,
        source="waymo",
        ego_origin="Waymo vehicle frame (rear axle centre)",
        ego_size=WAYMO_EGO_SIZE.copy(),
        cameras=cameras,
        lidars={},
        frames=frames,
        tracks=tracks,
        geo_reference=None,
        provenance={
            "ego_poses": "Waymo Frame.pose",
            "tracks": "Waymo laser_labels (signs left out)",
            "lidar": "range images not converted",
        },
    )
