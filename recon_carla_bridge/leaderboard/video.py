"""The per-route front-camera video: the agent's first rgb camera, or a schematic camera when it has none."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import carla
import imageio.v2 as imageio
import numpy as np

from recon_carla_bridge.schematic import (
    ActorBox,
    CameraView,
    SchematicScene,
    render_schematic,
)
from recon_carla_bridge.schematic.backend import signal_boxes_at

MAX_WIDTH = 480  # pixels; larger camera images are subsampled
SCHEMATIC_SIZE = (384, 192)  # pixels (width, height) when the agent has no rgb camera
SCHEMATIC_MOUNT = carla.Transform(carla.Location(x=1.3, z=2.3))


class FrontVideo:
    """Writes every `every`-th tick's front image to an MP4 as the route runs."""

    def __init__(self, path: Path, world_map: carla.Map, camera_tag: str | None, every: int, fps: float) -> None:
        """Record the agent camera `camera_tag` (or a schematic one when None) to `path`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer = imageio.get_writer(str(path), fps=fps, codec="libx264", quality=6, macro_block_size=16,
                                          ffmpeg_log_level="error")
        self._tag = camera_tag
        self._every = every
        self._count = 0
        self._latest: np.ndarray | None = None
        self._tapped = False
        self._scene = SchematicScene.from_map(world_map) if camera_tag is None else None

    def _tap(self, sensor_interface: Any) -> None:
        original = sensor_interface.update_sensor

        def update_sensor(tag: str, data: Any, frame: int) -> None:
            if tag == self._tag:
                self._latest = data
            original(tag, data, frame)

        sensor_interface.update_sensor = update_sensor
        self._tapped = True

    def add(self, sensor_interface: Any, frame: int, ego: Any, world: Any) -> None:
        """Add this tick's image when due."""
        if self._tag is not None and not self._tapped:
            self._tap(sensor_interface)
            return
        self._count += 1
        if (self._count - 1) % self._every:
            return
        if self._tag is not None:
            if self._latest is None:
                return
            bgra = self._latest
            step = max(int(np.ceil(bgra.shape[1] / MAX_WIDTH)), 1)
            rgb = np.ascontiguousarray(bgra[::step, ::step, 2::-1])
        else:
            rgb = self._schematic(ego, world)
        height, width = rgb.shape[0] // 16 * 16, rgb.shape[1] // 16 * 16
        self._writer.append_data(rgb[:height, :width])

    def _schematic(self, ego: Any, world: Any) -> np.ndarray:
        transform = ego.get_transform()
        location = transform.transform(carla.Location(SCHEMATIC_MOUNT.location))  # transform() works in place
        camera = carla.Transform(location, carla.Rotation(yaw=transform.rotation.yaw))
        boxes = []
        for actor in world.get_actors():
            if actor.type_id.startswith("traffic."):
                location, yaw = actor.get_location(), actor.get_transform().rotation.yaw
                is_light = actor.type_id.startswith("traffic.traffic_light")
                boxes.extend(signal_boxes_at(np.array([location.x, location.y, location.z]), yaw, is_light,
                                             actor.get_state().name if is_light else ""))
                continue
            if actor.id == ego.id or not actor.type_id.startswith(("vehicle", "walker", "static")):
                continue
            t, bb = actor.get_transform(), actor.bounding_box
            center = t.transform(carla.Location(bb.location))  # transform() works in place
            boxes.append(ActorBox(np.array([center.x, center.y, center.z]),
                                  np.array([t.rotation.pitch, t.rotation.yaw, t.rotation.roll]),
                                  np.array([bb.extent.x, bb.extent.y, bb.extent.z]), ActorBox.category_of(actor.type_id)))
        view = CameraView(np.array(camera.get_matrix()), SCHEMATIC_SIZE[0], SCHEMATIC_SIZE[1], 90.0)
        return np.ascontiguousarray(render_schematic(self._scene, view, boxes)[..., 2::-1])

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()
