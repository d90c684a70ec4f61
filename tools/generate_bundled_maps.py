"""Write the small OpenDRIVE maps bundled with recon_carla_bridge (recon_carla_bridge/data/maps/).

They let a fresh clone, without the CARLA towns in ../shared/data, open a world and run the core
tests: `recon_carla_bridge.world.maps.load_map('Crossing')` finds them on the default search path.

  StraightRoad  a 400 m straight road along +x, two lanes each way, dead-ended at both ends
  Crossing      a four-way junction at the origin of two-lane roads (one lane each way), arms of 150 m
  Loop          a closed rounded rectangle of about 590 m centred on the origin, one lane each way,
                no junction, over a 4 m hill

Every map carries a geoReference (so GNSS works) and a speed limit per road. Built with
scenariogeneration's `xodr` module; junction ids are kept apart from road ids (see DESIGN.md: when
they collide, CARLA's parser drops lane successors). The header date is fixed so that running the
script twice writes identical files.

Usage:  python tools/generate_bundled_maps.py [--out DIR] [--check]
"""
from __future__ import annotations

import argparse
import math
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from scenariogeneration import xodr

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "recon_carla_bridge" / "data" / "maps"

LANE_WIDTH_M = 3.5
SPEED_LIMIT_KMH = 50.0
FIXED_DATE = "2026-11-01 00:00:00"  # header date: fixed, so the output is reproducible
# A transverse Mercator origin near Karlsruhe (where KITTI was recorded); CARLA reads lat_0/lon_0.
GEO_REFERENCE = "+proj=tmerc +lat_0=49.0 +lon_0=8.4 +k=1 +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"

STRAIGHT_LENGTH_M = 400.0
CROSSING_ARM_M = 150.0
CROSSING_RADIUS_M = 12.0  # distance from the junction centre to where each arm starts
CROSSING_JUNCTION_ID = 900  # distinct from the arms (1-4) and the connecting roads (100-111)
LOOP_STRAIGHT_X_M = 120.0  # long sides, along x
LOOP_STRAIGHT_Y_M = 80.0  # short sides
LOOP_CORNER_RADIUS_M = 30.0
# Road-by-road (start, end) heights: a gentle hill (at most ~4 % grade) so that road-surface
# following is exercised without the CARLA towns.
LOOP_HEIGHTS_M = ((0.0, 4.0), (4.0, 4.0), (4.0, 0.0), (0.0, 0.0))


def _with_speed(road: xodr.Road) -> xodr.Road:
    """Give the road a town type with the speed limit (the world reads <type><speed> for its limits)."""
    road.add_type(xodr.RoadType.town, 0, speed=SPEED_LIMIT_KMH, speed_unit="km/h")
    return road


def _add_smooth_elevation(road: xodr.Road, length: float, start_z: float, end_z: float) -> None:
    """Elevation from start_z to end_z over a road of `length` m, level at both ends (a cubic)."""
    rise = end_z - start_z
    road.add_elevation(0.0, start_z, 0.0, 3.0 * rise / length**2, -2.0 * rise / length**3)


def build_straight_road() -> xodr.OpenDrive:
    """One 400 m road along +x with two lanes each way (broken marks between same-way lanes)."""
    odr = xodr.OpenDrive("StraightRoad", geo_reference=GEO_REFERENCE)
    road = xodr.create_road(xodr.Line(STRAIGHT_LENGTH_M), id=1, left_lanes=2, right_lanes=2,
                            lane_width=LANE_WIDTH_M)
    odr.add_road(_with_speed(road))
    odr.adjust_roads_and_lanes()
    return odr


def build_crossing() -> xodr.OpenDrive:
    """Four 150 m arms (one lane each way) meeting at a junction with every turn connected."""
    odr = xodr.OpenDrive("Crossing", geo_reference=GEO_REFERENCE)
    junction = xodr.CommonJunctionCreator(CROSSING_JUNCTION_ID, "crossing", startnum=100)
    arms = []
    for index in range(4):
        arm = xodr.create_road(xodr.Line(CROSSING_ARM_M), id=index + 1, left_lanes=1, right_lanes=1,
                               lane_width=LANE_WIDTH_M, center_road_mark=xodr.std_roadmark_broken())
        arms.append(arm)
        junction.add_incoming_road_circular_geometry(arm, CROSSING_RADIUS_M, index * math.pi / 2.0, "predecessor")
    # One one-way connecting road per turn (as in CARLA's towns): the lane entering the junction (+1,
    # since every arm starts there) to the lane leaving it (-1). Two-way connecting roads would be
    # listed twice in the junction, and CARLA's parser then reports every successor twice.
    for incoming in range(1, 5):
        for outgoing in range(1, 5):
            if incoming != outgoing:
                junction.add_connection(incoming, outgoing, 1, -1)
    arms[0].planview.set_start_point(CROSSING_RADIUS_M, 0.0, 0.0)  # junction centred on the origin
    for arm in arms:
        odr.add_road(_with_speed(arm))
    odr.add_junction_creator(junction)
    for road in odr.roads.values():
        if road.road_type != -1:  # connecting roads inside the junction
            _with_speed(road)
    odr.adjust_roads_and_lanes()
    return odr


def build_loop() -> xodr.OpenDrive:
    """A closed rounded rectangle of four roads (a straight and a quarter circle each), one lane each way."""
    odr = xodr.OpenDrive("Loop", geo_reference=GEO_REFERENCE)
    curvature = 1.0 / LOOP_CORNER_RADIUS_M
    sides = (LOOP_STRAIGHT_X_M, LOOP_STRAIGHT_Y_M, LOOP_STRAIGHT_X_M, LOOP_STRAIGHT_Y_M)
    roads = [
        xodr.create_road([xodr.Line(side), xodr.Arc(curvature, angle=math.pi / 2.0)], id=index + 1,
                         left_lanes=1, right_lanes=1, lane_width=LANE_WIDTH_M)
        for index, side in enumerate(sides)
    ]
    # Centre the loop on the origin: road 1 starts mid-way along the bottom side (OpenDRIVE frame).
    roads[0].planview.set_start_point(-LOOP_STRAIGHT_X_M / 2.0, -(LOOP_STRAIGHT_Y_M / 2.0 + LOOP_CORNER_RADIUS_M), 0.0)
    for road, side, (start_z, end_z) in zip(roads, sides, LOOP_HEIGHTS_M):
        _add_smooth_elevation(road, side + LOOP_CORNER_RADIUS_M * math.pi / 2.0, start_z, end_z)
    for index, road in enumerate(roads):
        following = roads[(index + 1) % len(roads)]
        road.add_successor(xodr.ElementType.road, following.id, xodr.ContactPoint.start)
        following.add_predecessor(xodr.ElementType.road, road.id, xodr.ContactPoint.end)
        odr.add_road(_with_speed(road))
    odr.adjust_roads_and_lanes()
    return odr


MAPS: dict[str, Callable[[], xodr.OpenDrive]] = {
    "StraightRoad": build_straight_road,
    "Crossing": build_crossing,
    "Loop": build_loop,
}


def _set_lane_change_rules(root: ET.Element) -> None:
    """State on every road mark whether it may be crossed (solid: no, broken: both ways), as CARLA's
    towns do; scenariogeneration leaves the attribute out and CARLA then allows every crossing."""
    for mark in root.iter("roadMark"):
        mark_type = mark.get("type")
        if mark_type == "solid":
            mark.set("laneChange", "none")
        elif mark_type == "broken":
            mark.set("laneChange", "both")


def _constant_spirals_to_arcs(root: ET.Element) -> None:
    """Write spirals whose curvature does not change as arcs.

    scenariogeneration's junction turns are spiral-arc-spiral, with the middle piece written as a
    <spiral> of equal start and end curvature; CARLA's parser divides by the curvature change and
    gives NaN locations all along such a piece. An <arc> is the same curve and parses cleanly.
    """
    for geometry in root.iter("geometry"):
        spiral = geometry.find("spiral")
        if spiral is None:
            continue
        start, end = float(spiral.get("curvStart", "nan")), float(spiral.get("curvEnd", "nan"))
        if math.isclose(start, end, rel_tol=1e-9, abs_tol=1e-12):
            geometry.remove(spiral)
            ET.SubElement(geometry, "arc", curvature=repr(start))


def render(odr: xodr.OpenDrive) -> str:
    """The OpenDRIVE text of a map: header date fixed, constant spirals as arcs, lane-change rules."""
    root = odr.get_element()
    header = root.find("header")
    if header is not None:
        header.set("date", FIXED_DATE)
    _constant_spirals_to_arcs(root)
    _set_lane_change_rules(root)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def generate(out_dir: Path) -> dict[str, Path]:
    """Write every bundled map into `out_dir`; returns name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, build in MAPS.items():
        path = out_dir / f"{name}.xodr"
        path.write_text(render(build()), encoding="utf-8")
        written[name] = path
    return written


def stale_maps(out_dir: Path) -> list[str]:
    """Names of bundled maps whose file in `out_dir` is missing or differs from what this script writes."""
    stale = []
    for name, build in MAPS.items():
        path = out_dir / f"{name}.xodr"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(build()):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Command line: write the maps, or with --check report (exit 1) those that are out of date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_maps(args.out)
        for name in stale:
            print(f"out of date: {args.out / (name + '.xodr')}")
        return 1 if stale else 0
    for name, path in generate(args.out).items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
