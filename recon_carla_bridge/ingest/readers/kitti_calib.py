"""KITTI raw calibration files: parsing and the camera / LiDAR / IMU transforms they define.

calib_cam_to_cam.txt gives the rectified projections P_rect_0X (3x4) and the rectifying rotation R_rect_00;
calib_velo_to_cam.txt gives R, T with x_cam0 = R x_velo + T; calib_imu_to_velo.txt gives R, T with
x_velo = R x_imu + T. A Velodyne point projects into rectified camera X as P_rect_0X R_rect_00 [R|T] x.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_carla_bridge.errors import InputError


def parse_calib_file(path: Path) -> dict[str, np.ndarray]:
    """Read a KITTI `key: v1 v2 ...` calibration file; keys whose values are not numbers are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InputError(f"{path}: calibration file is missing") from error
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read calibration file ({error})") from error
    values: dict[str, np.ndarray] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if ":" not in line:
            raise InputError(f"{path}:{line_number}: expected 'key: values', got {line.strip()!r}")
        key, _, rest = line.partition(":")
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue  # e.g. calib_time: 09-Jan-2012 13:57:47
    return values


def _field(values: dict[str, np.ndarray], key: str, size: int, path: Path) -> np.ndarray:
    if key not in values:
        raise InputError(f"{path}: field {key} is missing")
    if values[key].size != size:
        raise InputError(f"{path}: field {key} has {values[key].size} numbers, expected {size}")
    return values[key]


def _rigid(rotation: np.ndarray, translation: np.ndarray, path: Path, what: str) -> np.ndarray:
    rotation = rotation.reshape(3, 3)
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-3) or np.linalg.det(rotation) <= 0:
        raise InputError(f"{path}: field R ({what}) is not a rotation matrix")
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = translation
    return pose


@dataclass(frozen=True)
class KittiCalibration:
    """Calibration of one KITTI raw drive, for one rectified camera.

    Attributes:
        camera: camera number (2 = left colour).
        K: (3, 3) intrinsics of the rectified camera.
        width: rectified image width [px].
        height: rectified image height [px].
        cam_from_velo: (4, 4) Velodyne to rectified camera (OpenCV axes).
        velo_from_imu: (4, 4) IMU/GPS to Velodyne, or None without calib_imu_to_velo.txt.
    """

    camera: int
    K: np.ndarray
    width: int
    height: int
    cam_from_velo: np.ndarray
    velo_from_imu: np.ndarray | None


def find_calib_dir(src: Path) -> Path:
    """The folder with calib_cam_to_cam.txt: SRC/calib, SRC, or SRC's parent (the raw date folder)."""
    for candidate in (src / "calib", src, src.parent):
        if (candidate / "calib_cam_to_cam.txt").is_file() or (candidate / "calib_velo_to_cam.txt").is_file():
            return candidate
    raise InputError(f"{src}: no KITTI calibration found (looked for calib_cam_to_cam.txt in {src / 'calib'}, {src}, {src.parent})")


def load_kitti_calibration(calib_dir: Path, camera: int = 2, need_imu: bool = False) -> KittiCalibration:
    """Read the calibration of rectified camera `camera` from `calib_dir`; errors name the file and field."""
    cam_file = calib_dir / "calib_cam_to_cam.txt"
    velo_file = calib_dir / "calib_velo_to_cam.txt"
    imu_file = calib_dir / "calib_imu_to_velo.txt"
    cam = parse_calib_file(cam_file)
    velo = parse_calib_file(velo_file)

    projection = _field(cam, f"P_rect_0{camera}", 12, cam_file).reshape(3, 4)
    rect = _field(cam, "R_rect_00", 9, cam_file).reshape(3, 3)
    width, height = (round(v) for v in _field(cam, f"S_rect_0{camera}", 2, cam_file))
    K = projection[:, :3].copy()
    if K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[0, 1]) > 1e-9:
        raise InputError(f"{cam_file}: field P_rect_0{camera} has no valid pinhole intrinsics")
    # P = K [I | b]: camera X sits at -b in the rectified camera-0 frame (b in metres).
    offset = np.linalg.solve(K, projection[:, 3])
    cam_from_rect0 = np.eye(4)
    cam_from_rect0[:3, 3] = offset
    rect0_from_cam0 = np.eye(4)
    rect0_from_cam0[:3, :3] = rect
    cam0_from_velo = _rigid(_field(velo, "R", 9, velo_file), _field(velo, "T", 3, velo_file), velo_file, "velo to cam")
    cam_from_velo = cam_from_rect0 @ rect0_from_cam0 @ cam0_from_velo
    # R_rect_00 is only nearly orthonormal (printed to 7 digits): re-orthonormalise the rotation.
    u, _, vt = np.linalg.svd(cam_from_velo[:3, :3])
    cam_from_velo[:3, :3] = u @ vt

    velo_from_imu = None
    if imu_file.is_file() or need_imu:
        imu = parse_calib_file(imu_file)
        velo_from_imu = _rigid(_field(imu, "R", 9, imu_file), _field(imu, "T", 3, imu_file), imu_file, "imu to velo")
    return KittiCalibration(camera, K, width, height, cam_from_velo, velo_from_imu)
