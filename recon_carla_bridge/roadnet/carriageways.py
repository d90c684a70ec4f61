"""Lanes from a measured road surface: the ego carriageway's kerb as the reference line, its width split
into lanes, a median and an oncoming carriageway when the surface shows them.

Lane counts come from the widths (lanes of about `nominal_lane_width`); driving directions from
right-hand traffic (the oncoming carriageway lies to the left), checked against the moving tracks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorTrack
from recon_carla_bridge.roadnet.centerline import Centerline, fit_centerline
from recon_carla_bridge.roadnet.evidence import LaneLayout
from recon_carla_bridge.roadnet.surface import RoadSurface


@dataclass(frozen=True)
class CarriagewayConfig:
    """Settings of the surface-based lane layout.

    Attributes:
        nominal_lane_width: lane count = carriageway width / this, rounded [m].
        min_lane_width: narrowest lane accepted [m].
        max_lanes: most lanes per carriageway.
        opposite_width_percentile: the oncoming carriageway's width is this percentile of its slices'
            (low: where it is not merged with a parking strip beyond it).
    """

    nominal_lane_width: float = 3.5
    min_lane_width: float = 2.5
    max_lanes: int = 4
    opposite_width_percentile: float = 25.0


def _lane_split(width: float, config: CarriagewayConfig) -> tuple[int, float]:
    count = int(np.clip(round(width / config.nominal_lane_width), 1, config.max_lanes))
    while count > 1 and width / count < config.min_lane_width:
        count -= 1
    return count, width / count


def kerb_line(surface: RoadSurface, line: Centerline, extension: float, segment_length: float, window: int = 5) -> Centerline:
    """The ego carriageway's left edge (world) as a line of arcs, straight beyond the surface's ends; its
    headings are those of the edge points averaged over `window` slices."""
    valid = np.isfinite(surface.left)
    samples = line.sample(0.25)
    at = np.clip(np.searchsorted(samples[:, 0], surface.s[valid]), 0, len(samples) - 1)
    heading = samples[at, 3]
    points = samples[at, 1:3] + surface.left[valid, None] * np.c_[-np.sin(heading), np.cos(heading)]
    step = np.gradient(points, axis=0)
    if len(step) >= window:
        kernel = np.ones(window) / window
        step = np.c_[np.convolve(step[:, 0], kernel, mode="same"), np.convolve(step[:, 1], kernel, mode="same")]
    yaws = np.arctan2(step[:, 1], step[:, 0])
    return fit_centerline(points, yaws, extension, segment_length)


def oncoming_check(tracks: list[ActorTrack], kerb: Centerline, layout: LaneLayout) -> tuple[int, int]:
    """(moving tracks on the oncoming carriageway, how many of them move against the ego's direction)."""
    if not layout.opposite:
        return 0, 0
    near = layout.median_width
    far = near + layout.opposite * (layout.opposite_lane_width or layout.lane_width)
    on, against = 0, 0
    for track in tracks:
        if not track.moving:
            continue
        xy = np.array([b.center[:2] for b in track.boxes])
        _, lateral, heading = kerb.project(xy)
        if near <= float(np.median(lateral)) <= far:
            on += 1
            yaw = np.array([b.yaw for b in track.boxes])
            against += int(np.median(np.cos(yaw - heading)) < 0)
    return on, against


def layout_from_surface(surface: RoadSurface, tracks: list[ActorTrack], config: CarriagewayConfig = CarriagewayConfig()) -> LaneLayout:
    """Lane layout of a found surface (reference line: the ego carriageway's left edge)."""
    width = float(np.nanmedian(surface.left - surface.right))
    same, lane_width = _lane_split(width, config)
    median_width = opposite = 0
    opposite_lane_width = None
    note = f"ego carriageway {width:.2f} m wide between kerbs found in the LiDAR ground (asphalt reflectance <= {surface.asphalt_reflectance:.2f}): {same} lane(s) of {lane_width:.2f} m"
    if surface.has_opposite:
        median_width = float(np.nanmedian(surface.opposite_right - surface.left))
        opposite_width = float(np.nanpercentile(surface.opposite_left - surface.opposite_right, config.opposite_width_percentile))
        opposite, opposite_lane_width = _lane_split(opposite_width, config)
        note += f"; a {median_width:.2f} m median (not a driving lane); an oncoming carriageway {opposite_width:.2f} m wide: {opposite} lane(s) of {opposite_lane_width:.2f} m"
    return LaneLayout(lane_width, 0, same - 1, opposite, note, float(median_width), opposite_lane_width)

