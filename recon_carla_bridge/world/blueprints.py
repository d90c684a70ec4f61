"""Blueprints and the blueprint library, as `carla.ActorBlueprint` / `carla.BlueprintLibrary` subclasses."""
from __future__ import annotations

import difflib
import fnmatch
import functools
from typing import Iterator

import carla

from recon_carla_bridge.world.blueprint_catalog import PROPS, SENSORS, TRIGGERS, VEHICLES, WALKERS, PropSpec, VehicleSpec, WalkerSpec
from recon_carla_bridge.world.walker_ai import CONTROLLERS

_ATTRIBUTE_TYPES = {
    "bool": carla.ActorAttributeType.Bool,
    "int": carla.ActorAttributeType.Int,
    "float": carla.ActorAttributeType.Float,
    "string": carla.ActorAttributeType.String,
    "color": carla.ActorAttributeType.RGBColor,
}


class ActorAttribute:
    """One blueprint attribute with CARLA's accessors (`as_int`, `recommended_values`, …)."""

    def __init__(self, attr_id: str, type_name: str, value: str, recommended: tuple[str, ...], modifiable: bool):
        self._id = attr_id
        self._type_name = type_name
        self._value = value
        self._recommended = list(recommended)
        self._modifiable = modifiable

    @property
    def id(self) -> str:
        """Attribute name."""
        return self._id

    @property
    def type(self) -> carla.ActorAttributeType:
        """CARLA attribute type."""
        return _ATTRIBUTE_TYPES[self._type_name]

    @property
    def recommended_values(self) -> list[str]:
        """Values CARLA suggests for this attribute."""
        return list(self._recommended)

    @property
    def is_modifiable(self) -> bool:
        """Whether `set_attribute` may change it."""
        return self._modifiable

    def as_bool(self) -> bool:
        """Value as bool ('true'/'false')."""
        return self._value.strip().lower() in ("true", "1")

    def as_int(self) -> int:
        """Value as int."""
        return int(float(self._value))

    def as_float(self) -> float:
        """Value as float."""
        return float(self._value)

    def as_str(self) -> str:
        """Value as str."""
        return self._value

    def as_color(self) -> carla.Color:
        """Value 'r,g,b' as carla.Color."""
        r, g, b = (int(part) for part in self._value.split(","))
        return carla.Color(r, g, b)

    def _set(self, value: object) -> None:
        text = _format_value(value)
        _validate_value(self._id, self._type_name, text)
        self._value = text

    def __str__(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"ActorAttribute(id={self._id}, type={self._type_name}, value={self._value})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ActorAttribute):
            return self._value == other._value
        if isinstance(other, bool):
            return self.as_bool() == other
        if isinstance(other, int):
            return self.as_int() == other
        if isinstance(other, float):
            return self.as_float() == other
        if isinstance(other, str):
            return self._value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._id, self._value))

    def __bool__(self) -> bool:
        return self.as_bool() if self._type_name == "bool" else bool(self._value)

    def __int__(self) -> int:
        return self.as_int()

    def __float__(self) -> float:
        return self.as_float()


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, carla.Color):
        return f"{value.r},{value.g},{value.b}"
    return str(value)


def _validate_value(attr_id: str, type_name: str, text: str) -> None:
    try:
        if type_name == "int":
            int(float(text))
        elif type_name == "float":
            float(text)
        elif type_name == "bool" and text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(text)
        elif type_name == "color":
            parts = [int(p) for p in text.split(",")]
            if len(parts) != 3 or not all(0 <= p <= 255 for p in parts):
                raise ValueError(text)
    except ValueError:
        raise RuntimeError(f"invalid value {text!r} for blueprint attribute '{attr_id}' of type {type_name}") from None


class Blueprint(carla.ActorBlueprint):
    """A spawnable actor description: id, tags, attributes, and (ours) the physical spec behind it."""

    def __init__(self, bp_id: str, attributes: dict[str, ActorAttribute], spec: object | None = None):
        # carla.ActorBlueprint cannot be constructed from Python; its methods are all overridden here.
        self._bp_id = bp_id
        self._attributes = attributes
        self._spec = spec

    @property
    def id(self) -> str:
        """Blueprint id, e.g. 'vehicle.lincoln.mkz_2020'."""
        return self._bp_id

    @property
    def tags(self) -> list[str]:
        """Tags CARLA derives from the id (its dotted parts)."""
        return self._bp_id.split(".")

    @property
    def spec(self) -> object | None:
        """Our physical spec (VehicleSpec / WalkerSpec / PropSpec), None for sensors."""
        return self._spec

    def has_tag(self, tag: str) -> bool:
        """Whether `tag` is one of the tags."""
        return tag in self.tags

    def match_tags(self, wildcard_pattern: str) -> bool:
        """Whether the id or any tag matches the fnmatch pattern."""
        return fnmatch.fnmatchcase(self._bp_id, wildcard_pattern) or any(
            fnmatch.fnmatchcase(tag, wildcard_pattern) for tag in self.tags
        )

    def has_attribute(self, id: str) -> bool:  # noqa: A002 - CARLA's parameter name
        """Whether the blueprint has attribute `id`."""
        return id in self._attributes

    def get_attribute(self, id: str) -> ActorAttribute:  # noqa: A002
        """The attribute named `id`; IndexError (as CARLA) naming it when absent."""
        try:
            return self._attributes[id]
        except KeyError:
            raise IndexError(f"blueprint '{self._bp_id}' has no attribute '{id}'") from None

    def set_attribute(self, id: str, value: object) -> None:  # noqa: A002
        """Set a modifiable attribute; IndexError when unknown, RuntimeError when read-only or ill-typed."""
        attribute = self.get_attribute(id)
        if not attribute.is_modifiable:
            raise RuntimeError(f"attribute '{id}' of blueprint '{self._bp_id}' is not modifiable")
        attribute._set(value)

    def copy(self) -> "Blueprint":
        """An independent copy (spawning snapshots the attributes)."""
        attributes = {
            name: ActorAttribute(a._id, a._type_name, a._value, tuple(a._recommended), a._modifiable)
            for name, a in self._attributes.items()
        }
        return Blueprint(self._bp_id, attributes, self._spec)

    def __iter__(self) -> Iterator[ActorAttribute]:
        return iter(list(self._attributes.values()))

    def __len__(self) -> int:
        return len(self._attributes)

    def __str__(self) -> str:
        attrs = ", ".join(f"{a.id}={a.as_str()}" for a in self._attributes.values())
        return f"ActorBlueprint(id={self._bp_id},tags={self.tags},attributes=[{attrs}])"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Blueprint) and other._bp_id == self._bp_id

    def __hash__(self) -> int:
        return hash(self._bp_id)


class BlueprintLibrary(carla.BlueprintLibrary):
    """The set of blueprints, with CARLA's `find`, `filter`, `filter_by_attribute`.

    As in CARLA, the blueprints handed out (find, indexing, iteration) are copies: setting an
    attribute on one changes neither the library nor actors already spawned from it.
    """

    def __init__(self, blueprints: list[Blueprint]):
        self._blueprints = list(blueprints)
        self._by_id = {bp.id: bp for bp in self._blueprints}

    def find(self, id: str) -> Blueprint:  # noqa: A002
        """The blueprint with this exact id; IndexError naming it (and close matches) when unknown."""
        try:
            return self._by_id[id].copy()
        except KeyError:
            close = difflib.get_close_matches(str(id), list(self._by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise IndexError(f"blueprint '{id}' not found in the blueprint library{hint}") from None

    def filter(self, wildcard_pattern: str) -> "BlueprintLibrary":
        """Blueprints whose id or tags match the fnmatch pattern."""
        return BlueprintLibrary([bp for bp in self._blueprints if bp.match_tags(wildcard_pattern)])

    def filter_by_attribute(self, name: str, value: object) -> "BlueprintLibrary":
        """Blueprints that have attribute `name` equal to `value`."""
        return BlueprintLibrary(
            [bp for bp in self._blueprints if bp.has_attribute(name) and bp.get_attribute(name) == value]
        )

    def __getitem__(self, index: int) -> Blueprint:
        return self._blueprints[index].copy()

    def __len__(self) -> int:
        return len(self._blueprints)

    def __iter__(self) -> Iterator[Blueprint]:
        return iter([bp.copy() for bp in self._blueprints])

    def __contains__(self, item: object) -> bool:
        return isinstance(item, Blueprint) and item.id in self._by_id

    def __str__(self) -> str:
        return "BlueprintLibrary([" + ", ".join(bp.id for bp in self._blueprints) + "])"

    __repr__ = __str__


def _attr(attr_id: str, type_name: str, value: str, recommended: tuple[str, ...] = (), modifiable: bool = True) -> ActorAttribute:
    return ActorAttribute(attr_id, type_name, value, recommended, modifiable)


def _vehicle_blueprint(spec: VehicleSpec) -> Blueprint:
    attributes = [
        _attr("color", "color", spec.colors[0], spec.colors),
        _attr("role_name", "string", "autopilot", ("autopilot", "scenario", "ego_vehicle", "hero")),
        _attr("sticky_control", "bool", "true"),
        _attr("terramechanics", "bool", "false"),
        _attr("is_invincible", "bool", "true"),
        _attr("object_type", "string", "", modifiable=False),
        _attr("base_type", "string", spec.base_type, modifiable=False),
        _attr("special_type", "string", spec.special_type, modifiable=False),
        _attr("has_dynamic_doors", "bool", "false", modifiable=False),
        _attr("has_lights", "bool", "true", modifiable=False),
        _attr("number_of_wheels", "int", str(spec.number_of_wheels), modifiable=False),
        _attr("generation", "int", str(spec.generation), modifiable=False),
    ]
    return Blueprint(spec.blueprint_id, {a.id: a for a in attributes}, spec)


def _walker_blueprint(spec: WalkerSpec) -> Blueprint:
    attributes = [
        _attr("role_name", "string", "walker"),
        _attr("is_invincible", "bool", "false"),
        _attr("speed", "float", f"{spec.walk_speed}", (f"{spec.walk_speed}", f"{spec.run_speed}")),
        _attr("gender", "string", spec.gender, modifiable=False),
        _attr("age", "string", spec.age, modifiable=False),
        _attr("generation", "int", "2", modifiable=False),
        _attr("can_use_wheelchair", "bool", "false", modifiable=False),
    ]
    return Blueprint(spec.blueprint_id, {a.id: a for a in attributes}, spec)


def _prop_blueprint(spec: PropSpec) -> Blueprint:
    attributes = [
        _attr("role_name", "string", "prop"),
        _attr("size", "string", "medium", modifiable=False),
    ]
    return Blueprint(spec.blueprint_id, {a.id: a for a in attributes}, spec)


def _attribute_blueprint(bp_id: str, table: dict[str, tuple[str, str, tuple[str, ...], bool]]) -> Blueprint:
    attributes = {
        name: _attr(name, type_name, default, recommended, modifiable)
        for name, (type_name, default, recommended, modifiable) in table.items()
    }
    return Blueprint(bp_id, attributes, None)


def build_blueprint_library() -> BlueprintLibrary:
    """The full library: vehicles, walkers, static props and sensors, in CARLA's id order. Every world gets its
    own library over the same blueprints, built once per process: a library hands out copies only (find,
    indexing, iteration), so nobody can change the blueprints it holds."""
    return BlueprintLibrary(_library_blueprints())


@functools.lru_cache(maxsize=1)
def _library_blueprints() -> tuple[Blueprint, ...]:
    blueprints = [_vehicle_blueprint(s) for s in VEHICLES]
    blueprints += [_walker_blueprint(s) for s in WALKERS]
    blueprints += [_prop_blueprint(s) for s in PROPS]
    blueprints += [_attribute_blueprint(s, table) for s, table in SENSORS.items()]
    blueprints += [_attribute_blueprint(t, table) for t, table in TRIGGERS.items()]
    blueprints += [_attribute_blueprint(c, table) for c, table in CONTROLLERS.items()]
    blueprints.sort(key=lambda bp: bp.id)
    return tuple(blueprints)
