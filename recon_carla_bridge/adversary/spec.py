"""The `<adversary>` element of a DAA scenario: which manoeuvre, which actor, which parameter ranges, which seed."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from recon_carla_bridge.adversary.manoeuvres import Manoeuvre, manoeuvre_named
from recon_carla_bridge.adversary.parameters import PARAMETERS, ParameterRange, check_range, draw_parameters, parse_range
from recon_carla_bridge.errors import InputError

ACTOR_CHOICES = ("insert", "ahead", "behind", "left", "right")
TRIGGER_KINDS = ("distance", "ttc", "time")
SETTINGS = ("manoeuvre", "seed", "actor", "model", "trigger", "trigger_value", "start_offset", "cruise_speed",
            "keep_offset", "patience")


@dataclass(frozen=True)
class AdversarySpec:
    """What one `<adversary>` element asks for (validated)."""

    manoeuvre: Manoeuvre
    ranges: dict[str, ParameterRange]  # every parameter of the manoeuvre: its defaults overridden by the XML
    seed: int = 0
    actor: str = "insert"  # 'insert' a vehicle, or take over the nearest one 'ahead'/'behind'/'left'/'right' of the ego
    model: str = "vehicle.tesla.model3"  # blueprint of an inserted vehicle
    trigger: str = "distance"  # distance (the drawn trigger_distance) | ttc | time
    trigger_value: float = 0.0  # s for ttc and time triggers
    start_offset: float | None = None  # m along the lane from the ego to an inserted vehicle (default per manoeuvre)
    cruise_speed: float = 8.0  # m/s before the trigger
    keep_offset: float | None = None  # m ahead (+) or behind (-) of the ego to hold before the trigger, instead of a speed
    patience: float = 20.0  # s after the trigger to wait for a feasible, avoidable plan
    where: str = "<adversary>"  # the element, for messages

    def draw(self) -> dict[str, float]:
        """The manoeuvre's parameters drawn with the spec's seed."""
        return draw_parameters(self.ranges, self.seed)


def _number(element: ET.Element, name: str, where: str, default: float | None, low: float, high: float) -> float | None:
    text = element.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {name}='{text}' is not a number") from None
    if not low <= value <= high:
        raise InputError(f"{where}: {name}={value:g} is outside [{low:g}, {high:g}]")
    return value


def parse_adversary(element: ET.Element, where: str) -> AdversarySpec:
    """Validate an `<adversary>` element; InputError naming `where` and the field on anything wrong."""
    unknown = sorted(set(element.attrib) - set(SETTINGS) - set(PARAMETERS))
    if unknown:
        raise InputError(f"{where}: unknown attribute(s) {', '.join(unknown)} "
                         f"(settings: {', '.join(SETTINGS)}; parameters: {', '.join(sorted(PARAMETERS))})")
    name = element.get("manoeuvre")
    if not name:
        raise InputError(f"{where}: the attribute manoeuvre is required")
    manoeuvre = manoeuvre_named(name, where)
    ranges = dict(manoeuvre.defaults)
    for parameter in sorted(set(element.attrib) & set(PARAMETERS)):
        if parameter not in manoeuvre.defaults:
            raise InputError(f"{where}: manoeuvre {name} has no parameter '{parameter}' "
                             f"(its parameters: {', '.join(sorted(manoeuvre.defaults))})")
        value = parse_range(element.get(parameter, ""), f"{where} {parameter}")
        check_range(parameter, value, where)
        ranges[parameter] = value
    seed_text = element.get("seed", "0")
    if not seed_text.isdigit():
        raise InputError(f"{where}: seed='{seed_text}' is not a non-negative integer")
    actor = element.get("actor", "insert")
    if actor not in ACTOR_CHOICES:
        raise InputError(f"{where}: actor='{actor}' is not one of {', '.join(ACTOR_CHOICES)}")
    trigger = element.get("trigger", "distance")
    if trigger not in TRIGGER_KINDS:
        raise InputError(f"{where}: trigger='{trigger}' is not one of {', '.join(TRIGGER_KINDS)}")
    trigger_value = _number(element, "trigger_value", where, None, 0.0, 600.0)
    if trigger != "distance" and trigger_value is None:
        raise InputError(f"{where}: trigger='{trigger}' needs trigger_value (s)")
    return AdversarySpec(
        manoeuvre=manoeuvre, ranges=ranges, seed=int(seed_text), actor=actor,
        model=element.get("model", "vehicle.tesla.model3"), trigger=trigger, trigger_value=trigger_value or 0.0,
        start_offset=_number(element, "start_offset", where, None, -150.0, 150.0),
        cruise_speed=float(_number(element, "cruise_speed", where, 8.0, 0.0, 40.0)),
        keep_offset=_number(element, "keep_offset", where, None, -100.0, 100.0),
        patience=float(_number(element, "patience", where, 20.0, 0.0, 600.0)), where=where)


def scenario_element(config_file: str, scenario_name: str, tag: str) -> tuple[ET.Element, str]:
    """(the one `<tag>` element of the scenario called `scenario_name` in a configuration XML, where it is)."""
    try:
        root = ET.parse(config_file).getroot()
    except (ET.ParseError, OSError) as error:
        raise InputError(f"{config_file}: {error}") from None
    for scenario in root.iter("scenario"):
        if scenario.get("name") == scenario_name:
            elements = scenario.findall(tag)
            where = f"{config_file}: scenario '{scenario_name}' <{tag}>"
            if len(elements) != 1:
                raise InputError(f"{where}: expected exactly one <{tag}> element, found {len(elements)}")
            return elements[0], where
    raise InputError(f"{config_file}: no scenario named '{scenario_name}'")


def config_source_file(config: object, scenario_type: str) -> str:
    """The configuration XML a scenario config came from (an InputError when the scenario was not built from one)."""
    source = getattr(config, "source_file", "")
    if not source:
        raise InputError(f"scenario {getattr(config, 'name', '?')}: {scenario_type} needs its configuration file "
                         "(run it with recon-carla scenario --configFile)")
    return source


def adversary_spec_of(config_file: str, scenario_name: str) -> AdversarySpec:
    """The `<adversary>` of the scenario called `scenario_name` in a scenario configuration XML."""
    element, where = scenario_element(config_file, scenario_name, "adversary")
    return parse_adversary(element, where)
