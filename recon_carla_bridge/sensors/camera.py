"""Camera sensors: rgb, depth and semantic segmentation, rendered in one batch per tick.

The simulation gathers every camera due at a tick into `CameraRequest`s and hands them, with a
`RenderSnapshot` of the tick (the frozen poses of everything a camera may draw), to the world's
`CameraBackend` in one call (the Gaussian-splat scene when one is loaded, the schematic road renderer
otherwise), then wraps each result in a `carla.Image` subclass. Backends never see the simulation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.sensors.models import SensorContext, SensorModel, register_sensor_model

MAX_IMAGE_SIDE = 8192  # pixels; larger images are refused with a clear error
CAMERA_KINDS = {
    "sensor.camera.rgb": "rgb",
    "sensor.camera.depth": "depth",
    "sensor.camera.semantic_segmentation": "semantic",
}


@dataclass(frozen=True)
class CameraRequest:
    """One image to render."""

    kind: str  # 'rgb' | 'depth' | 'semantic'
    width: int  # pixels
    height: int  # pixels
    fov_deg: float  # horizontal field of view
    world_from_camera: np.ndarray  # (4, 4) CARLA frame (as carla.Transform.get_matrix), camera looks along +x
    restore: bool = True  # rgb: the scene's restorer may refine the image (attribute enable_restorer)
    camera_id: int = -1  # the camera actor (a backend's per-camera state, e.g. the restorer's previous frame)

    def intrinsics(self) -> np.ndarray:
        """(3, 3) pinhole K as CARLA builds it: f = w / (2 tan(fov/2)), principal point at the centre."""
        focal = self.width / (2.0 * np.tan(np.radians(self.fov_deg) / 2.0))
        return np.array([[focal, 0.0, self.width / 2.0], [0.0, focal, self.height / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class DrawnActor:
    """One actor as the cameras of a tick see it (CARLA frame; arrays are copies)."""

    actor_id: int
    kind: str  # 'vehicle' | 'walker' | 'prop' | 'traffic_light' | 'traffic_sign'
    type_id: str  # blueprint id
    location: np.ndarray  # (3,) m, actor origin (ground under the box centre for vehicles)
    rotation: np.ndarray  # (3,) deg, pitch, yaw, roll
    half_extents: np.ndarray  # (3,) m, bounding-box half size
    box_center: np.ndarray  # (3,) m, bounding-box centre in the actor frame
    appearance: str | None = None  # the reconstruction's track drawn for it (its own log track), if any
    light_state: str = ""  # traffic lights: 'Red', 'Yellow', 'Green' or 'Off'


@dataclass(frozen=True)
class RenderSnapshot:
    """What camera backends read at one tick: the poses of everything drawable, frozen when the tick's
    cameras were due (so a backend that renders on another thread reads the tick it was asked for)."""

    frame: int
    elapsed_seconds: float  # s of simulated time
    world_map: Any  # the carla.Map of the world
    actors: tuple[DrawnActor, ...]
    camera_carriers: frozenset[int]  # actors that carry a camera (the camera sits inside: not drawn)


class CameraBackend(Protocol):
    """Renders many camera requests of one tick at once.

    A backend whose `asynchronous` is true (one that renders on a GPU) also has
    `launch(snapshot, requests) -> collect`: it starts the work and returns at once, and `collect()`
    waits for the images; the simulation then delivers them from its delivery thread
    (`sensors.delivery`), overlapping the next world step with the render.
    """

    name: str
    asynchronous: bool

    def render(self, snapshot: RenderSnapshot, requests: Sequence[CameraRequest]) -> list[np.ndarray]:
        """One (H, W, 4) uint8 BGRA image per request, in CARLA's encoding for its kind."""
        ...

    def launch(self, snapshot: RenderSnapshot, requests: Sequence[CameraRequest]) -> Callable[[], list[np.ndarray]]:
        """Asynchronous backends: start rendering, return `collect()` (see the class docstring)."""
        ...


class CameraModel(SensorModel):
    """A camera's validated settings; rendering is batched by the simulation."""

    is_camera = True

    def __init__(self, type_id: str, attributes: dict[str, str]):
        super().__init__(type_id, attributes)
        self.kind = CAMERA_KINDS[type_id]
        self.width = self._size("image_size_x")
        self.height = self._size("image_size_y")
        self.fov = self._float("fov", minimum=1e-3, maximum=179.0)
        raw = self.attributes.get("enable_restorer", "true").strip().lower()
        if raw not in ("true", "false", "1", "0"):
            raise InputError(f"{type_id}: attribute 'enable_restorer' = {raw!r} is not a bool (true or false)")
        self.restore = raw in ("true", "1")

    def _size(self, name: str) -> int:
        raw = self.attributes.get(name, "")
        try:
            value = int(float(raw))
        except ValueError:
            raise InputError(f"{self.type_id}: attribute '{name}' = {raw!r} is not an integer") from None
        if not 1 <= value <= MAX_IMAGE_SIDE:
            raise InputError(f"{self.type_id}: attribute '{name}' = {value} must be within 1..{MAX_IMAGE_SIDE} pixels")
        return value

    def request(self, world_from_camera: np.ndarray, camera_id: int = -1) -> CameraRequest:
        """The render request for the camera (actor `camera_id`) at this pose."""
        return CameraRequest(self.kind, self.width, self.height, self.fov, world_from_camera, self.restore, camera_id)

    def measure(self, ctx: SensorContext) -> None:
        """Cameras are rendered in batches by the simulation, never one at a time."""
        raise RuntimeError("camera measurements are produced by Simulation._render_cameras")


for _type_id in CAMERA_KINDS:
    register_sensor_model(_type_id, CameraModel)
