"""Checks of ScenarioRunner inputs that srunner itself does not make: what would end in a traceback deep inside
srunner (IndexError, TypeError, FileNotFoundError: '') or, worse, run nothing or the wrong thing and report
success, is an InputError naming the file, the scenario and the field instead."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import carla

from recon_carla_bridge.errors import InputError

EGO_ROAD_DISTANCE_M = 10.0  # an ego further than this from any lane centre is off the map


def check_scenario_configs(configs: list[Any], path: str) -> None:
    """InputError for a parsed scenario configuration without town, type or <ego_vehicle>, or with a non-finite pose."""
    for config in configs:
        label = f"{path}: scenario '{getattr(config, 'name', '?')}'"
        for field in ("town", "type"):
            value = getattr(config, field, None)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{label}: attribute '{field}' is missing")
        egos = getattr(config, "ego_vehicles", None) or []
        if not egos:
            raise InputError(f"{label}: no <ego_vehicle> element (ScenarioRunner scenarios need one)")
        for actor in list(egos) + list(getattr(config, "other_actors", None) or []):
            _check_transform(actor.transform, f"{label} actor '{getattr(actor, 'model', '?')}'")


def _check_transform(transform: carla.Transform, label: str) -> None:
    values = (transform.location.x, transform.location.y, transform.location.z, transform.rotation.yaw)
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{label}: position or yaw is not a finite number ({transform})")


def check_egos_on_road(world_map: carla.Map, config: Any) -> None:
    """InputError when an ego vehicle of a scenario starts off the road network (it would 'pass' having done nothing)."""
    for ego in getattr(config, "ego_vehicles", None) or []:
        location = ego.transform.location
        waypoint = world_map.get_waypoint(location, project_to_road=True, lane_type=carla.LaneType.Any)
        distance = math.inf if waypoint is None else waypoint.transform.location.distance(location)
        if distance > EGO_ROAD_DISTANCE_M:
            raise InputError(f"scenario '{config.name}': ego_vehicle at ({location.x:g}, {location.y:g}) is "
                             f"{distance:.0f} m from the nearest lane of {world_map.name} (off the map)")


def openscenario_parameters(path: Path, overrides: str | None) -> dict[str, str]:
    """'name:value,…' as a dict, checked against the file's global ParameterDeclarations: unknown names and values
    that do not fit the declared type (double, integer, boolean …) are InputErrors listing what is declared."""
    if not overrides:
        return {}
    declared = {element.get("name", ""): element.get("parameterType", "string")
                for element in ET.parse(path).getroot().findall("ParameterDeclarations/ParameterDeclaration")}
    parameters: dict[str, str] = {}
    for item in overrides.split(","):
        name, colon, value = (part.strip() for part in item.partition(":"))
        if not colon or not name:
            raise InputError(f"--openscenarioparams: '{item}' is not 'name:value'")
        if name.startswith("$"):
            name = name[1:]
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InputError(f"--openscenarioparams: {path} declares no parameter '{name}' (declared: {known})")
        _check_parameter_value(name, declared[name], value)
        parameters[name] = value
    return parameters


def _check_parameter_value(name: str, parameter_type: str, value: str) -> None:
    try:
        if parameter_type == "double":
            if not math.isfinite(float(value)):
                raise ValueError
        elif parameter_type in ("integer", "int", "unsignedInt", "unsignedShort"):
            number = int(value)
            if parameter_type.startswith("unsigned") and number < 0:
                raise ValueError
        elif parameter_type == "boolean" and value.lower() not in ("true", "false", "1", "0"):
            raise ValueError
    except ValueError:
        raise InputError(f"--openscenarioparams: '{name}:{value}' is not a valid {parameter_type}") from None


def check_route_arguments(route: tuple[str, ...]) -> tuple[str, str, str | None]:
    """(routes file, scenarios JSON, route id or None) of `--route`; InputError when a file is missing."""
    if not route:
        raise InputError("--route needs a routes XML file")
    if len(route) < 2:
        raise InputError(f"--route {route[0]}: ScenarioRunner also needs the scenarios JSON "
                         "(--route ROUTES.xml SCENARIOS.json [ROUTE_ID]); an empty one is "
                         '{"available_scenarios": []}')
    route_file, scenario_file = route[0], route[1]
    for path in (route_file, scenario_file):
        if not Path(path).is_file():
            raise InputError(f"--route {path}: no such file")
    return route_file, scenario_file, route[2] if len(route) > 2 else None


def check_route_configs(configs: list[Any], route_file: str, route_id: str | None) -> None:
    """InputError when the routes file yields no route (or not the one asked for), or a route has fewer than two
    finite waypoints."""
    if not configs:
        which = f"no route with id '{route_id}'" if route_id is not None else "no <route> element"
        raise InputError(f"{route_file}: {which}; nothing to run")
    for config in configs:
        trajectory = getattr(config, "trajectory", None) or []
        label = f"{route_file}: route {getattr(config, 'name', '?')}"
        if len(trajectory) < 2:
            raise InputError(f"{label}: needs at least 2 waypoints, found {len(trajectory)}")
        for k, point in enumerate(trajectory):
            if not all(math.isfinite(v) for v in (point.x, point.y, point.z)):
                raise InputError(f"{label}: waypoint #{k} is not a finite position ({point})")
