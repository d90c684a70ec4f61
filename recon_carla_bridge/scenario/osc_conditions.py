"""OpenSCENARIO RelativeDistanceCondition with `freespace` and longitudinal/lateral distances.

srunner 0.9.11 only evaluates centre-to-centre cartesian distances and raises NotImplementedError
otherwise, while ScenarioRunner 0.9.16's examples use `relativeDistanceType="longitudinal"` with
`freespace="true"`. This adds those cases as a py_trees condition and leaves every other
condition to srunner.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Callable

import carla
import py_trees

from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.errors import InputError

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_trigger_conditions import AtomicCondition  # noqa: E402

DISTANCE_TYPES = ("cartesianDistance", "longitudinal", "lateral")


def relative_distance(reference: carla.Actor, actor: carla.Actor, distance_type: str, freespace: bool) -> float:
    """Distance of `actor` from `reference` in the reference's frame (metres).

    longitudinal / lateral: along the reference's forward / right axis; cartesian: Euclidean in the
    ground plane. With freespace the bounding boxes' extents along that direction are subtracted
    (never below 0).
    """
    ref_tf = CarlaDataProvider.get_transform(reference) or reference.get_transform()
    act_tf = CarlaDataProvider.get_transform(actor) or actor.get_transform()
    dx = act_tf.location.x - ref_tf.location.x
    dy = act_tf.location.y - ref_tf.location.y
    yaw = math.radians(ref_tf.rotation.yaw)
    forward, right = (math.cos(yaw), math.sin(yaw)), (-math.sin(yaw), math.cos(yaw))
    if distance_type == "longitudinal":
        direction = forward
    elif distance_type == "lateral":
        direction = right
    else:
        length = math.hypot(dx, dy)
        direction = (dx / length, dy / length) if length > 1e-9 else forward
    distance = abs(dx * direction[0] + dy * direction[1])
    if not freespace:
        return distance if distance_type != "cartesianDistance" else math.hypot(dx, dy)
    return max(0.0, distance - _extent_along(reference, ref_tf, direction) - _extent_along(actor, act_tf, direction))


def _extent_along(actor: carla.Actor, transform: carla.Transform, direction: tuple[float, float]) -> float:
    extent = actor.bounding_box.extent
    yaw = math.radians(transform.rotation.yaw)
    fx, fy = math.cos(yaw), math.sin(yaw)
    along_forward = abs(direction[0] * fx + direction[1] * fy)
    along_right = abs(-direction[0] * fy + direction[1] * fx)
    return extent.x * along_forward + extent.y * along_right


class InTriggerRelativeDistance(AtomicCondition):
    """SUCCESS once `rule(distance(reference, actor), value)` holds."""

    def __init__(self, reference_actor: carla.Actor, actor: carla.Actor, distance: float,
                 comparison: Callable[[float, float], bool], distance_type: str, freespace: bool,
                 name: str = "RelativeDistanceCondition"):
        super().__init__(name)
        self._reference_actor, self._actor = reference_actor, actor
        self._distance, self._comparison = distance, comparison
        self._distance_type, self._freespace = distance_type, freespace

    def update(self) -> py_trees.common.Status:
        """Check the condition this tick."""
        if not (self._actor.is_alive and self._reference_actor.is_alive):
            return py_trees.common.Status.RUNNING
        value = relative_distance(self._reference_actor, self._actor, self._distance_type, self._freespace)
        return py_trees.common.Status.SUCCESS if self._comparison(value, self._distance) else py_trees.common.Status.RUNNING


_RULES = {"greaterThan": operator.gt, "lessThan": operator.lt, "equalTo": operator.eq,
          "greaterOrEqual": operator.ge, "lessOrEqual": operator.le, "notEqualTo": operator.ne}


def install() -> None:
    """Wrap srunner's OpenScenarioParser.convert_condition_to_atomic (idempotent)."""
    from srunner.tools.openscenario_parser import OpenScenarioParser

    original = OpenScenarioParser.convert_condition_to_atomic
    if getattr(original, "_recon_relative_distance", False):
        return

    def convert(condition: Any, actor_list: Any) -> Any:
        by_entity = condition.find("ByEntityCondition")
        relative = by_entity.find("EntityCondition/RelativeDistanceCondition") if by_entity is not None else None
        if relative is None:
            return original(condition, actor_list)
        freespace = str(relative.attrib.get("freespace", "false")).lower() in ("true", "1")
        distance_type = relative.attrib.get("relativeDistanceType", "cartesianDistance")
        if not freespace and distance_type == "cartesianDistance":
            return original(condition, actor_list)
        if distance_type not in DISTANCE_TYPES:
            raise InputError(f"RelativeDistanceCondition '{condition.attrib.get('name', '')}': relativeDistanceType "
                             f"'{distance_type}' is not one of OpenSCENARIO 1.0's {', '.join(DISTANCE_TYPES)}")

        def by_role(role: str) -> carla.Actor:
            for actor in actor_list:
                if actor.attributes.get("role_name") == role:
                    return actor
            raise AttributeError(f"Cannot find actor '{role}' for condition")

        trigger_role = by_entity.find("TriggeringEntities/EntityRef").attrib.get("entityRef")
        rule = relative.attrib.get("rule")
        if rule not in _RULES:
            raise AttributeError(f"RelativeDistanceCondition: unknown rule '{rule}'")
        return InTriggerRelativeDistance(
            by_role(relative.attrib.get("entityRef")), by_role(trigger_role), float(relative.attrib.get("value")),
            _RULES[rule], distance_type, freespace, name=condition.attrib.get("name", "RelativeDistanceCondition"))

    convert._recon_relative_distance = True  # type: ignore[attr-defined]
    OpenScenarioParser.convert_condition_to_atomic = staticmethod(convert)
