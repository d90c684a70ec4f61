"""KITTI raw tracklet_labels.xml (boost serialisation XML): annotated 3D boxes in the Velodyne frame.

Each tracklet has an objectType, box h/w/l [m], a first_frame and one pose per frame from it
(tx, ty, tz = bottom centre of the box in Velodyne coordinates, rz = yaw about the Velodyne z axis).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from recon_carla_bridge.errors import InputError

KITTI_CATEGORIES: dict[str, str] = {
    "Car": "vehicle",
    "Van": "vehicle",
    "Truck": "vehicle",
    "Tram": "vehicle",
    "Pedestrian": "pedestrian",
    "Person_sitting": "pedestrian",
    "Person (sitting)": "pedestrian",
    "Cyclist": "cyclist",
    "Misc": "unknown",
}


@dataclass(frozen=True)
class Tracklet:
    """One annotated object.

    Attributes:
        object_type: KITTI class name ("Car", "Pedestrian", ...).
        size: (3,) length, width, height [m].
        first_frame: frame number of the first pose.
        bottom_centers: (M, 3) box bottom centre per frame, Velodyne frame [m].
        yaws: (M,) yaw about Velodyne z per frame [rad].
    """

    object_type: str
    size: np.ndarray
    first_frame: int
    bottom_centers: np.ndarray
    yaws: np.ndarray

    @property
    def category(self) -> str:
        """SceneLog category of the KITTI class."""
        return KITTI_CATEGORIES.get(self.object_type, "unknown")


def _number(element: ElementTree.Element, tag: str, path: Path, where: str) -> float:
    child = element.find(tag)
    if child is None or child.text is None:
        raise InputError(f"{path}: {where}: field <{tag}> is missing")
    try:
        return float(child.text)
    except ValueError as error:
        raise InputError(f"{path}: {where}: field <{tag}> is not a number: {child.text!r}") from error


def read_tracklets(path: Path) -> list[Tracklet]:
    """Parse tracklet_labels.xml; errors name the file and the tracklet / field."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise InputError(f"{path}: cannot parse tracklet XML ({error})") from error
    container = root.find("tracklets")
    if container is None:
        raise InputError(f"{path}: no <tracklets> element")
    tracklets: list[Tracklet] = []
    for index, item in enumerate(container.findall("item")):
        where = f"tracklet {index}"
        object_type = (item.findtext("objectType") or "").strip()
        if not object_type:
            raise InputError(f"{path}: {where}: field <objectType> is missing")
        size = np.array([_number(item, tag, path, where) for tag in ("l", "w", "h")])
        first_frame = int(_number(item, "first_frame", path, where))
        poses = item.find("poses")
        if poses is None:
            raise InputError(f"{path}: {where}: field <poses> is missing")
        centers, yaws = [], []
        for p, pose in enumerate(poses.findall("item")):
            pwhere = f"{where} pose {p}"
            centers.append([_number(pose, tag, path, pwhere) for tag in ("tx", "ty", "tz")])
            yaws.append(_number(pose, "rz", path, pwhere))
        if not centers:
            continue
        tracklets.append(Tracklet(object_type, size, first_frame, np.array(centers), np.array(yaws)))
    return tracklets
