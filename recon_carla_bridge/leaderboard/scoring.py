"""Leaderboard 2.0 scoring: route records, global record, values/labels and entry status.

Penalty factors (multiplied per infraction): pedestrian collision 0.5, vehicle 0.6, static 0.65, red light 0.7,
stop sign 0.8, scenario timeout 0.7, failing to yield to an emergency vehicle 0.7. Percentage penalties:
outside route lanes multiplies by (1 − pct/100), each min-speed checkpoint by 1 − 0.3·(1 − pct/100).
Route deviation, agent blocked and route timeout end the route. Route score = RC × penalty; global = mean over
the total number of routes; infractions are also given per km driven (Σ route length × RC).
The JSON layout (key names, rounding, message parsing) is that of leaderboard 2.0's statistics manager.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from recon_carla_bridge.leaderboard.events import TrafficEvent, TrafficEventType

PENALTY_VALUE_DICT: dict[TrafficEventType, float] = {
    TrafficEventType.COLLISION_PEDESTRIAN: 0.5,
    TrafficEventType.COLLISION_VEHICLE: 0.6,
    TrafficEventType.COLLISION_STATIC: 0.65,
    TrafficEventType.TRAFFIC_LIGHT_INFRACTION: 0.7,
    TrafficEventType.STOP_INFRACTION: 0.8,
    TrafficEventType.SCENARIO_TIMEOUT: 0.7,
    TrafficEventType.YIELD_TO_EMERGENCY_VEHICLE: 0.7,
}
# (penalty per unit, direction): 'increases' — a higher percentage is worse; 'decreases' — 100 is ideal.
PENALTY_PERC_DICT: dict[TrafficEventType, tuple[float, str]] = {
    TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION: (0.0, "increases"),
    TrafficEventType.MIN_SPEED_INFRACTION: (0.7, "decreases"),
}
PENALTY_NAME_DICT: dict[TrafficEventType, str] = {
    TrafficEventType.COLLISION_STATIC: "collisions_layout",
    TrafficEventType.COLLISION_PEDESTRIAN: "collisions_pedestrian",
    TrafficEventType.COLLISION_VEHICLE: "collisions_vehicle",
    TrafficEventType.TRAFFIC_LIGHT_INFRACTION: "red_light",
    TrafficEventType.STOP_INFRACTION: "stop_infraction",
    TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION: "outside_route_lanes",
    TrafficEventType.MIN_SPEED_INFRACTION: "min_speed_infractions",
    TrafficEventType.YIELD_TO_EMERGENCY_VEHICLE: "yield_emergency_vehicle_infractions",
    TrafficEventType.SCENARIO_TIMEOUT: "scenario_timeouts",
    TrafficEventType.ROUTE_DEVIATION: "route_dev",
    TrafficEventType.VEHICLE_BLOCKED: "vehicle_blocked",
}
ENTRY_STATUS_VALUES = ("Started", "Finished", "Rejected", "Crashed", "Invalid")
ELIGIBLE_VALUES = {"Started": False, "Finished": True, "Rejected": False, "Crashed": False, "Invalid": False}
# Failure kind → (entry status, route status message).
FAILURE_MESSAGES = {
    "Simulation": ("Crashed", "Simulation crashed"),
    "Sensors": ("Rejected", "Agent's sensors were invalid"),
    "Agent_init": ("Started", "Agent couldn't be set up"),
    "Agent_runtime": ("Started", "Agent crashed"),
}
GLOBAL_LABELS = (
    "Avg. driving score", "Avg. route completion", "Avg. infraction penalty", "Collisions with pedestrians",
    "Collisions with vehicles", "Collisions with layout", "Red lights infractions", "Stop sign infractions",
    "Off-road infractions", "Route deviations", "Route timeouts", "Agent blocked",
    "Yield emergency vehicles infractions", "Scenario timeouts", "Min speed infractions",
)
ROUND_DIGITS = 3
ROUND_DIGITS_SCORE = 6


def empty_infractions() -> dict[str, list[str]]:
    """Every infraction name of a route record, each with no messages."""
    infractions: dict[str, list[str]] = {name: [] for name in PENALTY_NAME_DICT.values()}
    infractions["route_timeout"] = []
    return infractions


def new_route_record(route_id: str, index: int = -1) -> dict[str, Any]:
    """A route record with status 'Started', written before a route runs so a crash still leaves a trace."""
    return {
        "index": index,
        "route_id": route_id,
        "status": "Started",
        "num_infractions": 0,
        "infractions": empty_infractions(),
        "scores": {"score_route": 0, "score_penalty": 0, "score_composed": 0},
        "meta": {"route_length": 0, "duration_game": 0, "duration_system": 0},
    }


def _percentage_penalty(event: TrafficEvent) -> float:
    value, direction = PENALTY_PERC_DICT[event.type]
    percentage = float(event.data["percentage"])
    if direction == "decreases":
        return 1.0 - (1.0 - value) * (1.0 - percentage / 100.0)
    return 1.0 - (1.0 - value) * percentage / 100.0


@dataclass(frozen=True)
class RouteOutcome:
    """What one route run produced, as input to `score_route`.

    Fields:
        events: every traffic event of the route, in the order the criteria raised them.
        route_length: length of the interpolated route (m).
        duration_game: simulated seconds driven.
        duration_system: wall-clock seconds the route took.
        route_timeout: whether the route's time budget ran out.
        failure_message: why the run stopped early ('' when it ran to its end); e.g. 'Agent crashed'.
    """

    events: tuple[TrafficEvent, ...]
    route_length: float
    duration_game: float
    duration_system: float
    route_timeout: bool = False
    failure_message: str = ""


def score_route(record: dict[str, Any], outcome: RouteOutcome, index: int) -> dict[str, Any]:
    """Fill `record` (from `new_route_record`) with infractions, scores, status and meta; returns it."""
    record["index"] = index
    infractions = record.setdefault("infractions", empty_infractions())
    for name in PENALTY_NAME_DICT.values():
        infractions[name] = []
    infractions.setdefault("route_timeout", [])
    details: dict[str, list[dict[str, Any]]] = {}
    failure_message = outcome.failure_message
    score_penalty, score_route_value, target_reached = 1.0, 0.0, False

    record["meta"]["route_length"] = round(outcome.route_length, ROUND_DIGITS)
    record["meta"]["duration_game"] = round(outcome.duration_game, ROUND_DIGITS)
    record["meta"]["duration_system"] = round(outcome.duration_system, ROUND_DIGITS)
    if outcome.route_timeout:
        infractions["route_timeout"].append("Route timeout.")
        failure_message = "Agent timed out"

    for event in outcome.events:
        if event.type == TrafficEventType.ROUTE_COMPLETION:
            score_route_value = float(event.data["route_completed"])
            target_reached = score_route_value >= 100
            continue
        if event.type in PENALTY_VALUE_DICT:
            score_penalty *= PENALTY_VALUE_DICT[event.type]
        elif event.type in PENALTY_PERC_DICT:
            score_penalty *= _percentage_penalty(event)
        elif event.type == TrafficEventType.ROUTE_DEVIATION:
            failure_message = "Agent deviated from the route"
        elif event.type == TrafficEventType.VEHICLE_BLOCKED:
            failure_message = "Agent got blocked"
        name = PENALTY_NAME_DICT[event.type]
        infractions[name].append(event.message)
        detail: dict[str, Any] = {"frame": event.frame, "message": event.message}
        if event.location is not None:
            detail["x"], detail["y"], detail["z"] = event.location
        details.setdefault(name, []).append(detail)

    record["scores"] = {
        "score_route": round(score_route_value, ROUND_DIGITS_SCORE),
        "score_penalty": round(score_penalty, ROUND_DIGITS_SCORE),
        "score_composed": round(max(score_route_value * score_penalty, 0.0), ROUND_DIGITS_SCORE),
    }
    record["num_infractions"] = sum(len(messages) for messages in infractions.values())
    if target_reached:
        record["status"] = "Completed" if record["num_infractions"] > 0 else "Perfect"
    else:
        record["status"] = "Failed" + (" - " + failure_message if failure_message else "")
    record["infraction_details"] = details
    return record


def _infraction_value(record: dict[str, Any], key: str) -> float:
    """Count of an infraction; for outside-route-lanes the km driven outside, parsed from its message."""
    messages = record["infractions"].get(key, [])
    if key == PENALTY_NAME_DICT[TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION]:
        if not messages:
            return 0.0
        return float(messages[0].split(" ")[8]) / 1000.0
    return float(len(messages))


def global_record(records: Sequence[dict[str, Any]], total_routes: int) -> dict[str, Any]:
    """The leaderboard's global record over finished route records (`total_routes` divides the means)."""
    total = max(int(total_routes), 1)
    infractions: dict[str, float] = {name: 0 for name in PENALTY_NAME_DICT.values()}
    infractions["route_timeout"] = 0
    scores_mean = {"score_composed": 0.0, "score_route": 0.0, "score_penalty": 0.0}
    meta: dict[str, Any] = {"total_length": 0, "duration_game": 0, "duration_system": 0, "exceptions": []}
    status = "Perfect"
    for record in records:
        for key in scores_mean:
            scores_mean[key] += record["scores"][key] / total
        meta["total_length"] += record["meta"]["route_length"]
        meta["duration_game"] += record["meta"]["duration_game"]
        meta["duration_system"] += record["meta"]["duration_system"]
        route_result = "Failed" if "Failed" in record["status"] else record["status"]
        if route_result == "Failed":
            meta["exceptions"].append((record["route_id"], record["index"], record["status"]))
            status = "Failed"
        elif status == "Perfect" and route_result != "Perfect":
            status = route_result
    scores_mean = {key: round(value, ROUND_DIGITS_SCORE) for key, value in scores_mean.items()}

    scores_std_dev = {key: 0.0 for key in scores_mean}
    if total > 1:
        for record in records:
            for key in scores_std_dev:
                scores_std_dev[key] += (record["scores"][key] - scores_mean[key]) ** 2
        scores_std_dev = {key: round(math.sqrt(value / float(total - 1)), ROUND_DIGITS)
                          for key, value in scores_std_dev.items()}

    km_driven = 0.0
    for record in records:
        km_driven += record["meta"]["route_length"] / 1000.0 * record["scores"]["score_route"] / 100.0
        for key in infractions:
            infractions[key] += _infraction_value(record, key)
    km_driven = max(km_driven, 0.001)
    outside = PENALTY_NAME_DICT[TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION]
    for key in infractions:
        if key != outside:
            infractions[key] /= km_driven
        infractions[key] = round(infractions[key], ROUND_DIGITS)

    return {
        "index": -1,
        "route_id": -1,
        "status": status,
        "infractions": infractions,
        "scores_mean": scores_mean,
        "scores_std_dev": scores_std_dev,
        "meta": meta,
    }


def global_values(record: dict[str, Any]) -> list[str]:
    """The leaderboard's `values` list (strings, in the order of `GLOBAL_LABELS`)."""
    inf = record["infractions"]
    names = PENALTY_NAME_DICT
    return [str(v) for v in (
        record["scores_mean"]["score_composed"], record["scores_mean"]["score_route"],
        record["scores_mean"]["score_penalty"],
        inf[names[TrafficEventType.COLLISION_PEDESTRIAN]], inf[names[TrafficEventType.COLLISION_VEHICLE]],
        inf[names[TrafficEventType.COLLISION_STATIC]], inf[names[TrafficEventType.TRAFFIC_LIGHT_INFRACTION]],
        inf[names[TrafficEventType.STOP_INFRACTION]], inf[names[TrafficEventType.OUTSIDE_ROUTE_LANES_INFRACTION]],
        inf[names[TrafficEventType.ROUTE_DEVIATION]], inf["route_timeout"],
        inf[names[TrafficEventType.VEHICLE_BLOCKED]], inf[names[TrafficEventType.YIELD_TO_EMERGENCY_VEHICLE]],
        inf[names[TrafficEventType.SCENARIO_TIMEOUT]], inf[names[TrafficEventType.MIN_SPEED_INFRACTION]],
    )]


def entry_status_of(records: Iterable[dict[str, Any]]) -> str:
    """'Finished', or 'Crashed' / 'Rejected' when a route's status says the simulation or the sensors failed."""
    status = "Finished"
    for record in records:
        if "Simulation crashed" in record["status"]:
            status = "Crashed"
        elif "Agent's sensors were invalid" in record["status"]:
            status = "Rejected"
    return status
