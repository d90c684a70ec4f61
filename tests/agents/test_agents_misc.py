"""agents.tools.misc geometry on carla types, and the lane-change plan builder on a real road."""
from __future__ import annotations

import math

import carla
import pytest

from agents.navigation.lane_change import generate_lane_change_path
from agents.navigation.local_planner import RoadOption, _retrieve_options
from agents.tools.misc import (
    compute_distance,
    compute_magnitude_angle,
    distance_vehicle,
    is_within_distance,
    is_within_distance_ahead,
    positive,
    vector,
)


def _at(x: float, y: float, yaw: float = 0.0) -> carla.Transform:
    return carla.Transform(carla.Location(x=x, y=y), carla.Rotation(yaw=yaw))


def test_is_within_distance_checks_range_and_bearing() -> None:
    reference = _at(0.0, 0.0, yaw=90.0)  # facing +y
    assert is_within_distance(_at(0.0, 5.0), reference, 10.0, [0, 90])
    assert not is_within_distance(_at(0.0, -5.0), reference, 10.0, [0, 90]), "behind"
    assert not is_within_distance(_at(0.0, 15.0), reference, 10.0, [0, 90]), "too far"
    assert is_within_distance(_at(-1.0, -5.0), reference, 10.0, [160, 180]), "behind, slightly left"
    assert not is_within_distance(_at(-5.0, -1.0), reference, 10.0, [160, 180]), "beside"
    assert is_within_distance(_at(0.0, -5.0), reference, 10.0), "no angle window"
    assert is_within_distance(_at(0.0, 0.0005), reference, 0.0, [10, 20]), "coincident counts"
    assert is_within_distance_ahead(_at(1.0, 5.0), reference, 10.0)
    assert not is_within_distance_ahead(_at(1.0, -5.0), reference, 10.0)


def test_magnitude_angle_distance_and_vectors() -> None:
    distance, angle = compute_magnitude_angle(carla.Location(3.0, 4.0), carla.Location(0.0, 0.0), 0.0)
    assert distance == pytest.approx(5.0) and angle == pytest.approx(math.degrees(math.atan2(4, 3)))
    assert compute_distance(carla.Location(1, 2, 3), carla.Location(4, 6, 3)) == pytest.approx(5.0)
    assert vector(carla.Location(1, 1, 1), carla.Location(1, 1, 3)) == pytest.approx([0.0, 0.0, 1.0])
    assert vector(carla.Location(1, 1, 1), carla.Location(1, 1, 1)) == [0.0, 0.0, 0.0]
    assert positive(-2.0) == 0.0 and positive(2.5) == 2.5


def test_distance_vehicle_uses_the_ground_plane(town01: carla.Map) -> None:
    waypoint = town01.get_waypoint(carla.Location(x=100.0, y=2.0))
    here = waypoint.transform.location
    assert distance_vehicle(waypoint, _at(here.x + 3.0, here.y + 4.0)) == pytest.approx(5.0, abs=1e-4)


def test_junction_branches_are_classified_by_heading_change(town01: carla.Map) -> None:
    checked, labels = 0, set()
    for waypoint in town01.generate_waypoints(2.0):
        branches = waypoint.next(2.0)
        if len(branches) < 2:
            continue
        options = _retrieve_options(branches, waypoint)
        labels.update(options)
        for branch, option in zip(branches, options):
            beyond = branch
            while beyond.is_junction:
                beyond = beyond.next(1.0)[0]
            change = (beyond.transform.rotation.yaw - waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0
            expected = (RoadOption.STRAIGHT if abs(change) < 35.0
                        else RoadOption.RIGHT if change > 0 else RoadOption.LEFT)
            assert option == expected, f"branch turning {change:.0f} deg classified {option.name}"
            checked += 1
    assert checked >= 20
    assert labels >= {RoadOption.LEFT, RoadOption.RIGHT}, "turns are told apart from going straight"


def test_lane_change_plan_on_a_two_lane_road(straight_road: carla.Map) -> None:
    start = straight_road.get_waypoint(carla.Location(x=20.0, y=1.75))
    plan = generate_lane_change_path(start, "right", 10, 25, 25, check=True, lane_changes=1, step_distance=2)
    lanes = [waypoint.lane_id for waypoint, _ in plan]
    assert lanes[0] == -1 and lanes[-1] == -2
    assert [option for _, option in plan].count(RoadOption.CHANGELANERIGHT) == 1
    travelled = plan[-1][0].transform.location.x - start.transform.location.x
    assert 10 + 25 + 25 <= travelled <= 10 + 25 + 25 + 6
    assert generate_lane_change_path(start, "left") == [], "no lane on the left"
    assert generate_lane_change_path(start, "sideways") == []
    near_end = straight_road.get_waypoint(carla.Location(x=190.0, y=1.75))
    assert generate_lane_change_path(near_end, "right") == [], "runs off the dead end"
