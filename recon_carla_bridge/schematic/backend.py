"""The schematic renderer as the world's camera backend (for maps without a reconstructed scene).

The world calls `SchematicBackend().render(snapshot, requests)` once per tick with every camera due; actors
are read from the tick's `RenderSnapshot` (vehicles, walkers, props, traffic lights with their state, stop
signs) and the road from its map.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from recon_carla_bridge.schematic.render import ActorBox, CameraView, render_schematic
from recon_carla_bridge.schematic.scene import SchematicScene

DRAWN_KINDS = ("vehicle", "walker", "prop")
POLE_HALF = np.array([0.12, 0.12, 2.5])  # m: traffic-light and sign poles, 5 m high
HEAD_HALF = np.array([0.25, 0.25, 0.55])  # m: the light's head at the top of its pole
SIGN_HALF = np.array([0.05, 0.45, 0.45])  # m: the stop-sign plate, facing the lane it controls
LIGHT_CATEGORIES = {"Red": "light_red", "Yellow": "light_yellow", "Green": "light_green"}


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
        """Actor boxes from actor states or a snapshot's `DrawnActor`s (location, rotation (pitch, yaw, roll),
        half_extents, box_center, kind as an `ActorKind` or its value)."""
        boxes = []
        for state in states:
            kind = _kind_name(state)
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

    @staticmethod
    def signal_boxes(states: Sequence[Any], light_state: Callable[[int], str | None] | None = None) -> list[ActorBox]:
        """Boxes of the traffic lights and stop signs among actor `states` (see `signal_boxes_at`).

        `light_state(actor_id)` returns a light's state name ('Red', …; None or no function: drawn unlit).
        """
        boxes = []
        for state in states:
            kind = _kind_name(state)
            if kind not in ("traffic_light", "traffic_sign"):
                continue
            name = (light_state(state.actor_id) or "") if light_state and kind == "traffic_light" else ""
            boxes.extend(signal_boxes_at(np.asarray(state.location, dtype=np.float64), float(state.rotation[1]),
                                         kind == "traffic_light", name))
        return boxes

    def render(self, snapshot: Any, requests: Sequence[Any]) -> list[np.ndarray]:
        """One (H, W, 4) BGRA image per request (kinds 'rgb', 'semantic', 'depth') of a `RenderSnapshot`."""
        scene = self.scene_for(snapshot.world_map)
        states = snapshot.actors
        light_of = {actor.actor_id: actor.light_state for actor in states}
        boxes = self.boxes_from_states(states) + self.signal_boxes(states, light_of.get)
        images = []
        for request in requests:
            camera = CameraView(np.asarray(request.world_from_camera, dtype=np.float64), int(request.width),
                                int(request.height), float(request.fov_deg))
            position = camera.world_from_camera[:3, 3]
            visible = [box for box in boxes if not _contains(box, position)]
            images.append(render_schematic(scene, camera, visible, request.kind))
        return images


def _kind_name(state: Any) -> str:
    """'vehicle', 'walker', … of an actor state (`ActorKind`) or a snapshot's `DrawnActor` (its value)."""
    kind = getattr(state, "kind", "")
    return str(getattr(kind, "value", kind))


def signal_boxes_at(base: np.ndarray, yaw: float, is_light: bool, light_state: str = "") -> list[ActorBox]:
    """A 5 m pole at `base` (3,) m with, on top, a light head coloured by `light_state` ('Red', 'Yellow',
    'Green'; anything else unlit) when `is_light`, else a stop-sign plate facing along `yaw` (degrees)."""
    rotation = np.array([0.0, yaw, 0.0])
    pole = ActorBox(base + np.array([0.0, 0.0, POLE_HALF[2]]), rotation, POLE_HALF, "pole")
    top = base + np.array([0.0, 0.0, 2.0 * POLE_HALF[2]])
    if is_light:
        return [pole, ActorBox(top, rotation, HEAD_HALF, LIGHT_CATEGORIES.get(light_state, "light_off"))]
    return [pole, ActorBox(top - np.array([0.0, 0.0, 0.6]), rotation, SIGN_HALF, "sign")]


def _contains(box: ActorBox, point: np.ndarray, margin: float = 0.5) -> bool:
    """Whether `point` is inside the box grown by `margin` (the camera's own vehicle is not drawn)."""
    c, s = np.cos(np.radians(box.rotation[1])), np.sin(np.radians(box.rotation[1]))
    d = np.asarray(point) - box.center
    local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])
    return bool(np.all(np.abs(local) <= np.asarray(box.half_extents) + margin + np.array([0, 0, 1.0])))
