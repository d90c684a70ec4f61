"""Property-based fuzzing of what reaches native libcarla: mutated OpenDRIVE files and map/waypoint calls with
hostile numbers. Each case runs in a forked child: zero signals, zero hangs, zero non-finite waypoints; a refusal
must be our InputError (which names the file, road and attribute, or the call)."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import carla
import pytest
from hypothesis import given
from hypothesis import strategies as st

import recon_carla_bridge  # noqa: F401  (installs the guards)
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR
from recon_carla_bridge.world.maps import ReconMap
from recon_carla_bridge.world.native_guards import NativeCallRefused

from .isolation import describe, fuzz_settings, run_isolated

MAPS = {name: (BUNDLED_MAPS_DIR / f"{name}.xodr").read_text(encoding="utf-8") for name in ("StraightRoad", "Loop", "Crossing")}
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "-0", "1e30", "-1e30", "1e308", "1e-320", "abc", "", "3.5.1"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-10**12, max_value=10**12).map(str),
)
DISTANCES = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-9, 1e-6, 1e4, 1e9, 1e308]),
                      st.floats(allow_nan=True, allow_infinity=True), st.floats(0.01, 2000.0))


def _finite(waypoints: list) -> bool:
    return all(math.isfinite(v) for w in waypoints for v in (w.transform.location.x, w.transform.location.y,
                                                            w.transform.location.z, w.transform.rotation.yaw))


def _exercise_map(text: str) -> str:
    """Build the map and walk it as CARLA code does; 'nonfinite' when a waypoint has a NaN/inf pose."""
    wmap = ReconMap("fuzz", text)
    try:
        waypoints = wmap.generate_waypoints(2.0)
        walked = list(waypoints)
        for waypoint in waypoints[:: max(1, len(waypoints) // 25)]:
            walked += waypoint.next(5.0) + waypoint.previous(5.0)
            walked += [w for w in (waypoint.get_left_lane(), waypoint.get_right_lane()) if w is not None]
            waypoint.get_landmarks(50.0)
        wmap.get_topology()
        wmap.get_spawn_points()
    except NativeCallRefused as error:  # libcarla's own error, named by the guard layer: no crash, no hang
        return f"refused: {error}"
    if not _finite(walked):
        raise AssertionError("nonfinite waypoint")
    return f"{len(waypoints)} waypoints"


@st.composite
def mutated_opendrive(draw: st.DrawFn) -> tuple[str, list]:
    """A bundled map with 1-3 mutations: an attribute set to a hostile value or removed, an element removed or
    duplicated."""
    name = draw(st.sampled_from(sorted(MAPS)))
    root = ET.fromstring(MAPS[name])
    mutations = []
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter())
        element = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["set", "set", "set", "drop_attribute", "drop_element", "duplicate"]))
        attributes = sorted(element.attrib)
        if kind in ("set", "drop_attribute") and attributes:
            attribute = draw(st.sampled_from(attributes))
            if kind == "set":
                value = draw(HOSTILE_NUMBERS)
                element.set(attribute, value)
            else:
                del element.attrib[attribute]
                value = None
            mutations.append((kind, element.tag, attribute, value))
        elif kind in ("drop_element", "duplicate") and element is not root:
            parent = next(p for p in root.iter() if element in list(p))
            if kind == "drop_element":
                parent.remove(element)
            else:
                parent.insert(list(parent).index(element), ET.fromstring(ET.tostring(element)))
            mutations.append((kind, element.tag))
    return ET.tostring(root, encoding="unicode"), [name] + mutations


@fuzz_settings(40)
@given(mutated_opendrive())
def test_mutated_opendrive_never_crashes_hangs_or_yields_nan(case: tuple[str, list]) -> None:
    text, mutations = case
    outcome = run_isolated(_exercise_map, text, target="opendrive")
    assert outcome.kind == "ok" or (outcome.kind == "error" and outcome.error_type in ("InputError", "NativeCallRefused")), \
        describe(outcome, mutations)


@pytest.mark.parametrize("start", ["1e-320", "1e-9", "0.0005"])
def test_a_first_geometry_that_starts_past_zero_is_refused_not_a_crash(start: str) -> None:
    """libcarla dereferences the missing geometry at s=0 (SIGSEGV) for any first <geometry s> > 0: CI found 1e-320."""
    root = ET.fromstring(MAPS["StraightRoad"])
    root.find(".//planView/geometry").set("s", start)
    outcome = run_isolated(_exercise_map, ET.tostring(root, encoding="unicode"), target="opendrive")
    assert outcome.kind == "error" and outcome.error_type == "InputError", describe(outcome, [start])
    assert "first <geometry> must start at exactly s=0" in outcome.detail


@pytest.mark.parametrize("attributes", [{}, {"curvStart": "0.05", "curvEnd": "0.05"}])
def test_a_spiral_without_a_curvature_change_is_refused_not_nan(attributes: dict[str, str]) -> None:
    """A <spiral> whose curvStart equals curvEnd (or both missing) made libcarla walk NaN waypoints (fuzz found it)."""
    root = ET.fromstring(MAPS["Crossing"])
    for spiral in root.iter("spiral"):
        spiral.attrib.clear()
        spiral.attrib.update(attributes)
    outcome = run_isolated(_exercise_map, ET.tostring(root, encoding="unicode"), target="opendrive")
    assert outcome.kind == "error" and outcome.error_type == "InputError", describe(outcome, [attributes])
    assert "<spiral>" in outcome.detail


@pytest.mark.parametrize("curvature", ["2.8243147447208694e-77", "1e-40", "-1e-13"])
def test_an_arc_too_flat_for_libcarla_is_refused_not_nan(curvature: str) -> None:
    """An <arc> of |curvature| < 1e-12 is refused: libcarla's float radius overflows below ~1e-38 and the map
    walks NaN waypoints (CI's fuzz found 2.8e-77 on Loop)."""
    root = ET.fromstring(MAPS["Loop"])
    list(root.iter("arc"))[-1].set("curvature", curvature)
    outcome = run_isolated(_exercise_map, ET.tostring(root, encoding="unicode"), target="opendrive")
    assert outcome.kind == "error" and outcome.error_type == "InputError", describe(outcome, [curvature])
    assert "<arc>" in outcome.detail and "curvature" in outcome.detail


def _call(map_name: str, location: tuple[float, float, float], method: str, distance: float) -> str:
    wmap = ReconMap(map_name, MAPS[map_name])
    try:
        waypoint = wmap.get_waypoint(carla.Location(*location))
    except RuntimeError as error:  # NativeCallRefused for a hostile location
        raise error
    if waypoint is None:
        return "off the map"
    calls = {
        "next": lambda: waypoint.next(distance),
        "previous": lambda: waypoint.previous(distance),
        "next_until_lane_end": lambda: waypoint.next_until_lane_end(distance),
        "previous_until_lane_start": lambda: waypoint.previous_until_lane_start(distance),
        "get_landmarks": lambda: waypoint.get_landmarks(distance),
        "get_landmarks_of_type": lambda: waypoint.get_landmarks_of_type(distance, "1000001"),
        "generate_waypoints": lambda: wmap.generate_waypoints(distance),
        "get_waypoint_xodr": lambda: [w for w in [wmap.get_waypoint_xodr(waypoint.road_id, waypoint.lane_id, distance)] if w],
    }
    result = calls[method]()
    if method.startswith("get_landmarks"):
        return f"{len(result)} landmarks"
    if not _finite(result):
        raise AssertionError("nonfinite waypoint")
    return f"{len(result)} waypoints"


COORDINATES = st.one_of(st.floats(-50.0, 450.0), st.sampled_from([math.nan, math.inf, -math.inf, 1e30, -1e300]),
                        st.floats(allow_nan=True, allow_infinity=True))


@fuzz_settings(60)
@given(st.sampled_from(sorted(MAPS)), st.tuples(COORDINATES, COORDINATES, st.floats(-5.0, 5.0)),
       st.sampled_from(["next", "previous", "next_until_lane_end", "previous_until_lane_start", "get_landmarks",
                        "get_landmarks_of_type", "generate_waypoints", "get_waypoint_xodr"]), DISTANCES)
def test_map_and_waypoint_calls_with_hostile_numbers(map_name: str, location: tuple, method: str, distance: float) -> None:
    outcome = run_isolated(_call, map_name, location, method, distance, target=f"map:{method}")
    assert outcome.kind == "ok" or (outcome.kind == "error" and outcome.error_type in ("NativeCallRefused", "InputError")), \
        describe(outcome, (map_name, location, method, distance))
