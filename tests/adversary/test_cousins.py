"""CTG core: cousins of a straight logged drive change lane or speed as asked, a cousin that would hit a logged car
is rejected while the log itself is not, and cousins are written as leaderboard route XML."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from recon_carla_bridge.adversary.cousins import (CousinSpec, check_cousin, make_cousin, route_xml, shape_summary,
                                                  standard_specs)
from recon_carla_bridge.adversary.trajectory import Trajectory

T = np.arange(0.0, 8.0, 0.1)
LOG = Trajectory.from_positions(T, np.stack([10.0 * T, np.zeros_like(T)], axis=1), 8.0, 0.0)  # 10 m/s along +x


def _parked(x: float, y: float) -> Trajectory:
    return Trajectory.from_positions(T, np.tile([x, y], (len(T), 1)), 8.0, 0.0)


def test_a_lane_change_cousin_ends_in_the_next_lane_and_a_speed_cousin_slows_down() -> None:
    change = make_cousin(LOG, CousinSpec("left", lane_offset=-3.5, change_start=1.0, change_duration=4.0))
    assert change.xy[0, 1] == 0.0 and abs(change.xy[-1, 1] + 3.5) < 1e-6
    assert shape_summary(change, LOG)["non_straight"] and not shape_summary(LOG, LOG)["non_straight"]
    slower = make_cousin(LOG, CousinSpec("slow", speed_factor=0.5, change_duration=3.0))
    assert abs(slower.speed[-1] - 5.0) < 0.1 and slower.xy[-1, 0] < LOG.xy[-1, 0] - 15.0
    extended = make_cousin(LOG, CousinSpec("ext", extension=5.0))
    assert extended.xy[-1, 0] > LOG.xy[-1, 0] + 45.0


def test_a_cousin_that_would_hit_a_logged_car_is_rejected_and_the_log_is_not() -> None:
    parked_in_next_lane = _parked(60.0, -3.5)
    spec = CousinSpec("left", lane_offset=-3.5, change_start=1.0, change_duration=3.0)
    rejected = check_cousin(spec, make_cousin(LOG, spec), [parked_in_next_lane])
    assert rejected.rejection.startswith("collision with actor 0")
    assert check_cousin(CousinSpec("log"), make_cousin(LOG, CousinSpec("log")), [parked_in_next_lane]).rejection == ""
    swerve = CousinSpec("swerve", lane_offset=-3.5, change_start=1.0, change_duration=0.3)
    assert check_cousin(swerve, make_cousin(LOG, swerve), []).rejection.startswith("infeasible")


def test_cousins_are_written_as_leaderboard_routes() -> None:
    specs = standard_specs([-3.5, 3.5], LOG.duration)
    routes = {spec.name: make_cousin(LOG, spec) for spec in specs}
    root = ET.fromstring(route_xml(routes, "Town04"))
    assert len(root.findall("route")) == len(specs)
    positions = root.find("route").find("waypoints").findall("position")
    assert len(positions) >= 10 and float(positions[-1].get("x")) > 75.0
