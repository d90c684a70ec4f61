"""ScenarioRunner scenario classes of the Dynamic Adversary Agent, loaded by `type=` from scenario XML.

The scenario element carries one `<adversary manoeuvre=… seed=… [parameter ranges] />` (see `spec`); the
adversary is inserted next to the ego or taken over from the vehicles around it (bird's-eye relation).
"""
from __future__ import annotations

import carla
import py_trees

from recon_carla_bridge.adversary.behaviours import (DAAManoeuvre, HandBackToLaneFollowing, RecordPoses,
                                                     trace_path)
from recon_carla_bridge.adversary.lanes import relation_to_ego, side_lane
from recon_carla_bridge.adversary.spec import AdversarySpec, adversary_spec_of, config_source_file
from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.errors import InputError

install_srunner_alias()

from srunner.scenariomanager.carla_data_provider import CarlaDataProvider  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_behaviors import Idle  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_criteria import CollisionTest  # noqa: E402
from srunner.scenarios.basic_scenario import BasicScenario  # noqa: E402

DEFAULT_START_OFFSETS = {"side": 10.0, "side_ahead": 25.0, "ahead": 25.0, "behind": -30.0, "oncoming": 70.0}  # m along the lane
HIDDEN_BELOW_Z = -100.0  # m: vehicles parked under the map (not yet in the log, a ScenarioRunner idiom) are not taken over
AFTER_MANOEUVRE_S = 4.0  # s the scenario runs on after the hand-back


def insert_transform(wmap: carla.Map, ego: carla.Actor, spec: AdversarySpec) -> carla.Transform:
    """Where an inserted adversary starts: `spec.start_offset` (or the manoeuvre's default) along its start lane."""
    waypoint = wmap.get_waypoint(ego.get_location())
    start = spec.manoeuvre.start
    side = spec.manoeuvre.side_name
    if side:
        waypoint = side_lane(waypoint, side)
        if waypoint is None:
            raise InputError(f"{spec.where}: manoeuvre {spec.manoeuvre.name} needs a driving lane to the "
                             f"{side} of the ego, and there is none at the ego's start")
    offset = spec.start_offset if spec.start_offset is not None else DEFAULT_START_OFFSETS[start]
    if side == "oncoming":  # that lane's own direction runs toward the ego
        offset = -offset
    moved = waypoint.next(offset) if offset > 0 else waypoint.previous(-offset) if offset < 0 else [waypoint]
    if not moved:
        raise InputError(f"{spec.where}: the lane ends before start_offset={offset:g} m")
    transform = moved[0].transform
    return carla.Transform(carla.Location(transform.location.x, transform.location.y, transform.location.z + 0.3),
                           transform.rotation)


def vehicle_to_take_over(world: carla.World, ego: carla.Actor, spec: AdversarySpec) -> carla.Actor:
    """The vehicle nearest the ego in the spec's bird's-eye relation (spec.actor); InputError naming the element."""
    lane_width = world.get_map().get_waypoint(ego.get_location()).lane_width
    ego_transform = ego.get_transform()
    candidates = [v for v in world.get_actors().filter("vehicle.*") if v.id != ego.id
                  and v.get_location().z > HIDDEN_BELOW_Z
                  and relation_to_ego(ego_transform, lane_width, v.get_location()) == spec.actor]
    if not candidates:
        raise InputError(f"{spec.where}: actor='{spec.actor}': no vehicle {spec.actor} of the ego "
                         "at its start to take over")
    return min(candidates, key=lambda v: v.get_location().distance(ego_transform.location))


class DAAScenario(BasicScenario):
    """Base of the DAA scenarios: one adversary, one manoeuvre from `manoeuvres` (checked against the XML)."""

    manoeuvres: tuple[str, ...] = ()
    timeout = 120

    def __init__(self, world, ego_vehicles, config, randomize=False, debug_mode=False, criteria_enable=True,
                 timeout=120):
        self.timeout = timeout
        self.spec: AdversarySpec = adversary_spec_of(config_source_file(config, type(self).__name__), config.name)
        if self.spec.manoeuvre.name not in self.manoeuvres:
            raise InputError(f"{self.spec.where}: {type(self).__name__} runs {', '.join(self.manoeuvres)}, "
                             f"not manoeuvre '{self.spec.manoeuvre.name}'")
        self.manoeuvre_behaviour: DAAManoeuvre | None = None
        super().__init__(type(self).__name__, ego_vehicles, config, world, debug_mode, criteria_enable=criteria_enable)

    # ---- actors ---------------------------------------------------------------------------------
    def _initialize_actors(self, config) -> None:
        ego = self.ego_vehicles[0]
        if self.spec.actor == "insert":
            actor = CarlaDataProvider.request_new_actor(self.spec.model, self._insert_transform(ego), rolename="adversary")
            if actor is None:
                raise InputError(f"{self.spec.where}: could not insert a {self.spec.model} (is the place taken?)")
        else:
            actor = self._take_over(ego)
        self.other_actors.append(actor)

    def _insert_transform(self, ego: carla.Actor) -> carla.Transform:
        return insert_transform(CarlaDataProvider.get_map(), ego, self.spec)

    def _take_over(self, ego: carla.Actor) -> carla.Actor:
        """The nearest vehicle in the spec's bird's-eye relation to the ego."""
        return vehicle_to_take_over(CarlaDataProvider.get_world(), ego, self.spec)

    # ---- behaviour ------------------------------------------------------------------------------
    def _create_behavior(self):
        adversary, ego = self.other_actors[0], self.ego_vehicles[0]
        self.manoeuvre_behaviour = DAAManoeuvre(adversary, ego, self.spec, name=f"DAA {self.spec.manoeuvre.name}")
        sequence = py_trees.composites.Sequence(f"DAA {self.spec.manoeuvre.name}")
        sequence.add_child(self.manoeuvre_behaviour)
        sequence.add_child(HandBackToLaneFollowing(adversary))
        sequence.add_child(Idle(AFTER_MANOEUVRE_S))
        path = trace_path()
        if path is None:
            return sequence
        root = py_trees.composites.Parallel("DAA with trace", policy=py_trees.common.ParallelPolicy.SUCCESS_ON_ONE)
        root.add_child(sequence)
        root.add_child(RecordPoses(ego, adversary, path))
        return root

    def _create_test_criteria(self) -> list:
        return [CollisionTest(self.ego_vehicles[0])]

    def __del__(self):
        if getattr(self, "other_actors", None):  # absent when the constructor raised on bad input
            self.remove_all_actors()


class DAACutIn(DAAScenario):
    """An adversary cuts in from the left or right lane (manoeuvre cut_in_left / cut_in_right)."""

    manoeuvres = ("cut_in_left", "cut_in_right")


class DAAMerge(DAAScenario):
    """An adversary merges from a slower adjacent lane (merge_left / merge_right)."""

    manoeuvres = ("merge_left", "merge_right")


class DAALaneChangeAbort(DAAScenario):
    """An adversary starts a lane change into the ego's lane and aborts it."""

    manoeuvres = ("lane_change_abort_left", "lane_change_abort_right")


class DAAOncomingIntrusion(DAAScenario):
    """A vehicle in the oncoming lane swerves partly into the ego's lane and back."""

    manoeuvres = ("oncoming_intrusion",)


class DAABrakeCheck(DAAScenario):
    """The vehicle ahead in the ego's lane brakes hard."""

    manoeuvres = ("brake_check",)


class DAATailgating(DAAScenario):
    """A vehicle closes in fast from behind in the ego's lane."""

    manoeuvres = ("tailgating",)


from recon_carla_bridge.adversary.ctg_scenario import CTGCousin  # noqa: E402 (the CTG class, loaded by type= too)

SCENARIO_CLASSES = {cls.__name__: cls for cls in (DAACutIn, DAAMerge, DAALaneChangeAbort, DAAOncomingIntrusion, DAABrakeCheck,
                                                 DAATailgating, CTGCousin)}
