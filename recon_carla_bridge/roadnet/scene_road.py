"""The road network of one scene: reference line from the ego path, lanes from evidence, OpenDRIVE text,
and the check that carla.Map loads it with the ego inside a driving lane."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from recon_carla_bridge.ingest.scenelog import ActorTrack, GeoReference
from recon_carla_bridge.roadnet.carriageways import CarriagewayConfig, kerb_line, layout_from_surface, oncoming_check
from recon_carla_bridge.roadnet.centerline import Centerline, fit_centerline
from recon_carla_bridge.roadnet.check import LaneCheck, check_ego_in_lane, load_carla_map
from recon_carla_bridge.roadnet.evidence import LaneEvidenceConfig, LaneLayout, estimate_lane_layout
from recon_carla_bridge.roadnet.opendrive import RoadSpec, build_opendrive_text
from recon_carla_bridge.roadnet.surface import RoadSurface, SurfaceConfig


@dataclass(frozen=True)
class RoadNetConfig:
    """Settings of the scene road.

    Attributes:
        extension: straight road added before the first and after the last ego position [m].
        segment_length: length of the arcs that follow the ego path [m].
        lanes: settings of the lane estimate from tracks (when no road surface is found).
        surface: settings of the carriageway finder in the LiDAR ground.
        carriageways: settings of the lanes of a found surface.
        min_surface_in_lane: a surface-based road that puts fewer of the ego's frames in a driving lane
            than this share is dropped for the track-based one.
    """

    extension: float = 80.0
    segment_length: float = 20.0
    lanes: LaneEvidenceConfig = field(default_factory=LaneEvidenceConfig)
    surface: SurfaceConfig = field(default_factory=SurfaceConfig)
    carriageways: CarriagewayConfig = field(default_factory=CarriagewayConfig)
    min_surface_in_lane: float = 0.95


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


def road_line(positions: np.ndarray, yaws: np.ndarray, config: RoadNetConfig = RoadNetConfig()) -> Centerline:
    """The line fitted to an ego path ((F, 3) world positions, (F,) yaws) that roads are measured along."""
    return fit_centerline(positions[:, :2], yaws, config.extension, config.segment_length)


def _surface_road(
    name: str, centerline: Centerline, tracks: list[ActorTrack], surface: RoadSurface, geo: GeoReference, config: RoadNetConfig
) -> RoadSpec | None:
    """The road spec from the measured carriageways, None when none was found."""
    if not surface.found:
        return None
    layout = layout_from_surface(surface, tracks, config.carriageways)
    kerb = kerb_line(surface, centerline, config.extension, config.segment_length)
    on, against = oncoming_check(tracks, kerb, layout)
    if layout.opposite:
        layout = replace(layout, evidence=f"{layout.evidence}; {against} of the {on} moving tracks on the oncoming carriageway move against the ego")
    return RoadSpec(name, centerline, layout, geo, kerb)


def build_scene_road(
    name: str,
    positions: np.ndarray,
    yaws: np.ndarray,
    tracks: list[ActorTrack],
    geo_reference: GeoReference,
    config: RoadNetConfig = RoadNetConfig(),
    surface: RoadSurface | None = None,
) -> SceneRoad:
    """OpenDRIVE for an ego path ((F, 3) world positions, (F,) yaws) and the actors around it, loaded back
    through carla.Map to check it. With the carriageways measured along `road_line` (`roadnet/surface.py`)
    the lanes follow them; otherwise, or when that road does not hold the ego's path, the ego lane
    is centred on the path and the other lanes come from the tracks."""
    centerline = road_line(positions, yaws, config)
    if surface is not None:
        spec = _surface_road(name, centerline, tracks, surface, geo_reference, config)
        if spec is not None:
            text = build_opendrive_text(spec)
            check = check_ego_in_lane(load_carla_map(name, text), positions, yaws)
            if check.fraction >= config.min_surface_in_lane:
                return SceneRoad(text, spec.layout, check)
    layout = estimate_lane_layout(tracks, centerline, config.lanes)
    text = build_opendrive_text(RoadSpec(name, centerline, layout, geo_reference))
    carla_map = load_carla_map(name, text)
    return SceneRoad(text, layout, check_ego_in_lane(carla_map, positions, yaws))
