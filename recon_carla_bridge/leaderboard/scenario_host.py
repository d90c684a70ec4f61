"""Scenarios of a route, instantiated at their triggers with the real ScenarioRunner (srunner 0.9.11) code.

Leaderboard 1.0 numbers map to srunner's classes as its route scenario does (Scenario1 ControlLoss, …,
Scenario10 NoSignalJunctionCrossingRoute); leaderboard 2.0 types are looked up by class name in srunner's
scenario modules. Behaviours are gated by srunner's `ScenarioTriggerer` and ticked once per world tick.
A scenario that cannot be built is skipped with its reason (as the leaderboard does); a type srunner 0.9.11
lacks is named and counted on the console and in the results. One whose behaviour fails while running stops
the scenarios of the route, not the route.

The scenario objects are kept for as long as the route runs, as the leaderboard's RouteScenario keeps its
`list_scenarios`: srunner's scenario classes destroy their actors in `__del__`, so dropping an object would
remove its cyclist or pedestrian as soon as it was spawned. `close()` removes them when the route ends.
"""
from __future__ import annotations

import importlib
import inspect
import math
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any

import carla

from recon_carla_bridge.leaderboard.planning import PlannedRoute

V1_CLASSES = {
    "Scenario1": ("control_loss", "ControlLoss"), "Scenario2": ("follow_leading_vehicle", "FollowLeadingVehicle"),
    "Scenario3": ("object_crash_vehicle", "DynamicObjectCrossing"),
    "Scenario4": ("object_crash_intersection", "VehicleTurningRoute"),
    "Scenario5": ("other_leading_vehicle", "OtherLeadingVehicle"),
    "Scenario6": ("maneuver_opposite_direction", "ManeuverOppositeDirection"),
    "Scenario7": ("junction_crossing_route", "SignalJunctionCrossingRoute"),
    "Scenario8": ("junction_crossing_route", "SignalJunctionCrossingRoute"),
    "Scenario9": ("junction_crossing_route", "SignalJunctionCrossingRoute"),
    "Scenario10": ("junction_crossing_route", "NoSignalJunctionCrossingRoute"),
}
V2_MODULES = ("control_loss", "follow_leading_vehicle", "object_crash_vehicle", "object_crash_intersection",
              "other_leading_vehicle", "maneuver_opposite_direction", "junction_crossing_route", "cut_in",
              "change_lane", "no_signal_junction_crossing", "opposite_vehicle_taking_priority",
              "signalized_junction_left_turn", "signalized_junction_right_turn", "construction_crash_vehicle")
TRIGGER_DISTANCE = 1.5  # m, srunner 0.9.11 route scenario's trigger distance


class MissingScenarioType(LookupError):
    """srunner 0.9.11 has no class for a route's scenario type."""


@dataclass
class ScenarioActorTrack:
    """What one scenario actor did: how close it came to the ego, and whether it moved.

    Fields:
        scenario: the scenario instance name that spawned it.
        type_id: its blueprint id.
        closest: smallest centre distance to the ego (m) while it existed.
        speed_at_closest: its speed (m/s) at that moment.
        max_speed: its highest speed (m/s).
        alive: whether it still existed at the last tick.
    """

    scenario: str
    type_id: str
    closest: float = math.inf
    speed_at_closest: float = 0.0
    max_speed: float = 0.0
    alive: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (distances rounded to cm)."""
        return {"scenario": self.scenario, "type_id": self.type_id,
                "closest_m": round(self.closest, 2) if math.isfinite(self.closest) else None,
                "speed_at_closest": round(self.speed_at_closest, 2), "max_speed": round(self.max_speed, 2),
                "alive": self.alive}


def _scenario_class(kind: str) -> Any:
    if kind in V1_CLASSES:
        module, name = V1_CLASSES[kind]
        return getattr(importlib.import_module(f"srunner.scenarios.{module}"), name)
    for module in V2_MODULES:
        candidate = getattr(importlib.import_module(f"srunner.scenarios.{module}"), kind, None)
        if inspect.isclass(candidate):
            return candidate
    raise MissingScenarioType(f"srunner 0.9.11 has no scenario class '{kind}'")


def _configuration(spec: Any, number: int, ego: Any, configuration_class: type, actor_class: type) -> Any:
    """srunner's ScenarioConfiguration of one route scenario, as the leaderboard's RouteScenario builds it."""
    config = configuration_class()
    config.trigger_points = [carla.Transform(carla.Location(spec.trigger.x, spec.trigger.y, spec.trigger.z),
                                             carla.Rotation(yaw=spec.trigger.yaw))]
    config.subtype = spec.subtype or "valid"
    config.other_actors = []
    for side in ("front", "left", "right"):
        for actor in (spec.other_actors or {}).get(side, []):
            transform = carla.Transform(carla.Location(float(actor["x"]), float(actor["y"]), float(actor["z"])),
                                        carla.Rotation(yaw=float(actor["yaw"])))
            config.other_actors.append(actor_class("vehicle.*", transform, "scenario"))
    config.ego_vehicles = [actor_class(ego.type_id, ego.get_transform(), "hero")]
    config.route_var_name = f"ScenarioRouteNumber{number}"
    config.other_parameters = dict(spec.parameters)
    return config


class ScenarioHost:
    """Builds a route's scenarios and ticks their behaviour tree."""

    def __init__(self, world: Any, ego: Any, planned: PlannedRoute, timeout: float = 10000.0) -> None:
        """Instantiate every scenario of `planned` next to `ego` (none when the route has none)."""
        self.tree: Any = None
        self.ego = ego
        self.built: list[str] = []
        self.skipped: dict[str, str] = {}
        self.missing_types: Counter[str] = Counter()
        self.stopped = ""
        self.instances: list[Any] = []  # kept alive: their __del__ destroys their actors
        self.tracks: dict[int, tuple[Any, ScenarioActorTrack]] = {}
        self._trigger_vars: dict[str, str] = {}
        self.triggered: list[str] = []
        if not planned.scenarios:
            return
        from recon_carla_bridge.compat_imports import install_srunner_alias

        install_srunner_alias()
        import py_trees
        from srunner.scenarioconfigs.scenario_configuration import (
            ActorConfigurationData,
            ScenarioConfiguration,
        )
        from srunner.scenariomanager.carla_data_provider import CarlaDataProvider
        from srunner.scenariomanager.scenarioatomics.atomic_behaviors import (
            Idle,
            ScenarioTriggerer,
        )
        from srunner.scenariomanager.timer import GameTime

        # srunner's clock is process-wide and only moves forward with frame numbers: the previous route's last
        # frame would freeze it in this route's fresh world (timeouts of behaviours then depended on the routes
        # run before). The leaderboard restarts it for every route too.
        GameTime.restart()
        self._provider = CarlaDataProvider
        behaviours, blackboard = [], []
        for number, spec in enumerate(planned.scenarios):
            try:
                config = _configuration(spec, number, ego, ScenarioConfiguration, ActorConfigurationData)
                instance = _scenario_class(spec.type)(world, [ego], config, criteria_enable=False, timeout=timeout)
            except MissingScenarioType as error:
                self.missing_types[spec.type] += 1
                self.skipped[spec.name] = str(error)
                continue
            except Exception as error:  # noqa: BLE001 — leaderboard: skip a scenario that cannot be set up
                self.skipped[spec.name] = f"{type(error).__name__}: {error}"
                continue
            self.instances.append(instance)
            for actor in instance.other_actors:
                if actor is not None:
                    self.tracks[actor.id] = (actor, ScenarioActorTrack(spec.name, actor.type_id))
            behaviour = instance.scenario.behavior
            if behaviour is not None:
                behaviours.append(behaviour)
                blackboard.append([config.route_var_name, config.trigger_points[0].location])
                self._trigger_vars[spec.name] = config.route_var_name
            self.built.append(spec.name)
        self._announce(len(planned.scenarios))
        if not behaviours:
            return
        # py_trees' blackboard is global: a previous route's "triggered" flags under the same names would fire
        # these scenarios at once (srunner's ScenarioTriggerer never resets them).
        board = py_trees.blackboard.Blackboard()
        for variable, _ in blackboard:
            board.set(variable, False, overwrite=True)
        root = py_trees.composites.Parallel(name="Route scenarios",
                                            policy=py_trees.common.ParallelPolicy.SUCCESS_ON_ALL)
        root.add_child(ScenarioTriggerer(ego, planned.route, blackboard, TRIGGER_DISTANCE, repeat_scenarios=False))
        root.add_children(behaviours)
        root.add_child(Idle())
        self.tree = root
        self.tree.setup(timeout=15)

    def _announce(self, total: int) -> None:
        """Say on the console what was built, and name the types srunner 0.9.11 lacks."""
        actors = Counter(track.type_id.split(".")[0] for _, track in self.tracks.values())
        spawned = ", ".join(f"{count} {kind}" for kind, count in sorted(actors.items())) or "no actors"
        print(f"scenarios: {len(self.built)} of {total} built ({spawned})", flush=True)
        if self.missing_types:
            names = ", ".join(f"{name} x{count}" for name, count in sorted(self.missing_types.items()))
            print(f"scenarios: {sum(self.missing_types.values())} skipped, srunner 0.9.11 has no class for: {names}",
                  flush=True)
        other = {name: reason for name, reason in self.skipped.items() if "has no scenario class" not in reason}
        for name, reason in other.items():
            print(f"scenarios: {name} could not be set up: {reason}", flush=True)

    def tick(self, snapshot: Any) -> None:
        """Advance the scenario behaviours one step (srunner's clock and actor caches first), then follow actors."""
        if self.tree is not None:
            from srunner.scenariomanager.timer import GameTime

            try:
                self._provider.on_carla_tick()
                GameTime.on_carla_tick(snapshot.timestamp)
                self.tree.tick_once()
            except Exception as error:  # noqa: BLE001 — a failing behaviour stops the scenarios, not the route
                self.stopped = f"{type(error).__name__}: {error}"
                traceback.print_exc()
                self.tree = None
            self._note_triggers()
        self._follow_actors()

    def _note_triggers(self) -> None:
        import py_trees

        blackboard = py_trees.blackboard.Blackboard()
        for name, variable in self._trigger_vars.items():
            if name not in self.triggered and blackboard.get(variable):
                self.triggered.append(name)

    def _follow_actors(self) -> None:
        if not self.tracks:
            return
        ego_location = self.ego.get_location()
        for actor, track in self.tracks.values():
            if not track.alive:
                continue
            if not actor.is_alive:
                track.alive = False
                continue
            distance = actor.get_location().distance(ego_location)
            speed = actor.get_velocity().length()
            track.max_speed = max(track.max_speed, speed)
            if distance < track.closest:
                track.closest, track.speed_at_closest = distance, speed

    def close(self) -> None:
        """Remove the scenarios' actors (srunner's `remove_all_actors`) and drop the scenario objects."""
        for instance in self.instances:
            try:
                instance.remove_all_actors()
            except Exception:  # noqa: BLE001 — an actor already gone must not hide the route's result
                traceback.print_exc()
        self.instances.clear()
        self.tree = None
        if self._trigger_vars:
            import py_trees

            board = py_trees.blackboard.Blackboard()
            for variable in self._trigger_vars.values():
                board.set(variable, False, overwrite=True)

    def summary(self) -> dict[str, Any]:
        """Which scenarios ran, which were skipped and why (with the missing srunner types counted), which
        triggered, what their actors did, and whether they stopped early."""
        return {"built": list(self.built), "skipped": dict(self.skipped),
                "missing_types": dict(sorted(self.missing_types.items())),
                "missing_count": sum(self.missing_types.values()),
                "triggered": list(self.triggered),
                "actors": [track.as_dict() for _, track in self.tracks.values()],
                "stopped": self.stopped}
