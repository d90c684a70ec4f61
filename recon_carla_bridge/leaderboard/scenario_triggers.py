"""Which scenarios happen on a route: leaderboard 1.0 trigger matching and sampling, 2.0 filtering.

1.0: a trigger of the JSON belongs to the route when some route point is within 2 m (3D) and 10° of yaw of it;
Scenario4/7/8/9 take a variant from the first turn after the trigger (or are dropped when the route does not
turn the right way); triggers closer than 2 m / 10° are merged; one scenario per trigger is sampled with
`numpy.random.RandomState(seed)`, skipping choices whose positions another sampled scenario already uses.
2.0: a scenario is kept when its trigger is within 2 m (xy, and |dz| < 2 m) and 10° of a route point.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from recon_carla_bridge.leaderboard.routes import Pose, ScenarioSpec

TRIGGER_THRESHOLD = 2.0  # m
TRIGGER_ANGLE_THRESHOLD = 10.0  # degrees
# RoadOption codes.
LEFT, RIGHT, STRAIGHT, LANEFOLLOW, CHANGELANELEFT, CHANGELANERIGHT = 1, 2, 3, 4, 5, 6


def _yaw_close(a: float, b: float) -> bool:
    d = (a - b) % 360.0
    return d < TRIGGER_ANGLE_THRESHOLD or d > 360.0 - TRIGGER_ANGLE_THRESHOLD


def _code(option: Any) -> int:
    return int(getattr(option, "value", option))


def _pose_of(transform_dict: dict[str, Any]) -> Pose:
    return Pose(float(transform_dict["x"]), float(transform_dict["y"]), float(transform_dict["z"]),
                float(transform_dict["yaw"]))


def match_trigger(trigger: Pose, route: Sequence[tuple[Any, Any]]) -> int | None:
    """Index of the first route point within 2 m (3D) and 10° of the trigger (1.0 rule), else None."""
    for index, (transform, _) in enumerate(route):
        loc = transform.location
        distance = math.sqrt((trigger.x - loc.x) ** 2 + (trigger.y - loc.y) ** 2 + (trigger.z - loc.z) ** 2)
        if distance < TRIGGER_THRESHOLD and _yaw_close(trigger.yaw, transform.rotation.yaw):
            return index
    return None


def scenario_subtype(scenario_type: str, match_position: int, route: Sequence[tuple[Any, Any]]) -> str | None:
    """The 1.0 variant tag of a scenario at `match_position`, or None when the route does not fit it."""
    wanted = {
        "Scenario4": {LEFT: "S4left", RIGHT: "S4right"},
        "Scenario7": {LEFT: "S7left", RIGHT: "S7right", STRAIGHT: "S7opposite"},
        "Scenario8": {LEFT: "S8left"},
        "Scenario9": {RIGHT: "S9right"},
    }.get(scenario_type)
    if wanted is None:
        return "valid"
    for _, option in route[match_position:]:
        code = _code(option)
        if code in (LANEFOLLOW, CHANGELANELEFT, CHANGELANERIGHT):
            continue
        return wanted.get(code)
    return None


def scan_route_for_scenarios(town: str, route: Sequence[tuple[Any, Any]],
                             annotations: dict[str, list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Possible scenarios per merged trigger position, in trigger order (1.0 `scan_route_for_scenarios`)."""
    triggers: list[Pose] = []
    possible: list[list[dict[str, Any]]] = []
    for scenario in annotations.get(town, []):
        name = scenario["scenario_type"]
        for event in scenario["available_event_configurations"]:
            trigger = _pose_of(event["transform"])
            position = match_trigger(trigger, route)
            if position is None:
                continue
            subtype = scenario_subtype(name, position, route)
            if subtype is None:
                continue
            description = {"name": name, "other_actors": event.get("other_actors"),
                           "trigger_position": trigger, "scenario_type": subtype}
            for k, existing in enumerate(triggers):
                if math.hypot(existing.x - trigger.x, existing.y - trigger.y) < TRIGGER_THRESHOLD \
                        and _yaw_close(existing.yaw, trigger.yaw):
                    possible[k].append(description)
                    break
            else:
                triggers.append(trigger)
                possible.append([description])
    return possible


def _positions(description: dict[str, Any]) -> list[Pose]:
    positions = [description["trigger_position"]]
    for side in ("left", "front", "right"):
        for actor in (description["other_actors"] or {}).get(side, []):
            positions.append(_pose_of(actor))
    return positions


def _same_place(a: dict[str, Any], b: dict[str, Any]) -> bool:
    for pa in _positions(a):
        for pb in _positions(b):
            if math.hypot(pa.x - pb.x, pa.y - pb.y) < TRIGGER_THRESHOLD and _yaw_close(pa.yaw, pb.yaw):
                return True
    return False


def sample_scenarios(possible: list[list[dict[str, Any]]], seed: int = 0) -> list[ScenarioSpec]:
    """One scenario per trigger, sampled reproducibly like leaderboard 1.0's route scenario."""
    rng = np.random.RandomState(seed)
    sampled: list[dict[str, Any]] = []
    for candidates in possible:
        candidates = list(candidates)
        choice = candidates.pop(int(rng.randint(len(candidates))))
        while any(_same_place(choice, other) for other in sampled):
            if not candidates:
                choice = None
                break
            choice = candidates.pop(int(rng.randint(len(candidates))))
        if choice is not None:
            sampled.append(choice)
    return [ScenarioSpec(name=f"{d['name']}_{k}", type=d["name"], trigger=d["trigger_position"],
                         other_actors=d["other_actors"], subtype=d["scenario_type"]) for k, d in enumerate(sampled)]


def scenario_on_route(trigger: Pose, route: Sequence[tuple[Any, Any]]) -> bool:
    """2.0 rule: a route point within 2 m in xy, |dz| < 2 m and 10° of yaw of the trigger."""
    for transform, _ in route:
        loc = transform.location
        if (math.hypot(trigger.x - loc.x, trigger.y - loc.y) < TRIGGER_THRESHOLD
                and (trigger.z - loc.z) < TRIGGER_THRESHOLD and _yaw_close(trigger.yaw, transform.rotation.yaw)):
            return True
    return False
