"""Ego poses from LiDAR: KISS-ICP odometry over the scans, SE(3) interpolation to frames without one."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.ingest.se3 import interpolate_poses


@dataclass(frozen=True)
class OdometryConfig:
    """Settings of the LiDAR odometry.

    Attributes:
        max_range: points farther than this from the sensor are ignored [m].
        min_range: points nearer than this are ignored (the ego's own body) [m].
        voxel_size: KISS-ICP map voxel size [m] (KISS-ICP's default is max_range / 100).
        deskew: let KISS-ICP undo motion distortion within a sweep (needs per-point times; with none it
            derives them from azimuth, which suits spinning LiDARs).
        max_threads: registration threads (0 = all cores).
    """

    max_range: float = 80.0
    min_range: float = 3.0
    voxel_size: float = 0.8
    deskew: bool = False
    max_threads: int = 0


def _azimuth_times(points: np.ndarray) -> np.ndarray:
    """Per-point relative times in [0, 1] from azimuth, for a sweep starting and ending behind the car."""
    azimuth = np.arctan2(points[:, 1], points[:, 0])
    return ((np.pi - azimuth) / (2 * np.pi)).clip(0.0, 1.0)


def lidar_odometry(
    scans: Sequence[np.ndarray], config: OdometryConfig = OdometryConfig(), progress: Callable[[int], None] | None = None
) -> list[np.ndarray]:
    """(4, 4) poses of each scan's frame relative to the first scan's, from consecutive (N, >=3) point sets.

    The scans must be in the same body-fixed frame (e.g. the ego frame); the result is first_from_scan.
    """
    from kiss_icp.config import KISSConfig
    from kiss_icp.config.config import AdaptiveThresholdConfig, DataConfig, MappingConfig, RegistrationConfig
    from kiss_icp.kiss_icp import KissICP

    kiss_config = KISSConfig(
        data=DataConfig(max_range=config.max_range, min_range=config.min_range, deskew=config.deskew),
        mapping=MappingConfig(voxel_size=config.voxel_size),
        registration=RegistrationConfig(max_num_threads=config.max_threads),
        adaptive_threshold=AdaptiveThresholdConfig(),
    )
    odometry = KissICP(kiss_config)
    poses: list[np.ndarray] = []
    for i, scan in enumerate(scans):
        xyz = np.ascontiguousarray(scan[:, :3], dtype=np.float64)
        odometry.register_frame(xyz, _azimuth_times(xyz) if config.deskew else np.zeros(len(xyz)))
        poses.append(np.asarray(odometry.last_pose, dtype=np.float64).copy())
        if progress is not None:
            progress(i)
    return poses


def fill_poses(times: np.ndarray, known: dict[int, np.ndarray]) -> list[np.ndarray]:
    """A pose for every frame (times in s): known ones kept, others SE(3)-interpolated / extrapolated."""
    indices = sorted(known)
    known_times = np.asarray([times[i] for i in indices])
    filled = interpolate_poses(known_times, [known[i] for i in indices], np.asarray(times))
    for i in indices:
        filled[i] = known[i]
    return filled
