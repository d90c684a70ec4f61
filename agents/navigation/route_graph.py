"""The road graph under the global route planner, built from a GlobalRoutePlannerDAO's topology.

Nodes are lane end points ('vertex': (x, y, z)); each lane segment is a LANEFOLLOW edge carrying
CARLA's edge attributes (length, path, entry_waypoint, exit_waypoint, entry_vector, exit_vector,
net_vector, intersection, type). Lane changes allowed by the lane markings add zero-length
CHANGELANELEFT/CHANGELANERIGHT edges between neighbouring lanes of the same road.

Differences from CARLA 0.9.16, both fixes:
- end points are merged when closer than `NODE_MERGE_TOLERANCE` (CARLA rounds to whole metres,
  which merges lane ends that differ by a millimetre only when they fall in the same metre cell);
- an edge's `length` is its length in metres, so the A* heuristic (straight-line metres) is
  admissible at any resolution (CARLA counts samples, i.e. metres / resolution).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import carla
import networkx as nx
import numpy as np

from agents.navigation.global_route_planner_dao import Segment
from agents.navigation.road_option import RoadOption
from agents.tools.misc import vector

NODE_MERGE_TOLERANCE = 0.1
"""Lane end points closer than this (metres) are one graph node."""

LaneKey = tuple[int, int, int]
"""(road_id, section_id, lane_id) of a lane."""


def lane_key(waypoint: carla.Waypoint) -> LaneKey:
    """The (road_id, section_id, lane_id) of a waypoint."""
    return waypoint.road_id, waypoint.section_id, waypoint.lane_id


class _NodeIndex:
    """Assigns node ids to 3D points, merging points within a tolerance (grid hashing)."""

    def __init__(self, tolerance: float) -> None:
        """Empty index with cells of size `tolerance`."""
        self._tolerance = tolerance
        self._cells: dict[tuple[int, int, int], list[tuple[int, np.ndarray]]] = {}
        self.count = 0

    def node_for(self, location: carla.Location) -> tuple[int, bool]:
        """The id of the node at `location` and whether it was created by this call."""
        point = np.array([location.x, location.y, location.z])
        cell = tuple(int(c) for c in np.floor(point / self._tolerance))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    for node, other in self._cells.get((cell[0] + dx, cell[1] + dy, cell[2] + dz), ()):
                        if np.linalg.norm(point - other) <= self._tolerance:
                            return node, False
        node = self.count
        self.count += 1
        self._cells.setdefault(cell, []).append((node, point))
        return node, True


def _xyz(location: carla.Location) -> tuple[float, float, float]:
    """A location as a plain tuple."""
    return location.x, location.y, location.z


def _forward(waypoint: carla.Waypoint) -> np.ndarray:
    """The heading of a waypoint as a numpy 3-vector."""
    f = waypoint.transform.rotation.get_forward_vector()
    return np.array([f.x, f.y, f.z])


def _polyline_length(waypoints: list[carla.Waypoint]) -> float:
    """Length in metres of the polyline through the waypoints."""
    return sum(a.transform.location.distance(b.transform.location) for a, b in itertools.pairwise(waypoints))


@dataclass
class RouteGraph:
    """The directed road graph and the lane-to-edge index the planner localises with."""

    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    """Nodes: lane end points; edges: lane segments and lane changes."""
    road_id_to_edge: dict[int, dict[int, dict[int, tuple[int, int]]]] = field(default_factory=dict)
    """road_id -> section_id -> lane_id -> (entry node, exit node), CARLA's nesting."""
    id_map: dict[tuple[float, float, float], int] = field(default_factory=dict)
    """Node id of each end point, keyed by its exact (x, y, z)."""

    def edge_of(self, waypoint: carla.Waypoint) -> tuple[int, int] | None:
        """The (entry, exit) nodes of the lane segment holding `waypoint`, or None."""
        road, section, lane = lane_key(waypoint)
        return self.road_id_to_edge.get(road, {}).get(section, {}).get(lane)

    def set_edge_of(self, key: LaneKey, edge: tuple[int, int]) -> None:
        """Record `edge` as the segment of the lane `key`."""
        road, section, lane = key
        self.road_id_to_edge.setdefault(road, {}).setdefault(section, {})[lane] = edge


def build_route_graph(segments: list[Segment], resolution: float) -> RouteGraph:
    """Build the graph: lane segments, then loose ends, then lane-change links."""
    index = _NodeIndex(NODE_MERGE_TOLERANCE)
    route_graph = RouteGraph()

    def node_at(location: carla.Location) -> int:
        node, created = index.node_for(location)
        if created:
            route_graph.graph.add_node(node, vertex=_xyz(location))
        route_graph.id_map[_xyz(location)] = node
        return node

    for segment in segments:
        entry, exit_ = segment["entry"], segment["exit"]
        n1 = node_at(entry.transform.location)
        n2 = node_at(exit_.transform.location)
        route_graph.set_edge_of(lane_key(entry), (n1, n2))
        route_graph.graph.add_edge(
            n1, n2,
            length=max(_polyline_length([entry, *segment["path"], exit_]), 1e-3),
            path=segment["path"],
            entry_waypoint=entry,
            exit_waypoint=exit_,
            entry_vector=_forward(entry),
            exit_vector=_forward(exit_),
            net_vector=vector(entry.transform.location, exit_.transform.location),
            intersection=entry.is_junction,
            type=RoadOption.LANEFOLLOW,
        )
    _add_loose_ends(route_graph, segments, resolution, node_at)
    _add_lane_change_links(route_graph, segments)
    return route_graph


def _add_loose_ends(
    route_graph: RouteGraph, segments: list[Segment], resolution: float, node_at: Callable[[carla.Location], int]
) -> None:
    """Give an edge to every lane that a segment exits into but that has no segment of its own.

    The lane is followed with `Waypoint.next` until it ends, so waypoints on it can be localised.
    """
    for segment in segments:
        exit_ = segment["exit"]
        key = lane_key(exit_)
        if route_graph.edge_of(exit_) is not None:
            continue
        path: list[carla.Waypoint] = []
        candidates = exit_.next(resolution)
        while candidates and lane_key(candidates[0]) == key and len(path) < 100_000:
            path.append(candidates[0])
            candidates = candidates[0].next(resolution)
        if not path:
            continue
        n1 = node_at(exit_.transform.location)
        n2 = node_at(path[-1].transform.location)
        route_graph.set_edge_of(key, (n1, n2))
        route_graph.graph.add_edge(
            n1, n2,
            length=max(_polyline_length([exit_, *path]), 1e-3),
            path=path[:-1],
            entry_waypoint=exit_,
            exit_waypoint=path[-1],
            entry_vector=None,
            exit_vector=None,
            net_vector=None,
            intersection=exit_.is_junction,
            type=RoadOption.LANEFOLLOW,
        )


def _lane_change_target(waypoint: carla.Waypoint, side: str) -> carla.Waypoint | None:
    """The neighbouring driving lane of the same road on `side` ('left'/'right') if markings allow a change."""
    marking = waypoint.right_lane_marking if side == "right" else waypoint.left_lane_marking
    allowed = carla.LaneChange.Right if side == "right" else carla.LaneChange.Left
    if marking is None or not (marking.lane_change & allowed):
        return None
    neighbour = waypoint.get_right_lane() if side == "right" else waypoint.get_left_lane()
    if neighbour is None or neighbour.lane_type != carla.LaneType.Driving or neighbour.road_id != waypoint.road_id:
        return None
    return neighbour


def _add_lane_change_links(route_graph: RouteGraph, segments: list[Segment]) -> None:
    """Add, per non-junction segment and side, one lane-change edge at the first sample allowing it.

    The edge runs from the segment's entry node to the entry node of the neighbouring lane's
    segment, with length 0, as CARLA's planner does; `change_waypoint` is where it lands.
    """
    options = {"left": RoadOption.CHANGELANELEFT, "right": RoadOption.CHANGELANERIGHT}
    for segment in segments:
        if segment["entry"].is_junction:
            continue
        source = route_graph.edge_of(segment["entry"])
        if source is None:
            continue
        pending = set(options)
        for waypoint in segment["path"]:
            for side in sorted(pending):
                neighbour = _lane_change_target(waypoint, side)
                target = route_graph.edge_of(neighbour) if neighbour is not None else None
                if target is None or target[0] == source[0] or route_graph.graph.has_edge(source[0], target[0]):
                    continue
                route_graph.graph.add_edge(
                    source[0], target[0],
                    entry_waypoint=waypoint,
                    exit_waypoint=neighbour,
                    intersection=False,
                    exit_vector=None,
                    path=[],
                    length=0.0,
                    type=options[side],
                    change_waypoint=neighbour,
                )
                pending.discard(side)
            if not pending:
                break


def straight_line_distance(graph: nx.DiGraph, n1: int, n2: int) -> float:
    """Euclidean distance between two nodes' vertices: the A* heuristic."""
    return math.dist(graph.nodes[n1]["vertex"], graph.nodes[n2]["vertex"])
