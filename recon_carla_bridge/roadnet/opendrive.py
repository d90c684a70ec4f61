"""Write the scene's road as OpenDRIVE with scenariogeneration: one road, right-hand traffic.

The road's lanes follow a LaneLayout; the ego lane is centred on the ego path. The reference line (the
centre lane) is the border between oncoming and same-direction lanes, so same-direction lanes are the
right lanes (ids -1, -2, ...) and oncoming lanes the left ones (1, 2, ...); a median between them is
the non-driving left lane 1 (the oncoming lanes are then 2, 3, ...). Coordinates are the
SceneLog world frame (x, y, z right-handed, z up); carla.Map shows world (x, y) at Location(x, -y).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recon_carla_bridge.ingest.scenelog import GeoReference
from recon_carla_bridge.roadnet.centerline import Centerline
from recon_carla_bridge.roadnet.evidence import LaneLayout


@dataclass(frozen=True)
class RoadSpec:
    """What to write.

    Attributes:
        name: OpenDRIVE header name.
        ego_lane_line: centreline of the ego lane (world frame).
        layout: lane counts and width.
        geo_reference: latitude/longitude of the world origin.
        reference: the reference line itself (the left border of the leftmost same-direction lane) when
            it was measured (a kerb); None: derived from `ego_lane_line`.
    """

    name: str
    ego_lane_line: Centerline
    layout: LaneLayout
    geo_reference: GeoReference
    reference: Centerline | None = None


def geo_reference_string(geo: GeoReference) -> str:
    """PROJ string of a transverse Mercator projection centred on the world origin (CARLA reads lat_0/lon_0)."""
    return (
        f"+proj=tmerc +lat_0={geo.latitude:.8f} +lon_0={geo.longitude:.8f} +k=1 +x_0=0 +y_0=0 "
        "+datum=WGS84 +units=m +vunits=m +no_defs"
    )


def reference_line(spec: RoadSpec) -> Centerline:
    """The OpenDRIVE reference line: left border of the leftmost same-direction lane."""
    if spec.reference is not None:
        return spec.reference
    return spec.ego_lane_line.offset((spec.layout.same_left + 0.5) * spec.layout.lane_width)


def build_opendrive_text(spec: RoadSpec) -> str:
    """OpenDRIVE XML text of the scene road (scenariogeneration builds it; a comment notes the geoReference)."""
    import tempfile

    from scenariogeneration import xodr

    line = reference_line(spec)
    planview = xodr.PlanView(line.x, line.y, line.heading)
    for segment in line.segments:
        geometry = xodr.Line(segment.length) if segment.curvature == 0.0 else xodr.Arc(segment.curvature, length=segment.length)
        planview.add_geometry(geometry)

    width = spec.layout.lane_width
    layout = spec.layout
    center = xodr.Lane()
    center.add_roadmark(xodr.std_roadmark_solid_solid() if layout.opposite and not layout.median_width else xodr.std_roadmark_solid())
    section = xodr.LaneSection(0, center)
    same = layout.same_left + 1 + layout.same_right
    for k in range(same):
        mark = xodr.std_roadmark_solid() if k == same - 1 else xodr.std_roadmark_broken()
        section.add_right_lane(xodr.standard_lane(width, mark))
    if layout.median_width > 0:
        median = xodr.Lane(lane_type=xodr.LaneType.median, a=layout.median_width)
        median.add_roadmark(xodr.std_roadmark_solid())
        section.add_left_lane(median)
    opposite_width = layout.opposite_lane_width or width
    for k in range(layout.opposite):
        mark = xodr.std_roadmark_solid() if k == layout.opposite - 1 else xodr.std_roadmark_broken()
        section.add_left_lane(xodr.standard_lane(opposite_width, mark))
    lanes = xodr.Lanes()
    lanes.add_lanesection(section)
    road = xodr.Road(1, planview, lanes)
    opendrive = xodr.OpenDrive(spec.name, geo_reference=geo_reference_string(spec.geo_reference))
    opendrive.add_road(road)
    opendrive.adjust_roads_and_lanes()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "road.xodr"
        opendrive.write_xml(str(path))
        text = path.read_text(encoding="utf-8")
    note = (
        f"<!-- recon_carla_bridge scene road. geoReference: {spec.geo_reference.note or 'from the log'} "
        f"(lat {spec.geo_reference.latitude:.6f}, lon {spec.geo_reference.longitude:.6f}). "
        f"Lanes: {layout.evidence}. World frame of the SceneLog; CARLA shows (x, y) at Location(x, -y). -->\n"
    )
    head, sep, rest = text.partition("?>")
    return head + sep + "\n" + note + rest.lstrip("\n") if sep else note + text
