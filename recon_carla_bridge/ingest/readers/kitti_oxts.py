"""KITTI raw OXTS (GPS/IMU) packets: parsing and conversion to IMU poses in a local metric frame.

Each oxts/data/NNNNNNNNNN.txt holds one line of 30 numbers; the first six are latitude, longitude [deg],
altitude [m], roll, pitch, yaw [rad] (yaw 0 = east, counter-clockwise). Positions are projected with the
Mercator projection scaled at the first packet's latitude, as the KITTI raw development kit does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon_carla_bridge.errors import InputError

EARTH_RADIUS_M = 6378137.0
OXTS_FIELD_COUNT = 30


@dataclass(frozen=True)
class OxtsPacket:
    """The pose part of one OXTS packet.

    Attributes:
        latitude: degrees.
        longitude: degrees.
        altitude: metres.
        roll: radians.
        pitch: radians.
        yaw: radians, 0 = east.
    """

    latitude: float
    longitude: float
    altitude: float
    roll: float
    pitch: float
    yaw: float


def read_oxts_packet(path: Path) -> OxtsPacket:
    """Parse one OXTS text file; errors name the file."""
    try:
        values = [float(v) for v in path.read_text(encoding="utf-8").split()]
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path}: cannot parse OXTS packet ({error})") from error
    if len(values) != OXTS_FIELD_COUNT:
        raise InputError(f"{path}: OXTS packet has {len(values)} values, expected {OXTS_FIELD_COUNT}")
    if not all(math.isfinite(v) for v in values[:6]):
        raise InputError(f"{path}: OXTS pose values are not finite")
    return OxtsPacket(*values[:6])


def _rotation(roll: float, pitch: float, yaw: float) -> np.ndarray:
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def oxts_world_from_imu(packets: list[OxtsPacket]) -> list[np.ndarray]:
    """(4, 4) IMU poses in a local frame (x east, y north, z up) at Mercator scale of the first packet."""
    if not packets:
        return []
    scale = math.cos(math.radians(packets[0].latitude))
    poses: list[np.ndarray] = []
    for packet in packets:
        x = scale * EARTH_RADIUS_M * math.radians(packet.longitude)
        y = scale * EARTH_RADIUS_M * math.log(math.tan(math.radians(90.0 + packet.latitude) / 2.0))
        pose = np.eye(4)
        pose[:3, :3] = _rotation(packet.roll, packet.pitch, packet.yaw)
        pose[:3, 3] = [x, y, packet.altitude]
        poses.append(pose)
    origin = poses[0][:3, 3].copy()
    for pose in poses:
        pose[:3, 3] -= origin
    return poses
