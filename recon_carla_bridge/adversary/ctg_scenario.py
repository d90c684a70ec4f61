"""The CTG scenario class: the ego drives one cousin of the scene's logged trajectory (or of a lane drive in a CARLA
town), tracked through a py_trees behaviour with CARLA's PID controller. Run it with `--agent none` (an agent's
control would override the behaviour's).

    <scenario name="CTGTown04LaneChangeLeft_1" type="CTGCousin" town="Town04">
        <ego_vehicle x="-507.23" y="177.57" z="0.5" yaw="90.36" model="vehicle.lincoln.mkz_2020" />
        <cousin lane="left" change_start="1" change_duration="5" log_speed="8" log_seconds="10" />
    </scenario>

`<cousin>` attributes: lane (left | right: a lane change to that adjacent lane) or lane_offset (m, + to the right),
change_start, change_duration (s), speed_factor, extension (s past the log's end), turn (left | right | straight:
the path through the junction ahead instead), and in a CARLA town the stand-in log's log_speed (m/s) and
log_seconds (s).
"""
from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import carla
import numpy as np
import py_trees

from recon_carla_bridge.adversary.behaviours import trace_path
from recon_carla_bridge.adversary.cousins import CousinSpec, check_cousin, make_cousin
from recon_carla_bridge.adversary.lanes import on_drivable_lanes
from recon_carla_bridge.adversary.trajectory import Trajectory
from recon_carla_bridge.compat_imports import install_srunner_alias
from recon_carla_bridge.adversary.spec import config_source_file, scenario_element
from recon_carla_bridge.errors import InputError

install_srunner_alias()

from srunner.scenariomanager.scenarioatomics.atomic_behaviors import AtomicBehavior, Idle  # noqa: E402
from srunner.scenariomanager.scenarioatomics.atomic_criteria import CollisionTest  # noqa: E402
from srunner.scenariomanager.timer import GameTime  # noqa: E402
from srunner.scenarios.basic_scenario import BasicScenario  # noqa: E402

LATERAL_GAINS = {"K_P": 1.95, "K_I": 0.05, "K_D": 0.2, "dt": 0.05}  # CARLA's BasicAgent gains at 20 Hz
LONGITUDINAL_GAINS = {"K_P": 1.0, "K_I": 0.05, "K_D": 0.0, "dt": 0.05}
LOOKAHEAD_S = 0.6  # s ahead on the cousin the lateral controller steers toward (at least LOOKAHEAD_MIN_M)
LOOKAHEAD_MIN_M = 4.0
POSITION_GAIN = 0.5  # 1/s: speed added per metre the ego lags the cousin's timed position
NUMBERS = {"lane_offset": (-12.0, 12.0), "change_start": (0.0, 120.0), "change_duration": (0.5, 30.0),
           "speed_factor": (0.0, 3.0), "extension": (0.0, 120.0), "log_speed": (0.5, 40.0), "log_seconds": (1.0, 300.0)}
CHOICES = {"lane": ("left", "right"), "turn": ("left", "right", "straight")}


class _Target:
    """What VehiclePIDController steers toward: anything with a `transform`."""

    def __init__(self, xy: np.ndarray, yaw: float):
        self.transform = carla.Transform(carla.Location(float(xy[0]), float(xy[1]), 0.0),
                                         carla.Rotation(yaw=math.degrees(yaw)))


class FollowCousin(AtomicBehavior):
    """Drive the ego along a timed cousin trajectory (PID: steer toward the cousin LOOKAHEAD_S ahead, speed to the
    cousin's with position feedback). SUCCESS at the cousin's end; the per-tick ego poses go to $RECON_CARLA_DAA_TRACE."""

    def __init__(self, ego: carla.Actor, cousin: Trajectory, name: str = "FollowCousin"):
        super().__init__(name, ego)
        self._cousin = cousin
        self._controller = None
        self._start = 0.0
        self.rows: list[dict] = []

    def initialise(self) -> None:
        """Start at the cousin's first pose and speed."""
        from agents.navigation.controller import VehiclePIDController

        super().initialise()
        xy, yaw, speed = self._cousin.state_at(0.0)
        z = self._actor.get_location().z
        self._actor.set_transform(carla.Transform(carla.Location(float(xy[0]), float(xy[1]), z),
                                                  carla.Rotation(yaw=math.degrees(yaw))))
        self._actor.set_target_velocity(carla.Vector3D(speed * math.cos(yaw), speed * math.sin(yaw), 0.0))
        self._controller = VehiclePIDController(self._actor, LATERAL_GAINS, LONGITUDINAL_GAINS, max_brake=0.75)
        self._start = GameTime.get_time()
        self.rows = []

    def update(self) -> py_trees.common.Status:
        """One PID step toward the cousin; SUCCESS once its time is up."""
        elapsed = GameTime.get_time() - self._start
        transform = self._actor.get_transform()
        here = np.array([transform.location.x, transform.location.y])
        self.rows.append({"t": elapsed, "ego": [float(here[0]), float(here[1]), transform.rotation.yaw]})
        if elapsed >= self._cousin.duration:
            return py_trees.common.Status.SUCCESS
        xy, yaw, speed = self._cousin.state_at(elapsed)
        lag = float((xy - here) @ np.array([math.cos(yaw), math.sin(yaw)]))
        ahead = max(LOOKAHEAD_S, LOOKAHEAD_MIN_M / max(speed, 1.0))
        target_xy, target_yaw, _ = self._cousin.state_at(elapsed + ahead)
        target_speed = max(0.0, speed + POSITION_GAIN * lag)
        self._actor.apply_control(self._controller.run_step(3.6 * target_speed, _Target(target_xy, target_yaw)))
        return py_trees.common.Status.RUNNING

    def terminate(self, new_status: py_trees.common.Status) -> None:
        """Write the trace when asked ($RECON_CARLA_DAA_TRACE)."""
        path = trace_path()
        if path and self.rows:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"ticks": self.rows, "cousin": {"t": self._cousin.t.tolist(),
                                                          "xy": self._cousin.xy.tolist()}}, handle)
        super().terminate(new_status)


def parse_cousin(element: ET.Element, where: str) -> dict:
    """The validated attributes of a `<cousin>` element; InputError naming `where` and the field."""
    known = set(NUMBERS) | set(CHOICES)
    unknown = sorted(set(element.attrib) - known)
    if unknown:
        raise InputError(f"{where}: unknown attribute(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    values: dict = {}
    for name, (low, high) in NUMBERS.items():
        text = element.get(name)
        if text is None:
            continue
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{where}: {name}='{text}' is not a number") from None
        if not low <= value <= high:
            raise InputError(f"{where}: {name}={value:g} is outside [{low:g}, {high:g}]")
        values[name] = value
    for name, choices in CHOICES.items():
        text = element.get(name)
        if text is not None and text not in choices:
            raise InputError(f"{where}: {name}='{text}' is not one of {', '.join(choices)}")
        if text is not None:
            values[name] = text
    if "lane" in values and "lane_offset" in values:
        raise InputError(f"{where}: give lane or lane_offset, not both")
    return values


def cousin_element_of(config_file: str, scenario_name: str) -> tuple[dict, str]:
    """(attributes, where) of the `<cousin>` of a scenario in a configuration XML."""
    element, where = scenario_element(config_file, scenario_name, "cousin")
    return parse_cousin(element, where), where


def build_cousin(world: carla.World, ego_start: carla.Location, values: dict, where: str) -> Trajectory:
    """The cousin a `<cousin>` asks for, from the scene's log (or a lane drive from the ego's start in a CARLA town),
    checked for feasibility and drivable lanes; InputError naming `where` when it is rejected."""
    from recon_carla_bridge.adversary.cousin_paths import lane_drive_log, turn_cousins
    from recon_carla_bridge.adversary.cousins_world import lane_offsets, logged_ego

    wmap = world.get_map()
    if getattr(world, "scene_bundle", None) is not None:
        log = logged_ego(world)
    else:
        log = lane_drive_log(wmap, ego_start, values.get("log_speed", 8.0), values.get("log_seconds", 10.0))
    if "turn" in values:
        turns = {spec.name: trajectory for spec, trajectory in turn_cousins(wmap, log).items()
                 if spec.name.startswith(f"turn_{values['turn']}_")}
        if not turns:
            raise InputError(f"{where}: turn='{values['turn']}': no such path through a junction within the log's reach")
        spec = CousinSpec(next(iter(turns)))
        trajectory = turns[spec.name]
    else:
        offset = values.get("lane_offset", 0.0)
        if "lane" in values:
            offsets = [o for o in lane_offsets(wmap, log) if (o > 0) == (values["lane"] == "right")]
            if not offsets:
                raise InputError(f"{where}: lane='{values['lane']}': no driving lane that way beside the log's start")
            offset = offsets[0]
        spec = CousinSpec("cousin", lane_offset=offset, change_start=values.get("change_start", 1.0),
                          change_duration=values.get("change_duration", 4.0),
                          speed_factor=values.get("speed_factor", 1.0), extension=values.get("extension", 0.0))
        trajectory = make_cousin(log, spec)
    verdict = check_cousin(spec, trajectory, [], on_road=lambda xy: on_drivable_lanes(wmap, xy))
    if verdict.rejection:
        raise InputError(f"{where}: the cousin is rejected: {verdict.rejection}")
    return trajectory


class CTGCousin(BasicScenario):
    """The ego follows one cousin of the logged drive (see the module docstring); CollisionTest on the ego."""

    timeout = 120

    def __init__(self, world, ego_vehicles, config, randomize=False, debug_mode=False, criteria_enable=True,
                 timeout=120):
        self.timeout = timeout
        values, where = cousin_element_of(config_source_file(config, "CTGCousin"), config.name)
        self.cousin = build_cousin(world, ego_vehicles[0].get_location(), values, where)
        self.follow: FollowCousin | None = None
        super().__init__("CTGCousin", ego_vehicles, config, world, debug_mode, criteria_enable=criteria_enable)

    def _initialize_actors(self, config) -> None:
        """No other actors: the scene's logged ones replay by themselves."""

    def _setup_scenario_trigger(self, config):
        """None: the ego starts on the cousin at once (srunner's default waits for an ego already moving)."""
        return None

    def _create_behavior(self):
        self.follow = FollowCousin(self.ego_vehicles[0], self.cousin)
        sequence = py_trees.composites.Sequence("CTG cousin")
        sequence.add_child(self.follow)
        sequence.add_child(Idle(1.0))
        return sequence

    def _create_test_criteria(self) -> list:
        return [CollisionTest(self.ego_vehicles[0])]

    def __del__(self):
        if getattr(self, "other_actors", None):
            self.remove_all_actors()

