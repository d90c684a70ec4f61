"""CARLA's camera pixel encodings: depth in BGR, semantic tag in R, and the colour converters."""
from __future__ import annotations

import carla
import numpy as np

DEPTH_FAR_M = 1000.0  # CARLA's depth camera range
_DEPTH_SCALE = 256.0**3 - 1.0

# CARLA 0.9.16 semantic tags and their CityScapes palette colours (RGB).
SEMANTIC_TAGS: dict[int, tuple[str, tuple[int, int, int]]] = {
    0: ("Unlabeled", (0, 0, 0)),
    1: ("Roads", (128, 64, 128)),
    2: ("SideWalks", (244, 35, 232)),
    3: ("Building", (70, 70, 70)),
    4: ("Wall", (102, 102, 156)),
    5: ("Fence", (190, 153, 153)),
    6: ("Pole", (153, 153, 153)),
    7: ("TrafficLight", (250, 170, 30)),
    8: ("TrafficSign", (220, 220, 0)),
    9: ("Vegetation", (107, 142, 35)),
    10: ("Terrain", (152, 251, 152)),
    11: ("Sky", (70, 130, 180)),
    12: ("Pedestrian", (220, 20, 60)),
    13: ("Rider", (255, 0, 0)),
    14: ("Car", (0, 0, 142)),
    15: ("Truck", (0, 0, 70)),
    16: ("Bus", (0, 60, 100)),
    17: ("Train", (0, 80, 100)),
    18: ("Motorcycle", (0, 0, 230)),
    19: ("Bicycle", (119, 11, 32)),
    20: ("Static", (110, 190, 160)),
    21: ("Dynamic", (170, 120, 50)),
    22: ("Other", (55, 90, 80)),
    23: ("Water", (45, 60, 150)),
    24: ("RoadLine", (157, 234, 50)),
    25: ("Ground", (81, 0, 81)),
    26: ("Bridge", (150, 100, 100)),
    27: ("RailTrack", (230, 150, 140)),
    28: ("GuardRail", (180, 165, 180)),
}
TAG_ROADS, TAG_SIDEWALKS, TAG_SKY, TAG_CAR, TAG_TRUCK, TAG_BUS = 1, 2, 11, 14, 15, 16
TAG_PEDESTRIAN, TAG_MOTORCYCLE, TAG_BICYCLE, TAG_STATIC, TAG_ROADLINE, TAG_TERRAIN = 12, 18, 19, 20, 24, 10
_PALETTE = np.zeros((256, 3), np.uint8)
for _tag, (_name, _rgb) in SEMANTIC_TAGS.items():
    _PALETTE[_tag] = _rgb


def encode_depth(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) depth in metres → (H, W, 4) BGRA with normalized = (R + G·256 + B·256²)/(256³−1) = d/1000."""
    depth = np.asarray(depth_m, dtype=np.float64)  # 24-bit code: float32 would lose its last bit
    normalized = np.clip(np.nan_to_num(depth, nan=DEPTH_FAR_M, posinf=DEPTH_FAR_M), 0.0, DEPTH_FAR_M) / DEPTH_FAR_M
    code = np.round(normalized * _DEPTH_SCALE).astype(np.uint32)
    out = np.empty(depth_m.shape + (4,), np.uint8)
    out[..., 2] = code & 0xFF  # R
    out[..., 1] = (code >> 8) & 0xFF  # G
    out[..., 0] = (code >> 16) & 0xFF  # B
    out[..., 3] = 255
    return out


def decode_depth(bgra: np.ndarray) -> np.ndarray:
    """(H, W, 4) BGRA depth image → (H, W) metres (CARLA's documented formula)."""
    bgr = bgra[..., :3].astype(np.float64)
    normalized = (bgr[..., 2] + bgr[..., 1] * 256.0 + bgr[..., 0] * 65536.0) / _DEPTH_SCALE
    return normalized * DEPTH_FAR_M


def encode_semantic(tags: np.ndarray) -> np.ndarray:
    """(H, W) integer tags → (H, W, 4) BGRA with the tag in the red channel, as CARLA delivers it."""
    out = np.zeros(tags.shape + (4,), np.uint8)
    out[..., 2] = tags.astype(np.uint8)
    out[..., 3] = 255
    return out


def rgb_to_bgra(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] or uint8 → (H, W, 4) uint8 BGRA."""
    if rgb.dtype != np.uint8:
        rgb = (np.clip(np.nan_to_num(rgb), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = rgb[..., 2], rgb[..., 1], rgb[..., 0], 255
    return out


def convert_bgra(bgra: np.ndarray, color_converter: carla.ColorConverter) -> np.ndarray:
    """Apply a carla.ColorConverter to a BGRA image, returning a new BGRA image."""
    if color_converter == carla.ColorConverter.Raw:
        return bgra.copy()
    if color_converter == carla.ColorConverter.CityScapesPalette:
        rgb = _PALETTE[bgra[..., 2]]
        return rgb_to_bgra(rgb)
    if color_converter == carla.ColorConverter.Depth:
        grey = (decode_depth(bgra) / DEPTH_FAR_M * 255.0).astype(np.uint8)
        return rgb_to_bgra(np.repeat(grey[..., None], 3, axis=2))
    if color_converter == carla.ColorConverter.LogarithmicDepth:
        normalized = decode_depth(bgra) / DEPTH_FAR_M
        logdepth = np.clip(1.0 + np.log(np.maximum(normalized, 1e-12)) / 5.70378, 0.0, 1.0)
        grey = (logdepth * 255.0).astype(np.uint8)
        return rgb_to_bgra(np.repeat(grey[..., None], 3, axis=2))
    raise ValueError(f"unsupported color converter {color_converter}")
