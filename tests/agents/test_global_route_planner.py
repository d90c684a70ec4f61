"""GlobalRoutePlanner and GlobalRoutePlannerDAO on real CARLA towns and a small synthetic road."""
from __future__ import annotations

import itertools
import random
import statistics

import carla
import networkx as nx
import pytest

from agents.navigation.global_route_planner import (
    GlobalRoutePlanner,
    RouteNotFoundError,
)
from agents.navigation.global_route_planner_dao import GlobalRoutePlannerDAO
from agents.navigation.local_planner import RoadOption

RESOLUTION = 2.0
TURNS = (RoadOption.LEFT, RoadOption.RIGHT, RoadOption.STRAIGHT)


def _gaps(route: list[tuple[carla.Waypoint, RoadOption]]) -> list[float]:
    return [a.transform.location.distance(b.transform.location) for (a, _), (b, _) in itertools.pairwise(route)]


def _yaw_change(before: carla.Waypoint, after: carla.Waypoint) -> float:
    """Signed heading change in degrees, in (-180, 180]; positive turns right in CARLA's frame."""
    return (after.transform.rotation.yaw - before.transform.rotation.yaw + 180.0) % 360.0 - 180.0


def _junction_runs(route: list[tuple[carla.Waypoint, RoadOption]]) -> list[tuple[int, int]]:
    """(start, stop) index ranges of maximal runs of junction waypoints strictly inside the route."""
    runs, index = [], 0
    while index < len(route):
        if route[index][0].is_junction:
            stop = index
            while stop < len(route) and route[stop][0].is_junction:
                stop += 1
            if index > 0 and stop < len(route):
                runs.append((index, stop))
            index = stop
        else:
            index += 1
    return runs


@pytest.fixture(scope="module")
def town01_planner(town01: carla.Map) -> GlobalRoutePlanner:
    return GlobalRoutePlanner(town01, RESOLUTION)


@pytest.fixture(scope="module")
def town01_route(town01_planner: GlobalRoutePlanner, town01_trip) -> list[tuple[carla.Waypoint, RoadOption]]:
    return town01_planner.trace_route(*town01_trip)


def test_route_is_a_connected_forward_sequence_at_the_resolution(town01_route, town01_trip) -> None:
    origin, destination = town01_trip
    length = sum(_gaps(town01_route))
    assert 300.0 < length < 400.0
    assert town01_route[0][0].transform.location.distance(origin) < RESOLUTION
    assert town01_route[-1][0].transform.location.distance(destination) < RESOLUTION
    gaps = _gaps(town01_route)
    assert min(gaps) > 0.1 * RESOLUTION, "repeated waypoints"
    assert max(gaps) <= 1.6 * RESOLUTION, "a hole in the route"
    assert 0.9 * RESOLUTION <= statistics.median(gaps) <= 1.3 * RESOLUTION
    for (a, _), (b, _) in itertools.pairwise(town01_route):
        forward, step = a.transform.get_forward_vector(), b.transform.location - a.transform.location
        assert forward.x * step.x + forward.y * step.y > 0.0, f"route turns back between {a} and {b}"
        assert a.lane_type == carla.LaneType.Driving


def test_junction_runs_carry_one_turn_that_matches_the_heading_change(town01_route) -> None:
    runs = _junction_runs(town01_route)
    assert len(runs) >= 3
    seen = set()
    for start, stop in runs:
        options = {option for _, option in town01_route[start:stop]}
        assert len(options) == 1 and options <= set(TURNS), f"junction run {start}:{stop} labelled {options}"
        option = options.pop()
        seen.add(option)
        change = _yaw_change(town01_route[start - 1][0], town01_route[stop][0])
        if option == RoadOption.LEFT:
            assert change < -30.0
        elif option == RoadOption.RIGHT:
            assert change > 30.0
        else:
            assert abs(change) < 35.0
    assert seen == set(TURNS)
    outside = {option for waypoint, option in town01_route if not waypoint.is_junction}
    assert outside <= {RoadOption.LANEFOLLOW, *TURNS}


def test_dao_form_with_setup_gives_the_same_route(town01: carla.Map, town01_route, town01_trip) -> None:
    origin, destination = town01_trip
    dao = GlobalRoutePlannerDAO(town01, RESOLUTION)
    assert dao.get_resolution() == RESOLUTION
    assert dao.get_waypoint(origin).road_id == town01.get_waypoint(origin).road_id
    topology = dao.get_topology()
    assert len(topology) == len(town01.get_topology())
    assert {"entry", "exit", "entryxyz", "exitxyz", "path"} <= set(topology[0])
    planner = GlobalRoutePlanner(dao)
    planner.setup()
    route = planner.trace_route(origin, destination)
    assert [(w.transform.location, o) for w, o in route] == [(w.transform.location, o) for w, o in town01_route]
    abstract = planner.abstract_route_plan(origin, destination)
    assert set(abstract) >= {RoadOption.LANEFOLLOW, RoadOption.LEFT, RoadOption.RIGHT}


def test_waypoints_and_tuples_are_accepted_as_route_ends(town01: carla.Map, town01_planner, town01_route, town01_trip) -> None:
    origin, destination = town01_trip
    route = town01_planner.trace_route(town01.get_waypoint(origin), (destination.x, destination.y, destination.z))
    assert len(route) == len(town01_route)


def test_destination_behind_on_the_same_lane_drives_round(town01: carla.Map, town01_planner) -> None:
    start = town01.get_waypoint(carla.Location(x=100.0, y=2.0, z=0.0))
    ahead = start.next(40.0)[0]
    route = town01_planner.trace_route(ahead.transform.location, start.transform.location)
    length = sum(_gaps(route))
    assert length > 100.0, "should loop round a block, not stop at once"
    assert route[-1][0].transform.location.distance(start.transform.location) < RESOLUTION
    assert max(_gaps(route)) <= 1.6 * RESOLUTION


def test_lane_changes_on_a_highway(town04: carla.Map) -> None:
    planner = GlobalRoutePlanner(town04, RESOLUTION)
    types = {data["type"] for _, _, data in planner._graph.edges(data=True)}
    assert {RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT} <= types
    found = False
    for waypoint in town04.generate_waypoints(50.0):
        right = waypoint.get_right_lane()
        if waypoint.is_junction or right is None or right.lane_type != carla.LaneType.Driving:
            continue
        if not waypoint.right_lane_marking.lane_change & carla.LaneChange.Right:
            continue
        target = right.next(80.0)
        if not target or target[0].road_id != waypoint.road_id:
            continue
        route = planner.trace_route(waypoint.transform.location, target[0].transform.location)
        changes = [i for i, (_, option) in enumerate(route) if option == RoadOption.CHANGELANERIGHT]
        if not changes:
            continue
        found = True
        assert route[-1][0].lane_id == target[0].lane_id
        before, after = route[changes[0]][0], route[changes[-1]][0]
        assert after.lane_id != before.lane_id
        break
    assert found, "no right lane change found on Town04"


def test_one_road_map_routes_and_lane_changes(straight_road: carla.Map) -> None:
    assert straight_road.get_topology() == [], "carla leaves dead-end roads out of its topology"
    planner = GlobalRoutePlanner(straight_road, RESOLUTION)
    route = planner.trace_route(carla.Location(x=10.0, y=1.75), carla.Location(x=150.0, y=5.25))
    assert route[0][0].lane_id == -1 and route[-1][0].lane_id == -2
    assert RoadOption.CHANGELANERIGHT in {option for _, option in route}
    assert 130.0 < route[-1][0].transform.location.x - route[0][0].transform.location.x < 145.0


def test_unreachable_destination_raises_a_networkx_no_path(straight_road: carla.Map) -> None:
    planner = GlobalRoutePlanner(straight_road, RESOLUTION)
    with pytest.raises(RouteNotFoundError, match="no route") as error:
        planner.trace_route(carla.Location(x=150.0, y=1.75), carla.Location(x=10.0, y=1.75))
    assert isinstance(error.value, nx.NetworkXNoPath)


def test_dao_planner_builds_lazily_without_setup(town01: carla.Map, town01_trip) -> None:
    planner = GlobalRoutePlanner(GlobalRoutePlannerDAO(town01, 5.0))
    route = planner.trace_route(*town01_trip)
    assert 3.0 < statistics.median(_gaps(route)) < 7.0


def test_constructor_errors(town01: carla.Map) -> None:
    with pytest.raises(TypeError, match="sampling_resolution"):
        GlobalRoutePlanner(town01)
    with pytest.raises(ValueError, match="contradicts"):
        GlobalRoutePlanner(GlobalRoutePlannerDAO(town01, 2.0), 1.0)
    with pytest.raises(ValueError, match="positive"):
        GlobalRoutePlannerDAO(town01, 0.0)


@pytest.mark.parametrize("town", ["Town01", "Town02", "Town04", "Town10HD"])
def test_random_routes_end_at_the_destination_without_holes(carla_maps_dir, town: str) -> None:
    town_map = carla.Map(town, (carla_maps_dir / f"{town}.xodr").read_text())
    planner = GlobalRoutePlanner(town_map, RESOLUTION)
    candidates = town_map.generate_waypoints(10.0)
    rng = random.Random(7)
    for _ in range(60):
        origin, destination = rng.sample(candidates, 2)
        try:
            route = planner.trace_route(origin.transform.location, destination.transform.location)
        except RouteNotFoundError:
            continue
        assert route[-1][0].transform.location.distance(destination.transform.location) <= 1.01 * RESOLUTION
        for (a, option), (b, _) in itertools.pairwise(route):
            gap = a.transform.location.distance(b.transform.location)
            lane_change = option in (RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT)
            assert gap <= (8.0 if lane_change else 1.6) * RESOLUTION, f"{gap:.1f} m hole after {a}"


def test_destination_behind_on_a_parallel_lane_drives_round(town04: carla.Map) -> None:
    planner = GlobalRoutePlanner(town04, RESOLUTION)
    for waypoint in town04.generate_waypoints(50.0):
        left = waypoint.get_left_lane()
        if waypoint.is_junction or left is None or left.lane_type != carla.LaneType.Driving:
            continue
        if left.lane_id * waypoint.lane_id <= 0 or not left.previous(40.0):
            continue
        behind = left.previous(40.0)[0]
        if (behind.road_id, behind.lane_id) != (left.road_id, left.lane_id):
            continue
        try:
            route = planner.trace_route(waypoint.transform.location, behind.transform.location)
        except RouteNotFoundError:
            continue
        assert sum(_gaps(route)) > 80.0, "changed lanes backwards instead of driving round"
        assert route[-1][0].transform.location.distance(behind.transform.location) < RESOLUTION
        return
    pytest.fail("no parallel-lane pair found on Town04")
