"""The maps bundled in recon_carla_bridge/data/maps: generated reproducibly, loaded by the real
`carla.Map`, with spawn points, connected lanes and routes through them."""
from __future__ import annotations

import importlib.util
import itertools
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import carla
import pytest

from agents.navigation.global_route_planner import GlobalRoutePlanner
from agents.navigation.local_planner import RoadOption
from recon_carla_bridge.paths import BUNDLED_MAPS_DIR, REPO_ROOT
from recon_carla_bridge.world.maps import ReconMap, available_maps, load_map

BUNDLED = ("StraightRoad", "Crossing", "Loop")
GENERATOR = REPO_ROOT / "tools" / "generate_bundled_maps.py"


def _generator() -> ModuleType:
    """tools/generate_bundled_maps.py as a module (`tools` is also a package of ScenarioRunner's)."""
    spec = importlib.util.spec_from_file_location("generate_bundled_maps", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _finite(location: carla.Location) -> bool:
    return all(math.isfinite(v) for v in (location.x, location.y, location.z))


def _route_length(route: list[tuple[carla.Waypoint, RoadOption]]) -> float:
    return sum(a.transform.location.distance(b.transform.location) for (a, _), (b, _) in itertools.pairwise(route))


def _yaw_change(before: carla.Waypoint, after: carla.Waypoint) -> float:
    """Signed heading change in degrees; positive turns right (CARLA's y points right)."""
    return (after.transform.rotation.yaw - before.transform.rotation.yaw + 180.0) % 360.0 - 180.0


def test_generator_output_matches_the_bundled_files(tmp_path: Path) -> None:
    generator = _generator()
    written = generator.generate(tmp_path)
    assert sorted(written) == sorted(BUNDLED)
    for name, path in written.items():
        assert path.read_text() == (BUNDLED_MAPS_DIR / f"{name}.xodr").read_text(), f"{name}.xodr is stale: rerun the generator"
    assert generator.main(["--check", "--out", str(BUNDLED_MAPS_DIR)]) == 0
    (tmp_path / "Loop.xodr").write_text("<OpenDRIVE/>")
    assert generator.stale_maps(tmp_path) == ["Loop"]


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_map_is_small_has_georeference_and_distinct_junction_ids(name: str) -> None:
    path = BUNDLED_MAPS_DIR / f"{name}.xodr"
    assert path.stat().st_size < 64_000
    root = ET.parse(path).getroot()
    geo = root.find("header/geoReference")
    assert geo is not None and "+lat_0=" in (geo.text or "") and "+lon_0=" in (geo.text or "")
    road_ids = {road.get("id") for road in root.iter("road")}
    junction_ids = {junction.get("id") for junction in root.iter("junction")}
    assert not road_ids & junction_ids
    for road in root.iter("road"):
        speed = road.find("type/speed")
        assert speed is not None and float(speed.get("max", "0")) > 0


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_map_loads_by_name_with_spawn_points_and_finite_waypoints(name: str) -> None:
    assert available_maps([BUNDLED_MAPS_DIR])[name] == BUNDLED_MAPS_DIR / f"{name}.xodr"
    wmap = load_map(name, [BUNDLED_MAPS_DIR])
    assert isinstance(wmap, ReconMap) and isinstance(wmap, carla.Map)
    assert wmap.name == f"Carla/Maps/{name}"
    spawn_points = wmap.get_spawn_points()
    assert len(spawn_points) >= 20
    for transform in spawn_points:
        waypoint = wmap.get_waypoint(transform.location, project_to_road=False)
        assert waypoint is not None and waypoint.lane_type == carla.LaneType.Driving
        assert abs((transform.rotation.yaw - waypoint.transform.rotation.yaw + 180.0) % 360.0 - 180.0) < 1.0
    waypoints = wmap.generate_waypoints(0.5)
    assert waypoints and all(_finite(w.transform.location) for w in waypoints)


def test_default_search_path_finds_the_bundled_maps() -> None:
    """load_map('Crossing') without map_dirs: the bundled folder is on the default path."""
    wmap = load_map("Crossing")
    assert wmap.source == BUNDLED_MAPS_DIR / "Crossing.xodr"


def test_straight_road_lanes_and_markings() -> None:
    wmap = load_map("StraightRoad", [BUNDLED_MAPS_DIR])
    lane_minus_1 = wmap.get_waypoint(carla.Location(100.0, 1.75, 0.0))
    assert (lane_minus_1.road_id, lane_minus_1.lane_id) == (1, -1)
    assert abs(lane_minus_1.transform.rotation.yaw) < 1e-6  # drives towards +x
    assert lane_minus_1.lane_width == pytest.approx(3.5)
    assert lane_minus_1.left_lane_marking.type == carla.LaneMarkingType.Solid  # centre line
    assert lane_minus_1.left_lane_marking.lane_change == carla.LaneChange.NONE
    assert lane_minus_1.right_lane_marking.type == carla.LaneMarkingType.Broken
    outer = lane_minus_1.get_right_lane()
    assert outer.lane_id == -2 and outer.transform.location.y == pytest.approx(5.25)
    opposite = lane_minus_1.get_left_lane()
    assert opposite.lane_id == 1 and abs(abs(opposite.transform.rotation.yaw) - 180.0) < 1e-6
    # 400 m of lane: walking it ends at the far end, with no junction on the way.
    walked, waypoint = 0.0, wmap.get_waypoint_xodr(1, -1, 0.5)
    while (following := waypoint.next(2.0)) and walked < 1000.0:
        walked += waypoint.transform.location.distance(following[0].transform.location)
        waypoint = following[0]
    assert 396.0 <= walked <= 400.0


def test_crossing_offers_left_straight_and_right_from_every_arm() -> None:
    wmap = load_map("Crossing", [BUNDLED_MAPS_DIR])
    junction_ids = {w.junction_id for w in wmap.generate_waypoints(2.0) if w.is_junction}
    assert junction_ids == {900}
    for arm in range(1, 5):
        waypoint = wmap.get_waypoint_xodr(arm, 1, 60.0)  # lane 1 drives towards the junction
        while len(options := waypoint.next(2.0)) == 1 and not options[0].is_junction:
            waypoint = options[0]
        assert len(options) == 3, f"arm {arm}: {[(o.road_id, o.lane_id) for o in options]}"
        assert len({(o.road_id, o.lane_id) for o in options}) == 3  # no duplicated successors
        assert all(o.is_junction and o.junction_id == 900 for o in options)
        exits, turns = set(), []
        for option in options:
            beyond = option.next(30.0)
            assert len(beyond) == 1 and not beyond[0].is_junction
            exits.add(beyond[0].road_id)
            turns.append(_yaw_change(waypoint, beyond[0]))
        assert exits == set(range(1, 5)) - {arm}
        assert sorted(round(t / 90.0) for t in turns) == [-1, 0, 1]  # left, straight, right


def test_crossing_topology_and_junction() -> None:
    wmap = load_map("Crossing", [BUNDLED_MAPS_DIR])
    topology = wmap.get_topology()
    assert len(topology) == 24  # 12 turns, each entered from an arm and left to another
    keys = {((a.road_id, a.lane_id), (b.road_id, b.lane_id)) for a, b in topology}
    assert len(keys) == 24
    inside = [w for w in wmap.generate_waypoints(2.0) if w.is_junction]
    junction = inside[0].get_junction()
    assert junction.id == 900
    box = junction.bounding_box
    assert abs(box.location.x) < 1.0 and abs(box.location.y) < 1.0  # centred on the origin
    pairs = junction.get_waypoints(carla.LaneType.Driving)
    assert len(pairs) == 12


def test_loop_is_closed_and_hilly() -> None:
    wmap = load_map("Loop", [BUNDLED_MAPS_DIR])
    start = wmap.get_waypoint_xodr(1, -1, 1.0)
    waypoint, walked, heights, roads = start, 0.0, [], []
    while walked < 700.0:
        following = waypoint.next(2.0)
        assert len(following) == 1, "a loop lane never ends nor branches"
        walked += waypoint.transform.location.distance(following[0].transform.location)
        waypoint = following[0]
        heights.append(waypoint.transform.location.z)
        roads.append(waypoint.road_id)
        if walked > 100.0 and waypoint.transform.location.distance(start.transform.location) < 1.5:
            break
    assert 560.0 < walked < 640.0, "one lap of the loop"
    assert set(roads) == {1, 2, 3, 4}
    assert min(heights) == pytest.approx(0.0, abs=1e-6) and max(heights) == pytest.approx(4.0, abs=1e-6)
    grades = [abs(b - a) / 2.0 for a, b in itertools.pairwise(heights)]
    assert max(grades) < 0.05
    # the opposite lane runs the other way round
    opposite = start.get_left_lane()
    assert opposite.lane_id == 1 and abs(_yaw_change(start, opposite)) > 170.0


@pytest.mark.parametrize(
    ("name", "origin", "destination", "minimum_m", "turn"),
    [
        # arm 1 is east of the junction (CARLA +x); arm 2 lies at CARLA -y (OpenDRIVE's y is flipped),
        # which is to the right of a car heading west (yaw 180, and yaw grows clockwise).
        ("Crossing", (1, 1, 100.0), (2, -1, 100.0), 200.0, RoadOption.RIGHT),
        ("Crossing", (1, 1, 100.0), (4, -1, 100.0), 200.0, RoadOption.LEFT),
        ("Crossing", (1, 1, 100.0), (3, -1, 100.0), 200.0, RoadOption.STRAIGHT),
        ("Loop", (1, -1, 10.0), (1, -1, 5.0), 560.0, None),  # almost a whole lap
        ("StraightRoad", (1, -1, 10.0), (1, -1, 390.0), 370.0, None),
    ],
)
def test_routes_through_the_bundled_maps(name: str, origin: tuple[int, int, float], destination: tuple[int, int, float],
                                         minimum_m: float, turn: RoadOption | None) -> None:
    wmap = load_map(name, [BUNDLED_MAPS_DIR])
    start, end = wmap.get_waypoint_xodr(*origin), wmap.get_waypoint_xodr(*destination)
    route = GlobalRoutePlanner(wmap, 2.0).trace_route(start.transform.location, end.transform.location)
    assert route[0][0].transform.location.distance(start.transform.location) < 2.5
    assert route[-1][0].transform.location.distance(end.transform.location) < 2.5
    length = _route_length(route)
    assert minimum_m <= length <= minimum_m + 120.0
    gaps = [a.transform.location.distance(b.transform.location) for (a, _), (b, _) in itertools.pairwise(route)]
    assert max(gaps) < 3.0, "consecutive route waypoints are close: no jumps between lanes"
    options = {option for _, option in route}
    if turn is not None:
        assert turn in options
        assert options - {turn, RoadOption.LANEFOLLOW} == set()
    else:
        assert options == {RoadOption.LANEFOLLOW}
