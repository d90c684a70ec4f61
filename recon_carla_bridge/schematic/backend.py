"""The schematic renderer as the world's camera backend (for maps without a reconstructed scene).

The world calls `SchematicBackend().render(sim, requests)` once per tick with every camera due; actors are
read from `sim.alive_states()` (vehicles, walkers, props) and the road from `sim.map`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from recon_carla_bridge.schematic.render import ActorBox, CameraView, render_schematic
from recon_carla_bridge.schematic.scene import SchematicScene

DRAWN_KINDS = ("vehicle", "walker", "prop")


class SchematicBackend:
    """Renders camera requests of a tick with `render_schematic`; road geometry is built once per map."""

    name = "schematic"

    def __init__(self) -> None:
        """A backend with no map geometry yet."""
        self._scene: SchematicScene | None = None
        self._scene_key: Any = None

    def scene_for(self, world_map: Any) -> SchematicScene:
        """The road geometry of `world_map` (cached while the map stays the same)."""
        key = (id(world_map), getattr(world_map, "name", ""))
        if self._scene is None or key != self._scene_key:
            self._scene = SchematicScene.from_map(world_map)
            self._scene_key = key
        return self._scene

    @staticmethod
    def boxes_from_states(states: Sequence[Any]) -> list[ActorBox]:
        """Actor boxes from simulation actor states (location, rotation (pitch, yaw, roll), half_extents, box_center)."""
        boxes = []
        for state in states:
            kind = getattr(getattr(state, "kind", None), "value", "")
            if kind not in DRAWN_KINDS:
                continue
            pitch, yaw, roll = (float(v) for v in state.rotation)
            c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
            offset = np.asarray(state.box_center, dtype=np.float64)
            center = np.asarray(state.location, dtype=np.float64) + np.array(
                [c * offset[0] - s * offset[1], s * offset[0] + c * offset[1], offset[2]])
            boxes.append(ActorBox(center, np.array([pitch, yaw, roll]), np.asarray(state.half_extents, dtype=np.float64),
                                  ActorBox.category_of(state.type_id)))
        return boxes

    def render(self, sim: Any, requests: Sequence[Any]) -> list[np.ndarray]:
        """One (H, W, 4) BGRA image per request (kinds 'rgb', 'semantic', 'depth')."""
        scene = self.scene_for(sim.map)
        boxes = self.boxes_from_states(sim.alive_states())
        images = []
        for request in requests:
            camera = CameraView(np.asarray(request.world_from_camera, dtype=np.float64), int(request.width),
                                int(request.height), float(request.fov_deg))
            position = camera.world_from_camera[:3, 3]
            visible = [box for box in boxes if not _contains(box, position)]
            images.append(render_schematic(scene, camera, visible, request.kind))
        return images


def _contains(box: ActorBox, point: np.ndarray, margin: float = 0.5) -> bool:
    """Whether `point` is inside the box grown by `margin` (the camera's own vehicle is not drawn)."""
    c, s = np.cos(np.radians(box.rotation[1])), np.sin(np.radians(box.rotation[1]))
    d = np.asarray(point) - box.center
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])
    return bool(np.all(np.abs(local) <= np.asarray(box.half_extents) + margin + np.array([0, 0, 1.0])))
