"""RawLog: what a reader hands to the ingest pipeline, before missing parts are estimated.

A reader checks its source up front (files present, sizes right, calibration parseable) and returns a
RawLog whose images and scans are loaded lazily. Poses and tracks are optional: the pipeline estimates
them from the LiDAR when the source has none.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.ingest.scenelog import ActorTrack, CameraCalib, GeoReference, LidarCalib


@dataclass(frozen=True)
class ImageSource:
    """A camera image in the source log.

    Attributes:
        path: file holding the image (or the container it is in, for error messages).
        width: expected width in pixels.
        height: expected height in pixels.
        data: encoded image bytes when the image lives inside a container file (Waymo), else None.
    """

    path: Path
    width: int
    height: int
    data: bytes | None = None

    def load(self) -> Image.Image:
        """Decode the image as RGB and check its size; errors name the file."""
        return self.load_original().convert("RGB")

    def store(self, destination: Path) -> Path:
        """Write the image next to `destination` (its suffix replaced) without losing anything: an RGB JPEG
        or PNG keeps the source's own bytes (re-encoding a JPEG adds a second loss, and a quality-95 JPEG of
        a KITTI PNG with PIL's default 4:2:0 chroma is only 31 dB PSNR from it); any other image is written
        as PNG. The image is decoded first, so a corrupt source raises InputError naming it.
        Returns the path written."""
        image = self.load_original()
        suffix = {"JPEG": ".jpg", "PNG": ".png"}.get(image.format or "") if image.mode == "RGB" else None
        if suffix is not None:
            target = destination.with_suffix(suffix)
            if self.data is not None:
                target.write_bytes(self.data)
            else:
                shutil.copyfile(self.path, target)
            return target
        target = destination.with_suffix(".png")
        image.convert("RGB").save(target)
        return target

    def load_original(self) -> Image.Image:
        """The decoded image in its own mode and format (size checked; errors name the file)."""
        try:
            if self.data is not None:
                import io

                image = Image.open(io.BytesIO(self.data))
            else:
                image = Image.open(self.path)
            image.load()
        except (OSError, ValueError) as error:
            raise InputError(f"{self.path}: cannot decode image ({error})") from error
        if image.size != (self.width, self.height):
            raise InputError(
                f"{self.path}: image is {image.size[0]}x{image.size[1]}, "
                f"the calibration says {self.width}x{self.height}"
            )
        return image


@dataclass(frozen=True)
class ScanSource:
    """A LiDAR sweep in the source log.

    Attributes:
        path: file holding the sweep (for error messages).
        loader: returns float32 (N, 4) x, y, z [m] in the EGO frame and intensity in [0, 1].
    """

    path: Path
    loader: Callable[[], np.ndarray]

    def load(self) -> np.ndarray:
        """The (N, 4) float32 points in the ego frame."""
        points = np.asarray(self.loader(), dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 4:
            raise InputError(f"{self.path}: expected (N, 4) points, got shape {points.shape}")
        return points


@dataclass
class RawFrame:
    """One time step of a source log.

    Attributes:
        timestamp: seconds since the log start.
        world_from_ego: (4, 4) ego pose in any fixed world frame, or None when the log has none.
        images: camera name -> image.
        scans: LiDAR name -> sweep.
        source_id: the source's own name for the frame (file stem, token), for messages.
    """

    timestamp: float
    world_from_ego: np.ndarray | None
    images: dict[str, ImageSource] = field(default_factory=dict)
    scans: dict[str, ScanSource] = field(default_factory=dict)
    source_id: str = ""


@dataclass
class RawLog:
    """A source log as read, before estimation and normalisation.

    Attributes:
        name: scene name.
        source: reader name ("kitti", "nuscenes", "dgp", "waymo").
        ego_origin: where the ego frame's origin is (free text, copied to the SceneLog).
        ego_size: (3,) ego length, width, height [m].
        cameras: camera name -> calibration (ego_from_camera in this reader's ego frame).
        lidars: LiDAR name -> mounting.
        frames: frames in time order.
        tracks: actor tracks whose boxes are in the EGO frame of their frame (centre in ego coordinates,
            yaw about ego z), or None when the log has no boxes; the pipeline moves them to the world.
        geo_reference: where the source's world origin is, if known.
        provenance: free-text notes on how parts were obtained.
    """

    name: str
    source: str
    ego_origin: str
    ego_size: np.ndarray
    cameras: dict[str, CameraCalib]
    lidars: dict[str, LidarCalib]
    frames: list[RawFrame]
    tracks: list[ActorTrack] | None = None
    geo_reference: GeoReference | None = None
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def has_poses(self) -> bool:
        """True when every frame carries an ego pose."""
        return all(frame.world_from_ego is not None for frame in self.frames)
