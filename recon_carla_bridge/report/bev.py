"""Bird's-eye view frames of a recorded episode: roads, route, ego trail, actors, infractions and a HUD.

The view is centred on the ego vehicle with its heading pointing up (as the front camera beside it looks),
`scale` pixels per metre. World → pixel: rotate the offset from the ego by −(yaw + 90°) in CARLA's frame
(x east, y south, yaw clockwise), which puts the ego's forward axis on the image's −v axis.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recon_carla_bridge.leaderboard.episode import (
    SIGNAL_GREEN,
    SIGNAL_OFF,
    SIGNAL_RED,
    SIGNAL_YELLOW,
    Episode,
)
from recon_carla_bridge.leaderboard.metrics.geometry import box_corners
from recon_carla_bridge.schematic.scene import (
    MARKING_WHITE,
    MARKING_YELLOW,
    ROAD,
    SIDEWALK,
    SchematicScene,
)

BACKGROUND = (34, 38, 44)
SURFACE_COLORS = {ROAD: (78, 82, 90), SIDEWALK: (58, 62, 68), MARKING_WHITE: (200, 200, 200),
                  MARKING_YELLOW: (220, 180, 40)}
ROUTE_AHEAD, ROUTE_DONE = (70, 150, 255), (40, 80, 140)
TRAIL, EGO, ALERT = (255, 220, 80), (80, 220, 120), (255, 60, 60)
ACTOR_COLORS = {"walker": (230, 80, 70), "vehicle": (210, 210, 215), "other": (240, 150, 40)}
SIGNAL_COLORS = {SIGNAL_GREEN: (60, 200, 90), SIGNAL_YELLOW: (240, 200, 40), SIGNAL_RED: (240, 50, 50),
                 SIGNAL_OFF: (120, 120, 120)}
EVENT_LABELS = {
    "COLLISION_VEHICLE": "collision (vehicle)", "COLLISION_PEDESTRIAN": "collision (pedestrian)",
    "COLLISION_STATIC": "collision (layout)", "TRAFFIC_LIGHT_INFRACTION": "red light",
    "STOP_INFRACTION": "stop sign", "ROUTE_DEVIATION": "route deviation", "VEHICLE_BLOCKED": "blocked",
    "OUTSIDE_ROUTE_LANES_INFRACTION": "outside lanes", "MIN_SPEED_INFRACTION": "min speed",
    "YIELD_TO_EMERGENCY_VEHICLE": "no yield", "SCENARIO_TIMEOUT": "scenario timeout",
}


@dataclass(frozen=True)
class BevView:
    """Where the ego sits and how much is shown.

    Fields:
        size: image side in pixels (square).
        scale: pixels per metre.
        ego_row: the ego's image row as a fraction of `size` (below the middle shows more road ahead).
    """

    size: int = 384
    scale: float = 4.0
    ego_row: float = 0.62

    @property
    def radius(self) -> float:
        """Metres from the ego to the farthest visible corner."""
        return math.hypot(self.size / 2.0, self.size * max(self.ego_row, 1.0 - self.ego_row)) / self.scale


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


class RoadRaster:
    """The road surfaces and markings of an area, drawn once north-up; `view` resamples a heading-up window.

    Raster pixel (u, v) shows world (x0 + u / scale, y0 + v / scale): CARLA's x to the right, y down.
    """

    MAX_SIDE = 6000  # pixels; larger areas are drawn at a coarser scale

    def __init__(self, scene: SchematicScene, low: np.ndarray, high: np.ndarray, scale: float) -> None:
        """Draw every quad of `scene` whose centre lies in the box `low`..`high` (m, world xy)."""
        scale = min(scale, self.MAX_SIDE / float(max(high - low)))
        self.origin, self.scale = np.asarray(low, dtype=np.float64), float(scale)
        width, height = (int(math.ceil(v)) + 1 for v in (high - low) * scale)
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(self.image)
        inside = np.all((scene.centers[:, :2] >= low) & (scene.centers[:, :2] <= high), axis=1)
        for classes in ((ROAD, SIDEWALK), (MARKING_WHITE, MARKING_YELLOW)):
            for index in np.flatnonzero(inside & np.isin(scene.classes, classes)):
                pixels = (scene.quads[index, :, :2] - self.origin) * self.scale
                draw.polygon([tuple(p) for p in pixels], fill=SURFACE_COLORS[int(scene.classes[index])])

    def view(self, cx: float, cy: float, yaw_degrees: float, view: BevView) -> Image.Image:
        """The `view.size`² heading-up window around (cx, cy), as `BevRenderer._to_pixels` places points."""
        theta = math.radians(yaw_degrees + 90.0)
        c, s = math.cos(theta), math.sin(theta)
        ratio = self.scale / view.scale  # raster pixels per view pixel
        cu, cv = view.size / 2.0, view.size * view.ego_row
        u0 = (cx - self.origin[0]) * self.scale
        v0 = (cy - self.origin[1]) * self.scale
        coefficients = (ratio * c, -ratio * s, u0 - ratio * (c * cu - s * cv),
                        ratio * s, ratio * c, v0 - ratio * (s * cu + c * cv))
        return self.image.transform((view.size, view.size), Image.Transform.AFFINE, coefficients,
                                    resample=Image.Resampling.BILINEAR, fillcolor=BACKGROUND)


class BevRenderer:
    """Draws `frame(tick)` for an episode; the road geometry of its map is optional (`scene`)."""

    def __init__(self, episode: Episode, scene: SchematicScene | None = None, view: BevView = BevView()) -> None:
        """Bind the episode, its road geometry (None: no roads drawn) and the view."""
        self.episode = episode
        self.scene = scene
        self.view = view
        self._font = _font(13)
        self._small = _font(11)
        self._event_ticks = [int(np.searchsorted(episode.frame, int(e["frame"]))) for e in episode.events]
        total = float(episode.route_cumulative[-1]) if len(episode.route_cumulative) else 0.0
        self._route_fraction = episode.route_cumulative / total if total > 0 else np.zeros(len(episode.route))
        self._roads: RoadRaster | None = None
        if scene is not None and len(scene.centers) and episode.length:
            xy = np.concatenate([episode.ego_pose[:, :2], episode.route[:, :2]])
            margin = view.radius + 10.0
            self._roads = RoadRaster(scene, xy.min(axis=0) - margin, xy.max(axis=0) + margin, view.scale)

    def _to_pixels(self, points: np.ndarray, cx: float, cy: float, yaw_degrees: float) -> np.ndarray:
        """(N, 2) world xy → (N, 2) pixel uv, ego heading up."""
        theta = math.radians(yaw_degrees + 90.0)
        c, s = math.cos(theta), math.sin(theta)
        d = np.asarray(points, dtype=np.float64).reshape(-1, 2) - (cx, cy)
        u = (d[:, 0] * c + d[:, 1] * s) * self.view.scale + self.view.size / 2.0
        v = (-d[:, 0] * s + d[:, 1] * c) * self.view.scale + self.view.size * self.view.ego_row
        return np.column_stack([u, v])

    def _draw_route(self, draw: ImageDraw.ImageDraw, tick: int, cx: float, cy: float, yaw: float) -> None:
        route = self.episode.route[:, :2]
        if len(route) < 2:
            return
        near = np.flatnonzero(np.hypot(route[:, 0] - cx, route[:, 1] - cy) < self.view.radius + 10.0)
        done = self._route_fraction * 100.0 <= float(self.episode.route_completion[tick])
        for first, last in _runs(near):  # stretches of the route inside the view
            pixels = self._to_pixels(route[max(first - 1, 0):last + 2], cx, cy, yaw)
            flags = done[max(first - 1, 0):last + 2]
            split = int(flags.sum())
            if split >= 2:
                draw.line([tuple(p) for p in pixels[:split]], fill=ROUTE_DONE, width=4)
            if len(pixels) - max(split - 1, 0) >= 2:
                draw.line([tuple(p) for p in pixels[max(split - 1, 0):]], fill=ROUTE_AHEAD, width=4)
        if np.hypot(route[-1, 0] - cx, route[-1, 1] - cy) < self.view.radius:
            (u, v), = self._to_pixels(route[-1:], cx, cy, yaw)
            draw.rectangle((u - 5, v - 5, u + 5, v + 5), outline=ROUTE_AHEAD, width=2)

    def _draw_signals(self, draw: ImageDraw.ImageDraw, tick: int, cx: float, cy: float, yaw: float) -> None:
        """Stop lines of the traffic lights near the ego, coloured by their state at `tick`."""
        lines, states = self.episode.stop_lines, self.episode.signal_states
        if not len(lines) or tick >= len(states):
            return
        near = np.hypot(lines[:, 1] - cx, lines[:, 2] - cy) < self.view.radius + 5.0
        for signal, x, y, lane_yaw, half_width in lines[near]:
            rx, ry = -math.sin(math.radians(lane_yaw)), math.cos(math.radians(lane_yaw))  # lane's right vector
            ends = np.array([[x - half_width * rx, y - half_width * ry], [x + half_width * rx, y + half_width * ry]])
            color = SIGNAL_COLORS.get(int(states[tick, int(signal)]), SIGNAL_COLORS[SIGNAL_OFF])
            draw.line([tuple(p) for p in self._to_pixels(ends, cx, cy, yaw)], fill=color, width=5)

    def _draw_actors(self, draw: ImageDraw.ImageDraw, tick: int, cx: float, cy: float, yaw: float) -> None:
        rows = self.episode.actors[tick] if tick < len(self.episode.actors) else np.zeros((0, 8))
        for row in rows:
            kind = self.episode.actor_types.get(int(row[0]), "")
            category = "walker" if kind.startswith("walker") else "vehicle" if kind.startswith("vehicle") else "other"
            corners = box_corners(row[1], row[2], row[3], max(row[4], 0.3), max(row[5], 0.3))
            draw.polygon([tuple(p) for p in self._to_pixels(corners, cx, cy, yaw)], fill=ACTOR_COLORS[category],
                         outline=(20, 20, 20))

    def _draw_ego(self, draw: ImageDraw.ImageDraw, tick: int, colliding: bool) -> None:
        pose = self.episode.ego_pose[tick]
        hl, hw = float(self.episode.ego_extent[0]), float(self.episode.ego_extent[1])
        corners = box_corners(pose[0], pose[1], pose[5], hl, hw)
        pixels = self._to_pixels(corners, pose[0], pose[1], pose[5])
        draw.polygon([tuple(p) for p in pixels], fill=ALERT if colliding else EGO, outline=(10, 10, 10))
        front_mid = (pixels[0] + pixels[1]) / 2.0
        center = pixels.mean(axis=0)
        nose = center + 0.6 * (front_mid - center)
        draw.polygon([tuple(pixels[0]), tuple(pixels[1]), tuple(nose)], fill=(20, 60, 30))

    def _draw_events(self, draw: ImageDraw.ImageDraw, tick: int, cx: float, cy: float, yaw: float) -> list[str]:
        """Markers for located events so far; returns labels of the events without a location."""
        unlocated: list[str] = []
        for event, event_tick in zip(self.episode.events, self._event_ticks):
            kind = event["type"]
            if kind == "ROUTE_COMPLETION" or event_tick > tick:
                continue
            label = EVENT_LABELS.get(kind, kind.lower())
            location = (event.get("data") or {}).get("location")
            if location is None:
                unlocated.append(label)
                continue
            (u, v), = self._to_pixels(np.array([location[:2]]), cx, cy, yaw)
            recent = tick - event_tick < 40
            radius = 9 if recent else 6
            draw.ellipse((u - radius, v - radius, u + radius, v + radius), outline=ALERT, width=3)
            draw.text((u + radius + 2, v - 7), label, fill=ALERT, font=self._small)
        return unlocated

    def _draw_hud(self, draw: ImageDraw.ImageDraw, tick: int, unlocated: list[str], yaw: float) -> None:
        episode, size = self.episode, self.view.size
        speed = float(np.hypot(*episode.ego_velocity[tick, :2]))
        lines = [f"t {episode.time[tick]:6.1f} s   {speed:4.1f} m/s ({speed * 3.6:3.0f} km/h)",
                 f"route completion {episode.route_completion[tick]:5.1f} %"]
        counts: dict[str, int] = {}
        for event, event_tick in zip(episode.events, self._event_ticks):
            if event["type"] != "ROUTE_COMPLETION" and event_tick <= tick:
                label = EVENT_LABELS.get(event["type"], event["type"].lower())
                counts[label] = counts.get(label, 0) + 1
        if counts:
            lines.append("infractions: " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
        box_height = 8 + 16 * len(lines)
        draw.rectangle((0, 0, size, box_height), fill=(20, 22, 26))
        for row, line in enumerate(lines):
            draw.text((6, 4 + 16 * row), line, fill=ALERT if row == 2 else (235, 235, 235), font=self._font)
        # North arrow (CARLA north is −y) in a disc at the top right, below the HUD.
        ox, oy, r = size - 34, box_height + 34, 16
        (nu, nv), = self._to_pixels(np.array([[0.0, -1.0]]), 0.0, 0.0, yaw) - (size / 2.0, size * self.view.ego_row)
        norm = math.hypot(nu, nv) or 1.0
        nu, nv = nu / norm, nv / norm
        draw.ellipse((ox - r, oy - r, ox + r, oy + r), fill=(20, 22, 26), outline=(120, 120, 120))
        tip, tail = (ox + 12 * nu, oy + 12 * nv), (ox - 12 * nu, oy - 12 * nv)
        side = (-nv * 5, nu * 5)
        draw.polygon([tip, (tail[0] + side[0], tail[1] + side[1]), (tail[0] - side[0], tail[1] - side[1])],
                     fill=(200, 60, 60))
        draw.text((ox + (r + 8) * nu - 4, oy + (r + 8) * nv - 7), "N", fill=(235, 235, 235), font=self._small)

    def frame(self, tick: int) -> np.ndarray:
        """(size, size, 3) uint8 RGB view at `tick`."""
        episode = self.episode
        cx, cy, yaw = (float(v) for v in episode.ego_pose[tick, [0, 1, 5]])
        if self._roads is not None:
            image = self._roads.view(cx, cy, yaw, self.view)
        else:
            image = Image.new("RGB", (self.view.size, self.view.size), BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._draw_route(draw, tick, cx, cy, yaw)
        self._draw_signals(draw, tick, cx, cy, yaw)
        trail = episode.ego_pose[max(tick - 2000, 0): tick + 1, :2]
        if len(trail) >= 2:
            draw.line([tuple(p) for p in self._to_pixels(trail, cx, cy, yaw)], fill=TRAIL, width=2)
        self._draw_actors(draw, tick, cx, cy, yaw)
        colliding = any(abs(hit[0] - tick) <= 10 for hit in episode.collisions)
        self._draw_ego(draw, tick, colliding)
        unlocated = self._draw_events(draw, tick, cx, cy, yaw)
        self._draw_hud(draw, tick, unlocated, yaw)
        return np.asarray(image)


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive integers in sorted `indices`."""
    if not len(indices):
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[indices[0]], indices[breaks + 1]])
    ends = np.concatenate([indices[breaks], [indices[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def bev_frame(episode: Episode, tick: int, scene: SchematicScene | None = None, view: BevView = BevView()) -> np.ndarray:
    """One BEV frame (see `BevRenderer`); build a renderer to draw many."""
    return BevRenderer(episode, scene, view).frame(tick)


def overview_image(episode: Episode, scene: SchematicScene | None = None, size: int = 480,
                   margin: float = 20.0) -> Image.Image:
    """North-up map of the whole route with the driven path and the located infractions."""
    route = episode.route[:, :2]
    path = episode.ego_pose[:, :2]
    points = np.concatenate([route, path]) if len(path) else route
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    scale = size / float(max(high - low))
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)

    def px(xy: np.ndarray) -> list[tuple[float, float]]:
        return [tuple(p) for p in (np.asarray(xy).reshape(-1, 2) - low) * scale]

    if scene is not None and len(scene.centers):
        inside = np.all((scene.centers[:, :2] > low) & (scene.centers[:, :2] < high), axis=1)
        for index in np.flatnonzero(inside & np.isin(scene.classes, (ROAD, SIDEWALK))):
            draw.polygon(px(scene.quads[index, :, :2]), fill=SURFACE_COLORS[int(scene.classes[index])])
    draw.line(px(route), fill=ROUTE_AHEAD, width=3)
    if len(path) >= 2:
        draw.line(px(path), fill=TRAIL, width=2)
    start, end = px(route[:1])[0], px(route[-1:])[0]
    draw.ellipse((start[0] - 5, start[1] - 5, start[0] + 5, start[1] + 5), fill=EGO)
    draw.rectangle((end[0] - 5, end[1] - 5, end[0] + 5, end[1] + 5), outline=ROUTE_AHEAD, width=2)
    font = _font(11)
    for event in episode.events:
        location: Any = (event.get("data") or {}).get("location")
        if location is None or event["type"] == "ROUTE_COMPLETION":
            continue
        (u, v), = px(np.array(location[:2]))
        draw.ellipse((u - 6, v - 6, u + 6, v + 6), outline=ALERT, width=2)
        draw.text((u + 8, v - 7), EVENT_LABELS.get(event["type"], event["type"].lower()), fill=ALERT, font=font)
    return image
