"""Scenarios of a route, instantiated at their triggers with the real ScenarioRunner (srunner 0.9.11) code.

Leaderboard 1.0 numbers map to srunner's classes as its route scenario does (Scenario1 ControlLoss, …,
Scenario10 NoSignalJunctionCrossingRoute); leaderboard 2.0 types are looked up by class name in srunner's
scenario modules. Behaviours are gated by srunner's `ScenarioTriggerer` and ticked once per world tick.
A scenario that cannot be built is skipped with its reason (as the leaderboard does); one whose behaviour
fails while running stops the scenarios of the route, not the route.
"""
from __future__ import annotations

import importlib
import inspect
import traceback
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


def _scenario_class(kind: str) -> Any:
    if kind in V1_CLASSES:
        module, name = V1_CLASSES[kind]
        return getattr(importlib.import_module(f"srunner.scenarios.{module}"), name)
    for module in V2_MODULES:
        candidate = getattr(importlib.import_module(f"srunner.scenarios.{module}"), kind, None)
        if inspect.isclass(candidate):
            return candidate
    raise LookupError(f"srunner 0.9.11 has no scenario class '{kind}'")


class ScenarioHost:
    """Builds a route's scenarios and ticks their behaviour tree."""

    def __init__(self, world: Any, ego: Any, planned: PlannedRoute, timeout: float = 10000.0) -> None:
        """Instantiate every scenario of `planned` next to `ego` (none when the route has none)."""
        self.tree: Any = None
        self.built: list[str] = []
        self.skipped: dict[str, str] = {}
        self.stopped = ""
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

        self._provider = CarlaDataProvider
        behaviours, blackboard = [], []
        for number, spec in enumerate(planned.scenarios):
            try:
                config = ScenarioConfiguration()
                trigger = carla.Transform(carla.Location(spec.trigger.x, spec.trigger.y, spec.trigger.z),
                                          carla.Rotation(yaw=spec.trigger.yaw))
                config.trigger_points = [trigger]
                config.subtype = spec.subtype or "valid"
                config.other_actors = []
                for side in ("front", "left", "right"):
                    for actor in (spec.other_actors or {}).get(side, []):
                        config.other_actors.append(ActorConfigurationData(
                            "vehicle.*", carla.Transform(carla.Location(float(actor["x"]), float(actor["y"]),
                                                                        float(actor["z"])),
                                                         carla.Rotation(yaw=float(actor["yaw"]))), "scenario"))
                config.ego_vehicles = [ActorConfigurationData(ego.type_id, ego.get_transform(), "hero")]
                config.route_var_name = f"ScenarioRouteNumber{number}"
                config.other_parameters = dict(spec.parameters)
                instance = _scenario_class(spec.type)(world, [ego], config, criteria_enable=False, timeout=timeout)
            except Exception as error:  # noqa: BLE001 — leaderboard: skip a scenario that cannot be set up
                self.skipped[spec.name] = f"{type(error).__name__}: {error}"
                continue
            behaviour = instance.scenario.behavior
            if behaviour is not None:
                behaviours.append(behaviour)
                blackboard.append([config.route_var_name, trigger.location])
            self.built.append(spec.name)
        if not behaviours:
            return
        root = py_trees.composites.Parallel(name="Route scenarios",
                                            policy=py_trees.common.ParallelPolicy.SUCCESS_ON_ALL)
        root.add_child(ScenarioTriggerer(ego, planned.route, blackboard, TRIGGER_DISTANCE, repeat_scenarios=False))
        root.add_children(behaviours)
        root.add_child(Idle())
        self.tree = root
        self.tree.setup(timeout=15)

    def tick(self, snapshot: Any) -> None:
        """Advance the scenario behaviours one step (srunner's clock and actor caches first)."""
        if self.tree is None:
            return
        from srunner.scenariomanager.timer import GameTime

        try:
            self._provider.on_carla_tick()
            GameTime.on_carla_tick(snapshot.timestamp)
            self.tree.tick_once()
        except Exception as error:  # noqa: BLE001 — a failing behaviour stops the scenarios, not the route
            self.stopped = f"{type(error).__name__}: {error}"
            traceback.print_exc()
            self.tree = None

    def summary(self) -> dict[str, Any]:
        """Which scenarios ran, which were skipped and why, and whether they stopped early."""
        return {"built": list(self.built), "skipped": dict(self.skipped), "stopped": self.stopped}
