"""Schematic camera images of a CARLA map: sky, ground, road surface, lane markings and actor boxes.

`render_schematic(scene, camera, boxes, kind)` → (H, W, 4) uint8 BGRA in CARLA's encoding for `kind`:
- 'rgb': colours; 'semantic': the CARLA 0.9.14+ tag in the red channel (road 1, sidewalk 2, terrain 10, sky 11,
  pedestrian 12, car 14, static 20, road line 24); 'depth': CARLA's 24-bit depth encoding (1000 m scale), with
  one depth per polygon (its mean), which is exact for what a schematic shows at its resolution.
Polygons are drawn far-to-near (the painter's algorithm): ground first, then markings, then boxes.
Camera frame as CARLA's: x forward, y right, z up; pinhole with f = W / (2 tan(fov/2)).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from recon_carla_bridge.schematic.scene import (
    MARKING_WHITE,
    MARKING_YELLOW,
    ROAD,
    SIDEWALK,
    SchematicScene,
)

NEAR = 0.3  # m
FAR = 150.0  # m: farther quads are not drawn
SKY_DEPTH = 1000.0  # m

RGB_PALETTE = {ROAD: (72, 72, 76), SIDEWALK: (150, 146, 140), MARKING_WHITE: (235, 235, 235),
               MARKING_YELLOW: (235, 200, 40)}
SEMANTIC_PALETTE = {ROAD: 1, SIDEWALK: 2, MARKING_WHITE: 24, MARKING_YELLOW: 24}
BOX_RGB = {"vehicle": (40, 90, 200), "walker": (210, 60, 50), "static": (230, 140, 30), "other": (120, 120, 120),
           "pole": (70, 70, 74), "light_red": (235, 35, 35), "light_yellow": (245, 200, 30),
           "light_green": (40, 210, 80), "light_off": (30, 30, 30), "sign": (200, 30, 30)}
BOX_SEMANTIC = {"vehicle": 14, "walker": 12, "static": 20, "other": 20, "pole": 5, "light_red": 18,
                "light_yellow": 18, "light_green": 18, "light_off": 18, "sign": 8}
SKY_TOP, SKY_HORIZON, GROUND = (110, 160, 220), (200, 220, 240), (96, 112, 80)


@dataclass(frozen=True)
class CameraView:
    """A pinhole camera: `world_from_camera` (4, 4) as `carla.Transform.get_matrix()`, size in pixels, fov in degrees."""

    world_from_camera: np.ndarray
    width: int
    height: int
    fov_deg: float

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return self.width / (2.0 * np.tan(np.radians(self.fov_deg) / 2.0))


@dataclass(frozen=True)
class ActorBox:
    """An oriented 3D box: centre (3,) m, rotation (pitch, yaw, roll) degrees, half-extents (3,) m, and category
    ('vehicle', 'walker', 'static', 'other', 'pole', 'sign' or 'light_red' / '_yellow' / '_green' / '_off')."""

    center: np.ndarray
    rotation: np.ndarray
    half_extents: np.ndarray
    category: str = "vehicle"

    @staticmethod
    def category_of(type_id: str) -> str:
        """Category of a blueprint id."""
        for prefix in ("vehicle", "walker"):
            if type_id.startswith(prefix):
                return prefix
        return "static" if type_id.startswith(("static", "traffic")) else "other"


def _rotation_matrix(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """CARLA (UE4) rotation matrix from degrees, as `carla.Transform.get_matrix` uses."""
    cp, sp = np.cos(np.radians(pitch)), np.sin(np.radians(pitch))
    cy, sy = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    cr, sr = np.cos(np.radians(roll)), np.sin(np.radians(roll))
    return np.array([
        [cp * cy, cy * sp * sr - sy * cr, -cy * sp * cr - sy * sr],
        [cp * sy, sy * sp * sr + cy * cr, -sy * sp * cr + cy * sr],
        [sp, -cp * sr, cp * cr],
    ])


def box_faces(box: ActorBox) -> np.ndarray:
    """(6, 4, 3) world corners of the box faces, each ordered counter-clockwise seen from outside."""
    hx, hy, hz = box.half_extents
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
    corners = signs * np.array([hx, hy, hz])
    corners = corners @ _rotation_matrix(*box.rotation).T + np.asarray(box.center)
    faces = [(4, 6, 7, 5), (0, 1, 3, 2), (2, 3, 7, 6), (0, 4, 5, 1), (1, 5, 7, 3), (0, 2, 6, 4)]
    return corners[np.array(faces)]


def _clip_near(polygon: np.ndarray) -> np.ndarray:
    """Clip a camera-frame polygon (N, 3) to x >= NEAR (Sutherland–Hodgman against one plane)."""
    out = []
    count = len(polygon)
    for i in range(count):
        current, following = polygon[i], polygon[(i + 1) % count]
        current_in, following_in = current[0] >= NEAR, following[0] >= NEAR
        if current_in:
            out.append(current)
        if current_in != following_in:
            t = (NEAR - current[0]) / (following[0] - current[0])
            out.append(current + t * (following - current))
    return np.asarray(out).reshape(-1, 3)


def _project(points: np.ndarray, camera: CameraView) -> np.ndarray:
    focal = camera.focal
    u = camera.width / 2.0 + focal * points[:, 1] / points[:, 0]
    v = camera.height / 2.0 - focal * points[:, 2] / points[:, 0]
    return np.column_stack([u, v])


def _to_camera(points: np.ndarray, camera_from_world: np.ndarray) -> np.ndarray:
    return points @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]


def _visible_polygons(world_polygons: np.ndarray, camera: CameraView,
                      camera_from_world: np.ndarray) -> list[tuple[int, float, np.ndarray]]:
    """(index, depth, (N, 2) pixel polygon) for each polygon at least partly in front of the camera."""
    if not len(world_polygons):
        return []
    cam = _to_camera(world_polygons.reshape(-1, 3), camera_from_world).reshape(world_polygons.shape)
    xs = cam[..., 0]
    keep = xs.max(axis=1) >= NEAR
    # Cull polygons entirely outside one side of the horizontal field of view.
    half_tan = camera.width / 2.0 / camera.focal
    ys = cam[..., 1]
    keep &= ~np.all(ys > xs * half_tan + 1.0, axis=1) & ~np.all(ys < -xs * half_tan - 1.0, axis=1)
    out = []
    for index in np.flatnonzero(keep):
        polygon = cam[index]
        if polygon[:, 0].min() < NEAR:
            polygon = _clip_near(polygon)
            if len(polygon) < 3:
                continue
        out.append((int(index), float(polygon[:, 0].mean()), _project(polygon, camera)))
    return out


def _background(camera: CameraView, camera_from_world: np.ndarray, kind: str) -> tuple[Image.Image, np.ndarray]:
    """Sky above the horizon, ground below; returns the image and a per-pixel depth (m) for 'depth'."""
    height, width = camera.height, camera.width
    world_from_camera = camera.world_from_camera
    rows = np.arange(height) + 0.5
    cols = np.arange(width) + 0.5
    uu, vv = np.meshgrid(cols, rows)
    rays = np.stack([np.full_like(uu, camera.focal), uu - width / 2.0, -(vv - height / 2.0)], axis=-1)
    world_dirs = rays @ world_from_camera[:3, :3].T
    camera_z = world_from_camera[2, 3]
    ground_z = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ground_z - camera_z) / world_dirs[..., 2]
    ground = (world_dirs[..., 2] < 0) & (t > 0)
    depth = np.where(ground, t * camera.focal / np.linalg.norm(rays, axis=-1) * 1.0, SKY_DEPTH)
    depth = np.minimum(depth, SKY_DEPTH)
    if kind == "rgb":
        elevation = np.clip(world_dirs[..., 2] / np.linalg.norm(world_dirs, axis=-1), 0.0, 1.0)[..., None]
        sky = np.array(SKY_HORIZON) * (1 - elevation) + np.array(SKY_TOP) * elevation
        pixels = np.where(ground[..., None], np.array(GROUND, dtype=np.float64), sky).astype(np.uint8)
        return Image.fromarray(pixels, "RGB"), depth
    if kind == "semantic":
        tags = np.where(ground, 10, 11).astype(np.uint8)
        return Image.fromarray(tags, "L"), depth
    return Image.fromarray(depth.astype(np.float32), "F"), depth


def _encode(image: Image.Image, kind: str) -> np.ndarray:
    """(H, W, 4) BGRA uint8 in CARLA's encoding."""
    array = np.asarray(image)
    height, width = array.shape[:2]
    out = np.zeros((height, width, 4), dtype=np.uint8)
    out[..., 3] = 255
    if kind == "rgb":
        out[..., 0], out[..., 1], out[..., 2] = array[..., 2], array[..., 1], array[..., 0]
    elif kind == "semantic":
        out[..., 2] = array
    else:
        normalized = np.clip(array.astype(np.float64) / SKY_DEPTH, 0.0, 1.0) * (256 ** 3 - 1)
        value = np.round(normalized).astype(np.uint32)
        out[..., 2] = value & 0xFF
        out[..., 1] = (value >> 8) & 0xFF
        out[..., 0] = (value >> 16) & 0xFF
    return out


def render_schematic(scene: SchematicScene, camera: CameraView, boxes: Sequence[ActorBox] = (),
                     kind: str = "rgb") -> np.ndarray:
    """Render one camera image ((H, W, 4) uint8 BGRA) of the road scene and the actor boxes."""
    if kind not in ("rgb", "semantic", "depth"):
        raise ValueError(f"unknown camera kind {kind!r}; use 'rgb', 'semantic' or 'depth'")
    camera_from_world = np.linalg.inv(np.asarray(camera.world_from_camera, dtype=np.float64))
    image, _ = _background(camera, camera_from_world, kind)
    draw = ImageDraw.Draw(image)

    position = np.asarray(camera.world_from_camera, dtype=np.float64)[:3, 3]
    near = np.linalg.norm(scene.centers[:, :2] - position[:2], axis=1) < FAR if len(scene.centers) else np.zeros(0, bool)
    for classes in ((ROAD, SIDEWALK), (MARKING_WHITE, MARKING_YELLOW)):
        mask = near & np.isin(scene.classes, classes)
        indices = np.flatnonzero(mask)
        labels = scene.classes[indices]
        visible = _visible_polygons(scene.quads[indices], camera, camera_from_world)
        for k, depth, pixels in sorted(visible, key=lambda item: -item[1]):
            draw.polygon([tuple(p) for p in pixels], fill=_fill(kind, int(labels[k]), depth))

    faces: list[tuple[float, np.ndarray, str]] = []
    for box in boxes:
        if np.linalg.norm(np.asarray(box.center)[:2] - position[:2]) > FAR:
            continue
        world_faces = box_faces(box)
        normals = np.cross(world_faces[:, 1] - world_faces[:, 0], world_faces[:, 2] - world_faces[:, 0])
        facing = (normals * (position - world_faces.mean(axis=1))).sum(axis=1) > 0
        for _, depth, pixels in _visible_polygons(world_faces[facing], camera, camera_from_world):
            faces.append((depth, pixels, box.category))
    for depth, pixels, category in sorted(faces, key=lambda item: -item[0]):
        if kind == "rgb":
            fill = BOX_RGB.get(category, BOX_RGB["other"])
        elif kind == "semantic":
            fill = BOX_SEMANTIC.get(category, 20)
        else:
            fill = float(depth)
        draw.polygon([tuple(p) for p in pixels], fill=fill, outline=(20, 20, 20) if kind == "rgb" else None)
    return _encode(image, kind)


def _fill(kind: str, label: int, depth: float) -> tuple[int, int, int] | int | float:
    if kind == "rgb":
        return RGB_PALETTE[label]
    if kind == "semantic":
        return SEMANTIC_PALETTE[label]
    return float(depth)
