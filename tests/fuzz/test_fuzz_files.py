"""Property-based fuzzing of the files users hand us: scene files (`.gs`) with flipped bits, and scenario XML,
route XML and OpenSCENARIO files with mutated attributes and elements. Each case runs in a forked child: it loads
(with finite values) or raises our InputError naming the file, never another exception, a signal or a hang."""
from __future__ import annotations

import copy
import math
import struct
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon_carla_bridge.leaderboard.planning import plan_route
from recon_carla_bridge.leaderboard.routes import parse_routes_file
from recon_carla_bridge.paths import shared_data_dir
from recon_carla_bridge.recon.scene_file import load_scene, save_scene
from recon_carla_bridge.scenario.runner import ScenarioRunner, ScenarioRunSettings
from recon_carla_bridge.scene.scene_world import load_place_map as load_map

from .isolation import describe, fuzz_settings, run_isolated

WORKDIR = Path(tempfile.mkdtemp(prefix="recon-fuzz-"))
CLEAR_ERRORS = ("InputError", "MapNotFoundError", "NativeCallRefused")


def _random_scene(gaussians: int, actors: int):  # noqa: ANN202
    """tests/recon/synthetic.py's random scene (loaded by path: the test folders are not one package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("recon_synthetic", Path(__file__).parents[1] / "recon" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.random_scene(gaussians, actors)


def _scene_blobs() -> dict[str, bytes]:
    """A small scene saved in the current format (v3) and the same bytes in the older layout (v2, no header CRC)."""
    path = WORKDIR / "base.gs"
    save_scene(_random_scene(40, 2), path)
    blob = path.read_bytes()
    _, _, header_len = struct.unpack_from("<8sIQ", blob)
    return {"v3": blob, "v2": struct.pack("<8sIQ", blob[:8], 2, header_len) + blob[24:]}


SCENES = _scene_blobs()


def _load_mutated_scene(blob: bytes) -> str:
    path = WORKDIR / "case.gs"
    path.write_bytes(blob)
    scene = load_scene(path)
    sets = [scene.background] + [actor.gaussians for actor in scene.actors.values()]
    for gaussians in sets:
        for name in ("means", "quats", "log_scales", "opacity_logits", "sh"):
            if not bool(getattr(gaussians, name).isfinite().all()):
                raise AssertionError(f"loaded a non-finite {name}")
    for actor in scene.actors.values():
        if not (bool(actor.size.isfinite().all()) and bool((actor.size > 0).all())):
            raise AssertionError(f"loaded actor {actor.track_id} with size {actor.size.tolist()}")
    return f"loaded {len(scene.actors)} actors"


@st.composite
def mutated_scene(draw: st.DrawFn) -> tuple[bytes, list]:
    """Bit flips (mostly in the prefix and header, where a flip is not caught by the payload CRC), a truncation,
    or a replaced run of bytes."""
    version = draw(st.sampled_from(sorted(SCENES)))
    blob = bytearray(SCENES[version])
    _, _, header_len = struct.unpack_from("<8sIQ", blob)
    header_end = (24 if version == "v3" else 20) + header_len
    edits: list = [version]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip_header", "flip_header", "flip_header", "flip_any", "truncate", "overwrite"]))
        if len(blob) < 16:
            break
        if kind == "truncate":
            del blob[draw(st.integers(1, len(blob) - 1)):]
        elif kind == "overwrite":
            start = draw(st.integers(8, len(blob) - 1))
            data = draw(st.binary(min_size=1, max_size=8))
            blob[start:start + len(data)] = data
        else:  # the prefix after the magic and the JSON header: what the payload CRC does not cover
            lower, upper = (8, min(header_end, len(blob))) if kind == "flip_header" else (0, len(blob))
            position = draw(st.integers(lower, max(upper - 1, lower)))
            blob[position] ^= 1 << draw(st.integers(0, 7))
        edits.append(kind)
    return bytes(blob), edits


@fuzz_settings(60)
@given(mutated_scene())
def test_mutated_scene_files_load_finite_or_fail_clearly(case: tuple[bytes, list]) -> None:
    blob, edits = case
    outcome = run_isolated(_load_mutated_scene, blob, target="scene_file")
    assert outcome.kind == "ok" or (outcome.kind == "error" and outcome.error_type == "InputError"), \
        describe(outcome, edits)


# ---- scenario, route and OpenSCENARIO files ----------------------------------------------------------------
ROUTES = ('<routes><route id="0" town="Crossing"><waypoints><position x="-60" y="1.75" z="0"/>'
          '<position x="-20" y="1.75" z="0"/><position x="40" y="1.75" z="0"/></waypoints>'
          '<scenarios><scenario name="S0" type="ControlLoss"><trigger_point x="-50" y="1.75" z="0" yaw="0"/>'
          '</scenario></scenarios></route></routes>')
SCENARIO = ('<scenarios><scenario name="S_1" type="FollowLeadingVehicle" town="StraightRoad">'
            '<ego_vehicle x="50" y="1.75" z="0.5" yaw="0" model="vehicle.lincoln.mkz_2017"/>'
            '<other_actor x="80" y="1.75" z="0.5" yaw="0" model="vehicle.tesla.model3"/>'
            '<weather cloudiness="0" precipitation="0" sun_altitude_angle="60"/></scenario></scenarios>')
XOSC_EXAMPLE = shared_data_dir() / "scenario_runner" / "examples" / "FollowLeadingVehicle.xosc"
HOSTILE_TEXT = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e30", "-1e300", "", "abc", "Town99", "$missing", "9" * 40]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6))


@st.composite
def mutated_xml(draw: st.DrawFn, base: str) -> tuple[str, list]:
    root = ET.fromstring(base)
    mutations: list = []
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter())
        element = elements[draw(st.integers(0, len(elements) - 1))]
        kind = draw(st.sampled_from(["set", "set", "drop_attribute", "drop_element", "duplicate"]))
        if kind in ("set", "drop_attribute") and element.attrib:
            attribute = draw(st.sampled_from(sorted(element.attrib)))
            if kind == "set":
                element.set(attribute, draw(HOSTILE_TEXT))
            else:
                del element.attrib[attribute]
            mutations.append((kind, element.tag, attribute, element.get(attribute)))
        elif kind in ("drop_element", "duplicate") and element is not root:
            parent = next(p for p in root.iter() if element in list(p))
            if kind == "drop_element":
                parent.remove(element)
            else:
                parent.append(copy.deepcopy(element))
            mutations.append((kind, element.tag))
    return ET.tostring(root, encoding="unicode"), mutations


def _plan_routes(text: str) -> str:
    path = WORKDIR / "routes.xml"
    path.write_text(text)
    planned = [plan_route(route, load_map(route.town)) for route in parse_routes_file(path)]
    for route in planned:
        if not all(math.isfinite(v) for v in route.points.reshape(-1)):
            raise AssertionError("a planned route has non-finite points")
    return f"{len(planned)} routes"


def _parse_scenarios(text: str) -> str:
    path = WORKDIR / "scenario.xml"
    path.write_text(text)
    runner = ScenarioRunner(ScenarioRunSettings(scenario="S_1", config_file=str(path), agent="none"))
    configs = runner._xml_configs()
    return f"{len(configs)} scenarios"


def _parse_openscenario(text: str, params: str) -> str:
    path = WORKDIR / "scenario.xosc"
    path.write_text(text)
    runner = ScenarioRunner(ScenarioRunSettings(openscenario=str(path), openscenario_params=params or None, agent="none"))
    config = runner._openscenario_config()
    return f"{config.name} on {config.town}"


def _clear(outcome) -> bool:  # noqa: ANN001
    return outcome.kind == "ok" or (outcome.kind == "error" and outcome.error_type in CLEAR_ERRORS)


@fuzz_settings(20)
@given(mutated_xml(ROUTES))
def test_mutated_route_files_plan_or_fail_clearly(case: tuple[str, list]) -> None:
    text, mutations = case
    outcome = run_isolated(_plan_routes, text, target="routes")
    assert _clear(outcome), describe(outcome, mutations)


@fuzz_settings(20)
@given(mutated_xml(SCENARIO))
def test_mutated_scenario_files_parse_or_fail_clearly(case: tuple[str, list]) -> None:
    text, mutations = case
    outcome = run_isolated(_parse_scenarios, text, target="scenario_xml")
    assert _clear(outcome), describe(outcome, mutations)


@fuzz_settings(10)
@given(st.data())
def test_mutated_openscenario_files_parse_or_fail_clearly(data: st.DataObject) -> None:
    if not XOSC_EXAMPLE.is_file():
        return  # the example comes from ../shared/data; the other fuzz targets still run
    base = (XOSC_EXAMPLE.read_text(encoding="utf-8").replace("Town01", "StraightRoad")
            .replace('roadId="4" s="48.58" t="2.75"', 'roadId="1" s="48.58" t="-1.75"'))
    text, mutations = data.draw(mutated_xml(base))
    params = data.draw(st.sampled_from(["", "leadingSpeed:3", "leadingSpeed:fast", "nosuch:1", "leadingSpeed"]))
    outcome = run_isolated(_parse_openscenario, text, params, target="xosc")
    assert _clear(outcome), describe(outcome, (mutations, params))


def test_a_position_referencing_a_removed_entity_is_refused_not_a_hang() -> None:
    """srunner re-tries an actor whose relative position names an entity that is not placed yet, forever when
    that entity is not in the file at all (the fuzz found it by removing the ego's <Vehicle>)."""
    if not XOSC_EXAMPLE.is_file():
        pytest.skip("needs ScenarioRunner's examples in ../shared/data")
    base = (XOSC_EXAMPLE.read_text(encoding="utf-8").replace("Town01", "StraightRoad")
            .replace('roadId="4" s="48.58" t="2.75"', 'roadId="1" s="48.58" t="-1.75"'))
    root = ET.fromstring(base)
    vehicle = root.find(".//Vehicle")
    next(p for p in root.iter() if vehicle in list(p)).remove(vehicle)
    outcome = run_isolated(_parse_openscenario, ET.tostring(root, encoding="unicode"), "", target="xosc")
    assert outcome.kind == "error" and outcome.error_type == "InputError", describe(outcome, ["drop Vehicle"])
    assert "names no entity of the scenario" in outcome.detail
