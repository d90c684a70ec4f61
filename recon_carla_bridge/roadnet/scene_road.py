"""The road network of one scene: reference line from the ego path, lanes from evidence, OpenDRIVE text,
and the check that carla.Map loads it with the ego inside a driving lane."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorTrack, GeoReference
from recon_carla_bridge.roadnet.centerline import fit_centerline
from recon_carla_bridge.roadnet.check import LaneCheck, check_ego_in_lane, load_carla_map
from recon_carla_bridge.roadnet.evidence import LaneEvidenceConfig, LaneLayout, estimate_lane_layout
from recon_carla_bridge.roadnet.opendrive import RoadSpec, build_opendrive_text


@dataclass(frozen=True)
class RoadNetConfig:
    """Settings of the scene road.

    Attributes:
        extension: straight road added before the first and after the last ego position [m].
        segment_length: length of the arcs that follow the ego path [m].
        lanes: settings of the lane estimate.
    """

    extension: float = 80.0
    segment_length: float = 20.0
    lanes: LaneEvidenceConfig = field(default_factory=LaneEvidenceConfig)


@dataclass(frozen=True)
class SceneRoad:
    """A scene's road network and how well the ego path sits in it.

    Attributes:
        xodr: OpenDRIVE XML text.
        layout: lanes used.
        lane_check: the ego path placed on carla.Map.
    """

    xodr: str
    layout: LaneLayout
    lane_check: LaneCheck


def build_scene_road(
    name: str,
    positions: np.ndarray,
    yaws: np.ndarray,
    tracks: list[ActorTrack],
    geo_reference: GeoReference,
    config: RoadNetConfig = RoadNetConfig(),
) -> SceneRoad:
    """OpenDRIVE for an ego path ((F, 3) world positions, (F,) yaws) and the actors around it, loaded back
    through carla.Map to check it."""
    centerline = fit_centerline(positions[:, :2], yaws, config.extension, config.segment_length)
    layout = estimate_lane_layout(tracks, centerline, config.lanes)
    text = build_opendrive_text(RoadSpec(name, centerline, layout, geo_reference))
    carla_map = load_carla_map(name, text)
    return SceneRoad(text, layout, check_ego_in_lane(carla_map, positions, yaws))
