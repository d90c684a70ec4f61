"""Road geometry of a `carla.Map` as flat 3D polygons: lane surfaces, sidewalks and lane markings.

Built once per map (about 2 m long quads along every driving lane), then culled per camera.
"""
from __future__ import annotations

from dataclasses import dataclass

import carla
import numpy as np

STEP = 2.0  # m between waypoints along a lane
MARKING_WIDTH = 0.15  # m
DASH_PERIOD = 6.0  # m: broken markings are painted on the first half of every period

# Surface classes (index into the palettes of `render`).
ROAD, SIDEWALK, MARKING_WHITE, MARKING_YELLOW = 0, 1, 2, 3
SIDE_LANES = {carla.LaneType.Sidewalk: SIDEWALK, carla.LaneType.Shoulder: ROAD, carla.LaneType.Parking: ROAD}


@dataclass(frozen=True)
class SchematicScene:
    """Static geometry to render.

    Fields:
        quads: (Q, 4, 3) float64 corners (m, CARLA world frame) of flat quads.
        classes: (Q,) int8 surface class (ROAD, SIDEWALK, MARKING_WHITE, MARKING_YELLOW).
        centers: (Q, 3) quad centres, for culling.
    """

    quads: np.ndarray
    classes: np.ndarray
    centers: np.ndarray

    @classmethod
    def from_map(cls, world_map: carla.Map, step: float = STEP) -> SchematicScene:
        """Sample every driving lane of `world_map` into quads."""
        quads: list[np.ndarray] = []
        classes: list[int] = []
        for waypoint in world_map.generate_waypoints(step):
            for following in waypoint.next(step):
                _lane_quads(waypoint, following, quads, classes)
        if not quads:
            return cls(np.zeros((0, 4, 3)), np.zeros(0, dtype=np.int8), np.zeros((0, 3)))
        array = np.stack(quads)
        return cls(array, np.asarray(classes, dtype=np.int8), array.mean(axis=1))


def _edge_points(waypoint: carla.Waypoint, offset: float) -> np.ndarray:
    """Point `offset` m to the right (CARLA: +y of the lane direction) of the lane centre."""
    transform = waypoint.transform
    loc = transform.location
    right = transform.get_right_vector()
    return np.array([loc.x + right.x * offset, loc.y + right.y * offset, loc.z + 0.0])


def _strip(a: carla.Waypoint, b: carla.Waypoint, left: float, right: float, lift: float = 0.0) -> np.ndarray:
    corners = np.stack([_edge_points(a, left), _edge_points(a, right), _edge_points(b, right), _edge_points(b, left)])
    corners[:, 2] += lift
    return corners


def _marking_class(marking: carla.LaneMarking) -> int | None:
    if marking is None or marking.type in (carla.LaneMarkingType.NONE, carla.LaneMarkingType.Other,
                                           carla.LaneMarkingType.Grass, carla.LaneMarkingType.Curb):
        return None
    return MARKING_YELLOW if marking.color == carla.LaneMarkingColor.Yellow else MARKING_WHITE


def _is_broken(marking: carla.LaneMarking) -> bool:
    return marking.type in (carla.LaneMarkingType.Broken, carla.LaneMarkingType.BrokenBroken)


def _lane_quads(a: carla.Waypoint, b: carla.Waypoint, quads: list[np.ndarray], classes: list[int]) -> None:
    if a.transform.location.distance(b.transform.location) > 3.0 * STEP:
        return
    half = a.lane_width / 2.0
    quads.append(_strip(a, b, -half, half))
    classes.append(ROAD)
    for side in (1.0, -1.0):
        offset, neighbour = half, a
        for _ in range(3):
            neighbour = neighbour.get_right_lane() if side > 0 else neighbour.get_left_lane()
            if neighbour is None or neighbour.lane_type == carla.LaneType.Driving:
                break
            width = neighbour.lane_width
            if neighbour.lane_type in SIDE_LANES:
                inner, outer = side * offset, side * (offset + width)
                quads.append(_strip(a, b, min(inner, outer), max(inner, outer), 0.01))
                classes.append(SIDE_LANES[neighbour.lane_type])
            offset += width
    if a.is_junction:
        return
    for marking, offset in ((a.left_lane_marking, -half), (a.right_lane_marking, half)):
        kind = _marking_class(marking)
        if kind is None:
            continue
        if _is_broken(marking) and (a.s % DASH_PERIOD) >= DASH_PERIOD / 2.0:
            continue
        quads.append(_strip(a, b, offset - MARKING_WIDTH / 2.0, offset + MARKING_WIDTH / 2.0, 0.02))
        classes.append(kind)
