"""Route files → `RouteConfig`s: leaderboard 1.0 XML (+ scenario-trigger JSON), leaderboard 2.0 XML, our own.

Formats (detected per route):
- 1.0: `<route id town><waypoint x y z pitch roll yaw/>…</route>`; scenarios come from the separate trigger
  JSON (`available_scenarios`), matched to the interpolated route by `scenario_triggers`.
- 2.0: `<route id town><weathers>…</weathers><waypoints><position x y z/>…</waypoints>
  <scenarios><scenario name type><trigger_point x y z yaw/><param value=…/>…</scenario></scenarios></route>`.
- ours (scenarios/routes/): the 2.0 layout; `town` may name a reconstructed scene's map, and an optional
  `<expert><position x y z yaw/>…</expert>` gives the logged trajectory RAD's deviation metrics compare with.
Every error names the file, the route id and the field.
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recon_carla_bridge.errors import InputError

WEATHER_FIELDS = (
    "cloudiness", "precipitation", "precipitation_deposits", "wind_intensity", "sun_azimuth_angle",
    "sun_altitude_angle", "fog_density", "fog_distance", "fog_falloff", "wetness", "scattering_intensity",
    "mie_scattering_scale", "rayleigh_scattering_scale", "dust_storm",
)


@dataclass(frozen=True)
class Pose:
    """A point of a route file: position (m, CARLA world frame) and yaw (degrees)."""

    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario of a route.

    Fields:
        name: instance name ('ControlLoss_1', or the 1.0 type name).
        type: scenario class or 1.0 number ('ControlLoss', 'Scenario3', …).
        trigger: where the ego vehicle triggers it.
        parameters: the 2.0 child elements other than trigger_point, as {tag: attributes}.
        other_actors: the 1.0 JSON 'other_actors' ({'front'|'left'|'right': [transform dicts]}), or None.
        subtype: the 1.0 route-dependent variant ('S7left', 'valid', …), '' for 2.0.
    """

    name: str
    type: str
    trigger: Pose
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    other_actors: dict[str, Any] | None = None
    subtype: str = ""


@dataclass(frozen=True)
class RouteConfig:
    """One route to drive.

    Fields:
        route_id: the XML id.
        town: map name ('Town01', 'Town10HD_Opt', or a reconstructed scene's map).
        keypoints: the coarse positions the GlobalRoutePlanner interpolates between (>= 2).
        source: the route file (for error messages and the report).
        format: '1.0' or '2.0' (ours uses '2.0').
        weathers: [(route percentage, {weather field: value})], sorted by percentage.
        scenarios: the 2.0 scenarios (1.0 ones are matched after interpolation).
        scenario_file: the 1.0 trigger JSON, or None.
        expert: optional reference trajectory for RAD deviation metrics (else the route itself).
    """

    route_id: str
    town: str
    keypoints: tuple[Pose, ...]
    source: Path
    format: str
    weathers: tuple[tuple[float, tuple[tuple[str, float], ...]], ...] = ()
    scenarios: tuple[ScenarioSpec, ...] = ()
    scenario_file: Path | None = None
    expert: tuple[Pose, ...] = ()

    @property
    def name(self) -> str:
        """The leaderboard's route name, 'RouteScenario_<id>'."""
        return f"RouteScenario_{self.route_id}"


def _float_attr(element: ET.Element, key: str, where: str, default: float | None = None) -> float:
    raw = element.attrib.get(key)
    if raw is None:
        if default is not None:
            return default
        raise InputError(f"{where}: attribute '{key}' is missing")
    try:
        value = float(raw)
    except ValueError as error:
        raise InputError(f"{where}: attribute '{key}'={raw!r} is not a number") from error
    if not math.isfinite(value):
        raise InputError(f"{where}: attribute '{key}'={raw!r} is not a finite number")
    return value


def _pose(element: ET.Element, where: str, need_yaw: bool = False) -> Pose:
    return Pose(
        x=_float_attr(element, "x", where),
        y=_float_attr(element, "y", where),
        z=_float_attr(element, "z", where, default=0.0),
        yaw=_float_attr(element, "yaw", where, default=None if need_yaw else 0.0),
    )


def _parse_weathers(route: ET.Element, where: str) -> tuple:
    weathers = []
    container = route.find("weathers")
    elements = list(container.iter("weather")) if container is not None else list(route.findall("weather"))
    for k, element in enumerate(elements):
        values = []
        for key, raw in element.attrib.items():
            if key == "route_percentage":
                continue
            if key not in WEATHER_FIELDS:
                raise InputError(f"{where} weather #{k}: unknown attribute '{key}'")
            values.append((key, _float_attr(element, key, f"{where} weather #{k}")))
        percentage = _float_attr(element, "route_percentage", f"{where} weather #{k}", default=0.0)
        weathers.append((percentage, tuple(values)))
    return tuple(sorted(weathers, key=lambda item: item[0]))


def _parse_v2_scenarios(route: ET.Element, where: str) -> tuple[ScenarioSpec, ...]:
    container = route.find("scenarios")
    if container is None:
        return ()
    specs = []
    for k, element in enumerate(container.iter("scenario")):
        label = f"{where} scenario #{k}"
        name, kind = element.attrib.get("name"), element.attrib.get("type")
        if not name or not kind:
            raise InputError(f"{label}: attributes 'name' and 'type' are required")
        trigger = element.find("trigger_point")
        if trigger is None:
            raise InputError(f"{label} ({name}): element 'trigger_point' is missing")
        parameters = {child.tag: dict(child.attrib) for child in element if child.tag != "trigger_point"}
        specs.append(ScenarioSpec(name=name, type=kind, trigger=_pose(trigger, f"{label} trigger_point", True),
                                  parameters=parameters))
    return tuple(specs)


def _select_subset(ids: list[str], subset: str, path: Path) -> set[str]:
    """The ids a leaderboard `--routes-subset` selects ('0,3' or '2-5' or a mix), validated against the file."""
    chosen: list[str] = []
    for group in subset.replace(" ", "").split(","):
        if not group:
            continue
        if "-" in group:
            start, end = group.split("-", 1)
            if start not in ids or end not in ids:
                missing = start if start not in ids else end
                raise InputError(f"{path}: --routes-subset names route id '{missing}', which the file lacks")
            first, last = ids.index(start), ids.index(end)
            if last < first:
                raise InputError(f"{path}: malformed --routes-subset '{group}': the end id comes before the start")
            chosen.extend(ids[first:last + 1])
        else:
            if group not in ids:
                raise InputError(f"{path}: --routes-subset names route id '{group}', which the file lacks")
            chosen.append(group)
    return set(chosen)


def parse_routes_file(path: Path | str, scenario_file: Path | str | None = None,
                      routes_subset: str = "") -> list[RouteConfig]:
    """Read a route file (1.0, 2.0 or ours); `scenario_file` is the 1.0 trigger JSON (checked here)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: route file not found")
    try:
        tree = ET.parse(path)
    except ET.ParseError as error:
        line, column = error.position
        raise InputError(f"{path}: malformed route XML (line {line}, column {column}): {error}") from error
    root = tree.getroot()
    if root.tag != "routes":
        raise InputError(f"{path}: the root element must be <routes>, found <{root.tag}>")
    scenario_path = Path(scenario_file) if scenario_file else None
    if scenario_path is not None:
        load_trigger_file(scenario_path)  # fail early, before anything runs

    routes = root.findall("route")
    if not routes:
        raise InputError(f"{path}: no <route> element")
    ids = []
    for k, route in enumerate(routes):
        for key in ("id", "town"):
            if not route.attrib.get(key):
                raise InputError(f"{path}: route #{k} lacks attribute '{key}'")
        ids.append(route.attrib["id"])
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InputError(f"{path}: duplicated route ids {duplicates}")
    selected = _select_subset(ids, routes_subset, path) if routes_subset else set(ids)

    configs = []
    for route in routes:
        route_id = route.attrib["id"]
        if route_id not in selected:
            continue
        where = f"{path} route id={route_id}"
        waypoints_v2 = route.find("waypoints")
        if waypoints_v2 is not None:
            fmt = "2.0"
            elements = list(waypoints_v2.iter("position"))
            keypoints = tuple(_pose(e, f"{where} waypoints/position #{i}") for i, e in enumerate(elements))
            scenarios = _parse_v2_scenarios(route, where)
        else:
            fmt = "1.0"
            elements = list(route.iter("waypoint"))
            keypoints = tuple(_pose(e, f"{where} waypoint #{i}") for i, e in enumerate(elements))
            scenarios = ()
        if len(keypoints) < 2:
            raise InputError(f"{where}: needs at least 2 waypoints, found {len(keypoints)}")
        expert_element = route.find("expert")
        expert = tuple(_pose(e, f"{where} expert/position #{i}") for i, e in
                       enumerate(expert_element.iter("position"))) if expert_element is not None else ()
        configs.append(RouteConfig(
            route_id=route_id, town=route.attrib["town"], keypoints=keypoints, source=path, format=fmt,
            weathers=_parse_weathers(route, where), scenarios=scenarios,
            scenario_file=scenario_path if fmt == "1.0" else None, expert=expert))
    return configs


def load_trigger_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The 1.0 scenario-trigger JSON as {town: [scenario dicts]}; InputError naming the file and field."""
    if not path.is_file():
        raise InputError(f"{path}: scenario trigger file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from error
    towns = data.get("available_scenarios") if isinstance(data, dict) else None
    if not isinstance(towns, list):
        raise InputError(f"{path}: field 'available_scenarios' is missing or not a list")
    merged: dict[str, list[dict[str, Any]]] = {}
    for k, town_dict in enumerate(towns):
        if not isinstance(town_dict, dict):
            raise InputError(f"{path}: field 'available_scenarios[{k}]' must be an object")
        for town, scenarios in town_dict.items():
            if not isinstance(scenarios, list):
                raise InputError(f"{path}: field 'available_scenarios[{k}].{town}' must be a list")
            for j, scenario in enumerate(scenarios):
                if "scenario_type" not in scenario or "available_event_configurations" not in scenario:
                    raise InputError(f"{path}: field 'available_scenarios[{k}].{town}[{j}]' lacks "
                                     "'scenario_type' or 'available_event_configurations'")
            merged.setdefault(town, []).extend(scenarios)
    return merged


def route_instances(configs: list[RouteConfig], repetitions: int) -> list[tuple[RouteConfig, int, str]]:
    """(config, repetition, leaderboard route id 'RouteScenario_<id>_rep<k>') for every run, in run order."""
    if repetitions < 1:
        raise InputError(f"--repetitions must be >= 1, got {repetitions}")
    return [(config, rep, f"{config.name}_rep{rep}") for config in configs for rep in range(repetitions)]
