"""Bird's-eye view frames of a recorded episode: route, ego trail, actors and infraction markers."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from recon_carla_bridge.leaderboard.episode import Episode
from recon_carla_bridge.leaderboard.metrics.geometry import box_corners

SIZE = 384  # pixels, square
SCALE = 4.0  # pixels per metre (a 96 m window around the ego)


def bev_frame(episode: Episode, tick: int, size: int = SIZE, scale: float = SCALE) -> np.ndarray:
    """(size, size, 3) uint8 RGB view centred on the ego at `tick`, north-up (CARLA y grows downwards)."""
    image = Image.new("RGB", (size, size), (34, 38, 44))
    draw = ImageDraw.Draw(image)
    cx, cy = episode.ego_pose[tick, 0], episode.ego_pose[tick, 1]

    def to_px(points: np.ndarray) -> list[tuple[float, float]]:
        return [(size / 2 + (x - cx) * scale, size / 2 + (y - cy) * scale) for x, y in points]

    draw.line(to_px(episode.route[:, :2]), fill=(90, 160, 255), width=3)
    draw.line(to_px(episode.ego_pose[: tick + 1, :2]), fill=(255, 220, 80), width=2)
    for row in episode.actors[tick] if tick < len(episode.actors) else []:
        kind = episode.actor_types.get(int(row[0]), "")
        color = (230, 80, 70) if kind.startswith("walker") else (200, 200, 200) if kind.startswith("vehicle") else (240, 150, 40)
        draw.polygon(to_px(box_corners(row[1], row[2], row[3], row[4], row[5])), fill=color)
    hl, hw = episode.ego_extent[0], episode.ego_extent[1]
    draw.polygon(to_px(box_corners(cx, cy, episode.ego_pose[tick, 5], hl, hw)), fill=(80, 220, 120))
    frame = int(episode.frame[tick])
    for event in episode.events:
        location = event.get("data", {}).get("location")
        if location is None or event["type"] == "ROUTE_COMPLETION" or event["frame"] > frame:
            continue
        (px, py), = to_px(np.array([location[:2]]))
        draw.ellipse((px - 6, py - 6, px + 6, py + 6), outline=(255, 40, 40), width=3)
    return np.asarray(image)
