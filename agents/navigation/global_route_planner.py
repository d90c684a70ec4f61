"""GlobalRoutePlanner: shortest routes on the road graph, as (carla.Waypoint, RoadOption) lists.

Both constructor forms work:
- CARLA 0.9.12+ (and 0.9.16): `GlobalRoutePlanner(wmap, sampling_resolution)`, ready at once;
- CARLA 0.9.11 (ScenarioRunner 0.9.11): `GlobalRoutePlanner(dao)` then `setup()`.

Routes follow CARLA's conventions: LANEFOLLOW on roads, one LEFT/RIGHT/STRAIGHT decision held
through a whole junction (judged from the heading change across it, against the junction's other
exits), CHANGELANELEFT/RIGHT where the route switches lanes. Departures from CARLA, all fixes:
- a destination behind the origin on the same lane is reached by driving round (CARLA returns
  a one-waypoint route);
- the waypoint shared by two consecutive lane segments appears once, with the manoeuvre that
  starts there (CARLA repeats it, with both labels);
- the route ends at the sampled waypoint nearest the destination (CARLA stops up to 2
  resolutions short);
- no route raises RouteNotFoundError, a networkx.NetworkXNoPath (which ScenarioRunner catches),
  naming both lanes, where CARLA raises a bare TypeError or NetworkXNoPath;
- see route_graph.py for the graph's own differences (metric edge lengths, node merging).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import carla
import networkx as nx
import numpy as np

from agents.navigation.global_route_planner_dao import GlobalRoutePlannerDAO
from agents.navigation.road_option import RoadOption
from agents.navigation.route_graph import (
    RouteGraph,
    build_route_graph,
    lane_key,
    straight_line_distance,
)

RouteTrace = list[tuple[carla.Waypoint, RoadOption]]
"""A route: waypoints about `sampling_resolution` apart, each with the manoeuvre that reaches it."""

Place = carla.Location | carla.Waypoint | Sequence[float]
"""Where a route starts or ends: a Location, a Waypoint or an (x, y, z) sequence."""

_DUPLICATE_DISTANCE = 0.1
"""Consecutive route waypoints closer than this (metres) are the same point."""
_LANE_CHANGES = (RoadOption.CHANGELANELEFT, RoadOption.CHANGELANERIGHT)
_LANE_CHANGE_LOOKAHEAD = 5
"""After a lane change the route resumes this many samples ahead on the new lane."""


class RouteNotFoundError(nx.NetworkXNoPath):
    """No drivable route joins the origin to the destination."""


class GlobalRoutePlanner:
    """Plans routes across a carla.Map with A* on a networkx road graph."""

    def __init__(self, wmap: carla.Map | GlobalRoutePlannerDAO, sampling_resolution: float | None = None) -> None:
        """Wrap a map (0.9.16 form, built now) or a GlobalRoutePlannerDAO (0.9.11 form, built by setup()).

        Args:
            wmap: a carla.Map, or a GlobalRoutePlannerDAO (anything with get_topology, get_waypoint
                and get_resolution).
            sampling_resolution: spacing of the route's waypoints in metres; required with a map,
                taken from the DAO otherwise.
        """
        if hasattr(wmap, "get_resolution"):
            dao = wmap
            if sampling_resolution is not None and float(sampling_resolution) != float(dao.get_resolution()):
                raise ValueError(
                    f"sampling_resolution={sampling_resolution!r} contradicts the DAO's {dao.get_resolution()!r}"
                )
            self._dao = dao
            self._wmap = getattr(dao, "wmap", None)
            build_now = False
        else:
            if sampling_resolution is None:
                raise TypeError("GlobalRoutePlanner(wmap, sampling_resolution): a carla.Map needs a sampling_resolution")
            self._dao = GlobalRoutePlannerDAO(wmap, sampling_resolution)
            self._wmap = wmap
            build_now = True
        self._sampling_resolution = float(self._dao.get_resolution())
        self._topology: list[dict] | None = None
        self._route_graph: RouteGraph | None = None
        self._intersection_end_node: int | None = None
        self._previous_decision = RoadOption.VOID
        if build_now:
            self.setup()

    # -- building -----------------------------------------------------------------------------

    def setup(self) -> None:
        """Sample the topology and build the graph (0.9.11 API; the map form has already done it)."""
        if self._route_graph is not None:
            return
        self._topology = self._dao.get_topology()
        self._route_graph = build_route_graph(self._topology, self._sampling_resolution)

    @property
    def _graph(self) -> nx.DiGraph:
        """The road graph (CARLA's attribute name); built on first use."""
        self.setup()
        return self._route_graph.graph

    @property
    def _road_id_to_edge(self) -> dict[int, dict[int, dict[int, tuple[int, int]]]]:
        """road_id -> section_id -> lane_id -> (entry node, exit node)."""
        self.setup()
        return self._route_graph.road_id_to_edge

    @property
    def _id_map(self) -> dict[tuple[float, float, float], int]:
        """Node id of each lane end point."""
        self.setup()
        return self._route_graph.id_map

    # -- public API ---------------------------------------------------------------------------

    def trace_route(self, origin: Place, destination: Place) -> RouteTrace:
        """The shortest route from `origin` to `destination` as (carla.Waypoint, RoadOption) pairs.

        Raises:
            RouteNotFoundError: a place is off the road graph or no route joins them.
        """
        origin_wp, destination_wp = self._to_waypoint(origin), self._to_waypoint(destination)
        route = self._path_search(origin_wp, destination_wp)
        self._reset_turn_state()
        trace: RouteTrace = []
        current = origin_wp
        last_index = len(route) - 2
        for index in range(len(route) - 1):
            option = self._turn_decision(index, route)
            edge = self._graph.edges[route[index], route[index + 1]]
            if edge["type"] in _LANE_CHANGES:
                _append(trace, current, option)
                current = self._landing_waypoint(edge, current, destination_wp)
                _append(trace, current, option)
                continue
            points = [edge["entry_waypoint"], *edge["path"], edge["exit_waypoint"]]
            start = self._find_closest_in_list(current, points)
            stop = len(points)
            if index == last_index:
                stop = max(start, self._find_closest_in_list(destination_wp, points)) + 1
            for waypoint in points[start:stop]:
                _append(trace, waypoint, option)
                current = waypoint
        return trace

    def abstract_route_plan(self, origin: Place, destination: Place) -> list[RoadOption]:
        """The manoeuvre of each graph edge along the route (0.9.11 API)."""
        route = self._path_search(self._to_waypoint(origin), self._to_waypoint(destination))
        self._reset_turn_state()
        return [self._turn_decision(index, route) for index in range(len(route) - 1)]

    # -- search -------------------------------------------------------------------------------

    def _to_waypoint(self, place: Place) -> carla.Waypoint:
        """The driving-lane waypoint of a Location, Waypoint or (x, y, z)."""
        if isinstance(place, carla.Waypoint):
            return place
        if not isinstance(place, carla.Location):
            x, y, z = (float(c) for c in place)
            place = carla.Location(x, y, z)
        return self._dao.get_waypoint(place)

    def _localize(self, location: Place) -> tuple[int, int] | None:
        """The (entry, exit) nodes of the lane segment at `location`, or None when it has none."""
        return self._route_graph_checked().edge_of(self._to_waypoint(location))

    def _route_graph_checked(self) -> RouteGraph:
        """The built route graph (building it first if needed)."""
        self.setup()
        return self._route_graph

    def _distance_heuristic(self, n1: int, n2: int) -> float:
        """Straight-line distance between two nodes, in metres."""
        return straight_line_distance(self._graph, n1, n2)

    def _path_search(self, origin: carla.Waypoint, destination: carla.Waypoint) -> list[int]:
        """Node sequence from the origin's segment entry to the destination's segment exit.

        When the destination is behind the origin on its segment or on a parallel lane of it,
        the route leaves by the origin segment's exit and comes back round (CARLA's zero-length
        lane-change edges would otherwise let it "change lanes backwards").
        """
        start, end = self._localize(origin), self._localize(destination)
        for name, waypoint, edge in (("origin", origin, start), ("destination", destination, end)):
            if edge is None:
                raise RouteNotFoundError(f"the {name} lies on lane {lane_key(waypoint)} (road, section, lane), "
                                         "which is not part of the road graph")
        try:
            if self._is_behind(origin, destination, start):
                return [start[0], *self._astar(start[1], end[0]), end[1]]
            return [*self._astar(start[0], end[0]), end[1]]
        except nx.NetworkXNoPath as error:
            raise RouteNotFoundError(
                f"no route from lane {lane_key(origin)} to lane {lane_key(destination)} (road, section, lane)"
            ) from error

    def _astar(self, source: int, target: int) -> list[int]:
        """A* node path, weighted by edge length in metres."""
        return nx.astar_path(self._graph, source, target, heuristic=self._distance_heuristic, weight="length")

    def _is_behind(self, origin: carla.Waypoint, destination: carla.Waypoint, edge_nodes: tuple[int, int]) -> bool:
        """Whether `destination`, on the origin's segment or a parallel lane, comes before `origin`."""
        if not _parallel(origin, destination):
            return False
        edge = self._graph.edges[edge_nodes]
        points = [edge["entry_waypoint"], *edge["path"], edge["exit_waypoint"]]
        return self._find_closest_in_list(destination, points) < self._find_closest_in_list(origin, points)

    def _landing_waypoint(
        self, lane_change_edge: dict, current: carla.Waypoint, destination: carla.Waypoint
    ) -> carla.Waypoint:
        """Where a lane change lands: a few samples ahead of `current` on the target lane, never past
        the destination when it lies on that lane or a parallel one."""
        target = self._route_graph_checked().edge_of(lane_change_edge["exit_waypoint"])
        path = self._graph.edges[target]["path"]
        if not path:
            return self._graph.edges[target]["exit_waypoint"]
        here = self._find_closest_in_list(current, path)
        index = here + _LANE_CHANGE_LOOKAHEAD
        if _parallel(path[0], destination):
            index = min(index, max(here, self._find_closest_in_list(destination, path)))
        return path[min(len(path) - 1, index)]

    # -- turn decisions -----------------------------------------------------------------------

    def _reset_turn_state(self) -> None:
        """Forget the junction being traversed (each route starts afresh)."""
        self._intersection_end_node = None
        self._previous_decision = RoadOption.VOID

    def _successive_last_intersection_edge(self, index: int, route: list[int]) -> tuple[int | None, dict | None]:
        """The last node and edge of the run of junction edges that starts at route[index]."""
        last_node, last_edge = None, None
        for node1, node2 in zip(route[index:-1], route[index + 1:]):
            candidate = self._graph.edges[node1, node2]
            if node1 == route[index]:
                last_edge = candidate
            if candidate["type"] == RoadOption.LANEFOLLOW and candidate["intersection"]:
                last_edge, last_node = candidate, node2
            else:
                break
        return last_node, last_edge

    def _turn_decision(self, index: int, route: list[int], threshold: float = math.radians(35)) -> RoadOption:
        """The RoadOption of edge route[index] -> route[index + 1].

        Entering a junction, the decision compares the heading before it with the heading at the
        junction's far end (STRAIGHT under `threshold` radians, else LEFT/RIGHT relative to the
        junction's other exits); it is then kept until the junction is left.
        """
        next_edge = self._graph.edges[route[index], route[index + 1]]
        if index == 0:
            decision = next_edge["type"]
        else:
            previous_node = route[index - 1]
            inside_junction = (
                self._previous_decision != RoadOption.VOID
                and self._intersection_end_node is not None
                and self._intersection_end_node != previous_node
                and next_edge["type"] == RoadOption.LANEFOLLOW
                and next_edge["intersection"]
            )
            if inside_junction:
                decision = self._previous_decision
            else:
                self._intersection_end_node = None
                current_edge = self._graph.edges[previous_node, route[index]]
                entering_junction = (
                    current_edge["type"] == RoadOption.LANEFOLLOW
                    and not current_edge["intersection"]
                    and next_edge["type"] == RoadOption.LANEFOLLOW
                    and next_edge["intersection"]
                )
                if entering_junction:
                    decision = self._junction_decision(index, route, current_edge, threshold)
                else:
                    decision = next_edge["type"]
        self._previous_decision = decision
        return decision

    def _junction_decision(self, index: int, route: list[int], current_edge: dict, threshold: float) -> RoadOption:
        """LEFT, RIGHT or STRAIGHT for the junction entered at route[index]."""
        last_node, tail_edge = self._successive_last_intersection_edge(index, route)
        self._intersection_end_node = last_node
        chosen = tail_edge if tail_edge is not None else self._graph.edges[route[index], route[index + 1]]
        before, after = current_edge["exit_vector"], chosen["exit_vector"]
        if before is None or after is None:
            return chosen["type"]
        alternatives = [
            float(np.cross(before, edge["net_vector"])[2])
            for neighbour, edge in self._graph[route[index]].items()
            if edge["type"] == RoadOption.LANEFOLLOW and neighbour != route[index + 1] and edge["net_vector"] is not None
        ] or [0.0]
        turn = float(np.cross(before, after)[2])
        cosine = np.dot(before, after) / (np.linalg.norm(before) * np.linalg.norm(after))
        if math.acos(float(np.clip(cosine, -1.0, 1.0))) < threshold:
            return RoadOption.STRAIGHT
        if turn < min(alternatives):
            return RoadOption.LEFT
        if turn > max(alternatives):
            return RoadOption.RIGHT
        # Between the alternatives: the sign decides (CARLA's frame is left-handed: negative is left).
        return RoadOption.RIGHT if turn > 0 else RoadOption.LEFT

    @staticmethod
    def _find_closest_in_list(current_waypoint: carla.Waypoint, waypoint_list: Sequence[carla.Waypoint]) -> int:
        """Index of the waypoint of `waypoint_list` nearest to `current_waypoint`."""
        here = current_waypoint.transform.location
        distances = [here.distance(waypoint.transform.location) for waypoint in waypoint_list]
        return int(np.argmin(distances))


def _parallel(a: carla.Waypoint, b: carla.Waypoint) -> bool:
    """Whether two waypoints lie on one lane section, in lanes driven the same way."""
    return a.road_id == b.road_id and a.section_id == b.section_id and (a.lane_id > 0) == (b.lane_id > 0)


def _append(trace: RouteTrace, waypoint: carla.Waypoint, option: RoadOption) -> None:
    """Append (waypoint, option); a waypoint repeating the previous one is not appended again.

    A repeat labelled with a manoeuvre (anything but LANEFOLLOW) relabels the previous point, so
    the point shared by two segments carries the manoeuvre that starts or ends there (CARLA lists
    it twice, with both labels).
    """
    if trace and trace[-1][0].transform.location.distance(waypoint.transform.location) < _DUPLICATE_DISTANCE:
        if option != RoadOption.LANEFOLLOW:
            trace[-1] = (trace[-1][0], option)
        return
    trace.append((waypoint, option))
