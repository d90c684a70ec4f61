"""Check OpenDRIVE text before libcarla parses it: what would crash, hang or poison the native map is refused.

carla 0.9.16's parser trusts its input. A negative or huge road length, a `laneSection s` past the road's end, a
NaN lane width or an infinite geometry offset crash the interpreter (SIGSEGV), hang it or yield NaN waypoints.
`validate_opendrive` reads the XML with the standard library first and raises an InputError that names the file,
the road and the attribute at fault. The rules are deliberately those of the OpenDRIVE 1.4-1.6 schema that the
native code relies on (finite numbers in range, ordered records, lengths > 0), not style checks.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

from recon_carla_bridge.errors import InputError

MAX_ROAD_LENGTH_M = 100_000.0  # one road of 100 km; CARLA's largest towns have roads of a few hundred metres
MIN_ARC_CURVATURE = 1e-12  # 1/m: a radius of 1e12 m; libcarla's float radius overflows below ~1e-38 (NaN waypoints)
MAX_COORDINATE_M = 10_000_000.0  # |x|, |y|, |s|, offsets: well beyond any map, far below float overflow
MAX_COEFFICIENT = 1e6  # polynomial and curvature coefficients (a, b, c, d, curvature, aU …)
MAX_ROADS = 200_000
MIN_SECTION_M = 1e-3  # lane sections shorter than this crash libcarla (a section of 1e-38 m: SIGSEGV)

# Numeric attributes the native parser reads, per element tag (absent attributes are fine: libcarla defaults them).
_NUMERIC: dict[str, tuple[str, ...]] = {
    "geometry": ("s", "x", "y", "hdg", "length"),
    "arc": ("curvature",),
    "spiral": ("curvStart", "curvEnd"),
    "poly3": ("a", "b", "c", "d"),
    "paramPoly3": ("aU", "bU", "cU", "dU", "aV", "bV", "cV", "dV"),
    "elevation": ("s", "a", "b", "c", "d"),
    "superelevation": ("s", "a", "b", "c", "d"),
    "crossfall": ("s", "a", "b", "c", "d"),
    "shape": ("s", "t", "a", "b", "c", "d"),
    "laneOffset": ("s", "a", "b", "c", "d"),
    "laneSection": ("s",),
    "width": ("sOffset", "a", "b", "c", "d"),
    "border": ("sOffset", "a", "b", "c", "d"),
    "height": ("sOffset", "inner", "outer"),
    "speed": ("sOffset",),  # max may be "no limit"
    "material": ("sOffset", "friction", "roughness"),
    "access": ("sOffset",),
    "rule": ("sOffset",),
    "roadMark": ("sOffset", "width", "height"),
    "line": ("length", "space", "tOffset", "sOffset", "width"),
    "signal": ("s", "t", "zOffset", "hOffset", "pitch", "roll", "height", "width", "length"),
    "signalReference": ("s", "t"),
    "object": ("s", "t", "zOffset", "validLength", "length", "width", "height", "hdg", "pitch", "roll", "radius"),
    "cornerRoad": ("s", "t", "dz", "height"),
    "cornerLocal": ("u", "v", "z", "height"),
    "repeat": ("s", "length", "distance", "tStart", "tEnd", "widthStart", "widthEnd", "heightStart", "heightEnd",
               "zOffsetStart", "zOffsetEnd"),
    "type": ("s",),
}
_COEFFICIENTS = {"a", "b", "c", "d", "curvature", "curvStart", "curvEnd", "aU", "bU", "cU", "dU", "aV", "bV", "cV",
                 "dV", "friction", "roughness"}
# Attributes whose value must not be negative (lengths, widths of marks, offsets along s within a record).
_NON_NEGATIVE = {("geometry", "s"), ("geometry", "length"), ("laneSection", "s"), ("width", "sOffset"),
                 ("border", "sOffset"), ("height", "sOffset"), ("roadMark", "sOffset"), ("elevation", "s"),
                 ("superelevation", "s"), ("laneOffset", "s"), ("speed", "sOffset"), ("material", "sOffset"),
                 ("signal", "s"), ("object", "s"), ("line", "length"), ("line", "space"), ("roadMark", "width")}
# Records that carry a position `s` along their road (must lie on it).
_ON_ROAD = {"geometry": "s", "laneSection": "s", "elevation": "s", "superelevation": "s", "laneOffset": "s",
            "signal": "s", "object": "s", "signalReference": "s"}
_INTEGER: dict[str, tuple[str, ...]] = {"road": ("id", "junction"), "lane": ("id",), "junction": ("id",),
                                        "connection": ("incomingRoad", "connectingRoad"), "laneLink": ("from", "to")}


def validate_opendrive(xodr_text: str, source: str | Path | None = None) -> ET.Element:
    """The parsed root of `xodr_text`, or InputError naming the file, road and attribute that libcarla cannot take."""
    where = str(source) if source else "OpenDRIVE text"
    if not isinstance(xodr_text, str):
        raise InputError(f"{where}: OpenDRIVE must be text (str), got {type(xodr_text).__name__}")
    try:
        root = ET.fromstring(xodr_text)
    except ET.ParseError as error:
        raise InputError(f"{where}: malformed OpenDRIVE XML ({error})") from None
    if root.tag != "OpenDRIVE":
        raise InputError(f"{where}: root element is <{root.tag}>, expected <OpenDRIVE>")
    roads = root.findall("road")
    if not roads:
        raise InputError(f"{where}: OpenDRIVE has no <road> element")
    if len(roads) > MAX_ROADS:
        raise InputError(f"{where}: {len(roads)} roads (at most {MAX_ROADS})")
    seen: set[int] = set()
    for road in roads:
        road_id = _integer(road, "id", where, "road")
        if road_id in seen:
            raise InputError(f"{where}: road {road_id}: duplicate road id")
        seen.add(road_id)
        _check_road(road, road_id, where)
    junctions = set()
    for junction in root.findall("junction"):
        label = f"junction {junction.get('id')}"
        for element in junction.iter():
            _check_integers(element, where, label)
        junctions.add(_integer(junction, "id", where, label))
        for connection in junction.findall("connection"):
            for name in ("incomingRoad", "connectingRoad"):
                if connection.get(name) is None:
                    raise InputError(f"{where}: {label} <connection id={connection.get('id')!r}>: attribute '{name}' is missing")
                if int(connection.get(name, "0")) not in seen:
                    raise InputError(f"{where}: {label} <connection>: attribute '{name}' = {connection.get(name)!r} "
                                     "names no road of the file")
    _check_links(roads, seen, junctions, where)
    lanes_of = {int(road.get("id", "0")): {int(lane.get("id", "0")) for lane in road.iter("lane")} for road in roads}
    for junction in root.findall("junction"):
        _check_junction_lanes(junction, lanes_of, where, f"junction {junction.get('id')}")
    return root


def _check_junction_lanes(junction: ET.Element, lanes_of: dict[int, set[int]], where: str, label: str) -> None:
    """Each <laneLink from to> of a connection joins an existing lane of the incoming road to one of the connecting road."""
    for connection in junction.findall("connection"):
        incoming, connecting = int(connection.get("incomingRoad", "0")), int(connection.get("connectingRoad", "0"))
        for lane_link in connection.findall("laneLink"):
            for name, road_id in (("from", incoming), ("to", connecting)):
                if _integer(lane_link, name, where, label) not in lanes_of.get(road_id, set()):
                    raise InputError(f"{where}: {label} <connection id={connection.get('id')!r}> <laneLink>: "
                                     f"{name}={lane_link.get(name)!r} names no lane of road {road_id}")


def _check_links(roads: list[ET.Element], road_ids: set[int], junctions: set[int], where: str) -> None:
    """Road links must name existing roads/junctions with a valid contact point; lane links existing lane ids."""
    lanes_of = {int(road.get("id", "0")): {int(lane.get("id", "0")) for lane in road.iter("lane")} for road in roads}
    for road in roads:
        label = f"road {road.get('id')}"
        for link in road.findall("link/predecessor") + road.findall("link/successor"):
            kind, target = link.get("elementType", "road"), link.get("elementId")
            if target is None:
                raise InputError(f"{where}: {label} <{link.tag}>: attribute 'elementId' is missing")
            number = _integer(link, "elementId", where, label)
            if (kind == "junction" and number not in junctions) or (kind != "junction" and number not in road_ids):
                raise InputError(f"{where}: {label} <{link.tag}>: elementId {target!r} names no {kind} of the file")
            if kind != "junction" and link.get("contactPoint", "start") not in ("start", "end"):
                raise InputError(f"{where}: {label} <{link.tag}>: attribute 'contactPoint' = "
                                 f"{link.get('contactPoint')!r} must be 'start' or 'end'")
        linked = {tag: road.find(f"link/{tag}") for tag in ("predecessor", "successor")}
        sections = road.findall("lanes/laneSection")
        for index, section in enumerate(sections):
            for lane in section.iter("lane"):
                for link in lane.findall("link/predecessor") + lane.findall("link/successor"):
                    target_lane = _integer(link, "id", where, label)
                    inner = index > 0 if link.tag == "predecessor" else index < len(sections) - 1
                    road_link = linked[link.tag]
                    if inner or road_link is None or road_link.get("elementType", "road") == "junction":
                        continue  # the same road's next section, or a junction's <laneLink>s (checked there)
                    target_road = int(road_link.get("elementId", "0"))
                    if target_lane not in lanes_of.get(target_road, set()):
                        raise InputError(f"{where}: {label} lane {lane.get('id')} <{link.tag}>: id {link.get('id')!r} "
                                         f"names no lane of road {target_road}")


def _check_road(road: ET.Element, road_id: int, where: str) -> None:
    label = f"road {road_id}"
    length = _number(road, "length", where, label, required=True)
    if not 0.0 < length <= MAX_ROAD_LENGTH_M:
        raise InputError(f"{where}: {label} <road>: attribute 'length' = {road.get('length')!r} must be in (0, {MAX_ROAD_LENGTH_M:g}] m")
    _integer(road, "junction", where, label, required=False)
    if road.find("planView/geometry") is None:
        raise InputError(f"{where}: {label}: <planView> has no <geometry>")
    for element in road.iter():
        _check_numbers(element, where, label, length)
        _check_integers(element, where, label)
    _check_order(road.findall("planView/geometry"), "s", where, f"{label} <planView>")
    _check_order(road.findall("lanes/laneSection"), "s", where, f"{label} <lanes>", strict=True)
    first_geometry = road.find("planView/geometry")
    if first_geometry is not None and float(first_geometry.get("s", "0")) != 0.0:
        # libcarla looks a road's s=0 up in its geometry list and dereferences the miss (SIGSEGV for any s > 0)
        raise InputError(f"{where}: {label}: the first <geometry> must start at exactly s=0, "
                         f"found s={first_geometry.get('s')!r}")
    first_section = road.find("lanes/laneSection")
    if first_section is not None and abs(float(first_section.get("s", "0"))) > 1e-3:
        raise InputError(f"{where}: {label}: the first <laneSection> must start at s=0, found s={first_section.get('s')!r}")
    for geometry in road.findall("planView/geometry"):
        if geometry.get("length") is None:
            raise InputError(f"{where}: {label} <geometry s={geometry.get('s')!r}>: attribute 'length' is missing")
        shapes = [child.tag for child in geometry if child.tag in ("line", "arc", "spiral", "poly3", "paramPoly3")]
        if len(shapes) != 1:
            raise InputError(f"{where}: {label} <geometry s={geometry.get('s')!r}>: needs exactly one of <line>, <arc>, "
                             f"<spiral>, <poly3>, <paramPoly3>, found {shapes or 'none'}")
    for arc in road.findall("planView/geometry/arc"):
        if arc.get("curvature") is None or abs(float(arc.get("curvature", "0"))) < MIN_ARC_CURVATURE:
            # libcarla takes the radius 1/curvature in single precision: below ~1e-38 it is inf and waypoints NaN
            raise InputError(f"{where}: {label} <arc>: attribute 'curvature' must be a number with |curvature| >= "
                             f"{MIN_ARC_CURVATURE:g} (got {arc.get('curvature')!r}; a straight piece is a <line>)")
    for spiral in road.findall("planView/geometry/spiral"):
        start, end = (_number(spiral, name, where, label, required=True) for name in ("curvStart", "curvEnd"))
        if abs(start - end) < MIN_ARC_CURVATURE:
            # libcarla's clothoid divides by the curvature change: equal ends give NaN waypoints
            raise InputError(f"{where}: {label} <spiral>: curvStart = curvEnd = {start:g}; a piece of constant curvature "
                             "is an <arc> (or a <line>)")
    for mark_type in road.iter("roadMark"):
        for pattern in mark_type.findall("type"):
            if pattern.find("line") is None:
                raise InputError(f"{where}: {label} <roadMark> <type name={pattern.get('name')!r}>: has no <line>")
    sections = road.findall("lanes/laneSection")
    if not sections:
        raise InputError(f"{where}: {label}: <lanes> has no <laneSection>")
    for index, section in enumerate(sections):
        _check_lane_section(section, where, f"{label} laneSection {index}")


def _check_lane_section(section: ET.Element, where: str, label: str) -> None:
    """One <center> lane 0; left lanes with positive ids, right lanes negative, each id once, each with a width."""
    centers = section.findall("center/lane")
    if len(centers) != 1 or centers[0].get("id", "").strip() != "0":
        raise InputError(f"{where}: {label}: needs exactly one <center> lane with id 0 (found {len(centers)})")
    seen: set[int] = {0}
    for side, sign in (("left", 1), ("right", -1)):
        ids = sorted(abs(_integer(lane, "id", where, label)) for lane in section.findall(f"{side}/lane"))
        if ids != list(range(1, len(ids) + 1)):
            raise InputError(f"{where}: {label} <{side}>: lane ids must be {'' if sign > 0 else '-'}1..{len(ids)} "
                             f"without gaps, found {sorted(i * sign for i in ids)}")
        for lane in section.findall(f"{side}/lane"):
            lane_id = _integer(lane, "id", where, label)
            if lane_id * sign <= 0:
                raise InputError(f"{where}: {label} <{side}> lane {lane_id}: ids must be {'positive' if sign > 0 else 'negative'}")
            if lane_id in seen:
                raise InputError(f"{where}: {label}: lane id {lane_id} appears twice")
            seen.add(lane_id)
            if lane.find("width") is None and lane.find("border") is None:
                raise InputError(f"{where}: {label} lane {lane_id}: no <width> (or <border>) record")
            _check_order(lane.findall("width"), "sOffset", where, f"{label} lane {lane_id}")


def _check_numbers(element: ET.Element, where: str, label: str, road_length: float) -> None:
    names = _NUMERIC.get(element.tag, ())
    for name in names:
        if element.get(name) is None:
            continue
        value = _number(element, name, where, label)
        bound = MAX_COEFFICIENT if name in _COEFFICIENTS else MAX_COORDINATE_M
        if abs(value) > bound:
            raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {element.get(name)!r} "
                             f"is out of range (|value| <= {bound:g})")
        if (element.tag, name) in _NON_NEGATIVE and value < 0.0:
            raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {element.get(name)!r} must not be negative")
        if _ON_ROAD.get(element.tag) == name and value > road_length + 1e-6:
            raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {element.get(name)!r} "
                             f"lies past the road's end (length {road_length:g} m)")


def _check_integers(element: ET.Element, where: str, label: str) -> None:
    for name in _INTEGER.get(element.tag, ()):
        if element.get(name) is not None:
            _integer(element, name, where, label)


def _check_order(records: list[ET.Element], name: str, where: str, label: str, strict: bool = False) -> None:
    previous = -math.inf
    for record in records:
        value = float(record.get(name, "0"))
        if value < previous - 1e-9 or (strict and value < previous + MIN_SECTION_M):
            raise InputError(f"{where}: {label}: <{record.tag}> attribute '{name}' = {record.get(name)!r} "
                             f"comes before the previous record's {previous:g} (records must be ordered along s)")
        previous = value


def _number(element: ET.Element, name: str, where: str, label: str, required: bool = False) -> float:
    text = element.get(name)
    if text is None:
        if required:
            raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' is missing")
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {text!r} must be a finite number")
    return value


def _integer(element: ET.Element, name: str, where: str, label: str, required: bool = True) -> int:
    text = element.get(name)
    if text is None:
        if required:
            raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' is missing")
        return 0
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {text!r} is not an integer") from None
    if abs(value) > 2**31 - 1:
        raise InputError(f"{where}: {label} <{element.tag}>: attribute '{name}' = {text!r} does not fit a 32-bit id")
    return value
