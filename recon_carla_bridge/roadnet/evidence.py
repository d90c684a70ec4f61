"""Lane count and width from evidence: where the ego drove and where the other vehicles drove or stood.

The ego lane is centred on the ego path. Vehicle tracks aligned with the road give lateral offsets that
fall on a lattice of lane centres; their spacing gives the lane width, their spread the lane count on
each side, and vehicles moving against the ego's direction give the oncoming lanes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorTrack
from recon_carla_bridge.roadnet.centerline import Centerline


@dataclass(frozen=True)
class LaneEvidenceConfig:
    """Settings of the lane estimate.

    Attributes:
        default_lane_width: width used without lateral evidence [m].
        min_lane_width: narrowest lane accepted [m].
        max_lane_width: widest lane accepted [m].
        max_lateral: vehicles farther than this from the ego path are not on the road [m].
        heading_tolerance_deg: a vehicle within this of the road's direction (or its opposite) is aligned.
        max_lanes_per_side: cap on lanes on either side of the ego lane.
        min_boxes: tracks with fewer boxes are ignored.
        lattice_tolerance: a vehicle more than this fraction of a lane width off a lane centre is not
            used for the width estimate.
    """

    default_lane_width: float = 3.5
    min_lane_width: float = 2.8
    max_lane_width: float = 4.0
    max_lateral: float = 12.0
    heading_tolerance_deg: float = 25.0
    max_lanes_per_side: int = 3
    min_boxes: int = 5
    lattice_tolerance: float = 0.3


@dataclass(frozen=True)
class LaneLayout:
    """The lanes of the scene's road, relative to the ego lane.

    Attributes:
        lane_width: width of every lane [m].
        same_left: lanes in the ego's direction to the left of the ego lane.
        same_right: lanes in the ego's direction to the right of the ego lane.
        opposite: oncoming lanes, left of all same-direction lanes.
        evidence: how the numbers were obtained (human-readable).
        median_width: width of a non-driving median between the same-direction and the oncoming lanes
            (0: none) [m].
        opposite_lane_width: width of the oncoming lanes (None: `lane_width`) [m].
    """

    lane_width: float
    same_left: int
    same_right: int
    opposite: int
    evidence: str
    median_width: float = 0.0
    opposite_lane_width: float | None = None

    @property
    def driving_lanes(self) -> int:
        """Driving lanes in both directions."""
        return self.same_left + 1 + self.same_right + self.opposite


def _aligned_offsets(tracks: list[ActorTrack], centerline: Centerline, config: LaneEvidenceConfig) -> list[tuple[float, bool]]:
    """(median lateral offset, moves against the road) of each vehicle track aligned with the road."""
    result = []
    cos_tol = math.cos(math.radians(config.heading_tolerance_deg))
    for track in tracks:
        if track.category != "vehicle" or len(track.boxes) < config.min_boxes:
            continue
        xy = np.array([b.center[:2] for b in track.boxes])
        yaw = np.array([b.yaw for b in track.boxes])
        _, lateral, heading = centerline.project(xy)
        alignment = float(np.median(np.cos(yaw - heading)))
        if abs(alignment) < cos_tol or np.median(np.abs(lateral)) > config.max_lateral:
            continue
        result.append((float(np.median(lateral)), bool(track.moving and alignment < 0)))
    return result


def estimate_lane_layout(tracks: list[ActorTrack], centerline: Centerline, config: LaneEvidenceConfig = LaneEvidenceConfig()) -> LaneLayout:
    """Lane width and counts from tracks around an ego-lane centreline (see module docstring)."""
    offsets = _aligned_offsets(tracks, centerline, config)
    width = config.default_lane_width
    width_note = f"default {width} m (no vehicles in neighbouring lanes)"
    for _ in range(2):
        samples = []
        for lateral, _ in offsets:
            index = round(lateral / width)
            if index != 0 and abs(lateral / width - index) <= config.lattice_tolerance:
                samples.append(abs(lateral) / abs(index))
        if samples:
            width = float(np.clip(np.median(samples), config.min_lane_width, config.max_lane_width))
            width_note = f"{width:.2f} m from the lateral spacing of {len(samples)} vehicle tracks"
    cap = config.max_lanes_per_side
    same = [round(lat / width) for lat, against in offsets if not against]
    opposite = [round(lat / width) for lat, against in offsets if against]
    same_left = int(np.clip(max([0, *same]), 0, cap))
    same_right = int(np.clip(-min([0, *same]), 0, cap))
    opposite_lanes = [j for j in opposite if j > same_left]
    oncoming = int(np.clip(max(opposite_lanes) - same_left, 0, cap)) if opposite_lanes else 0
    evidence = (
        f"ego lane centred on the ego path; lane width {width_note}; {len(offsets)} aligned vehicle tracks "
        f"({len(opposite)} oncoming) put {same_left} lane(s) left and {same_right} right of the ego lane, "
        f"{oncoming} oncoming"
    )
    return LaneLayout(width, same_left, same_right, oncoming, evidence)
