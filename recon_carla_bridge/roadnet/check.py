"""Check a scene's OpenDRIVE with the real road model: carla.Map loads it and the ego drives in a lane."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recon_carla_bridge.errors import InputError

MARKING_PROBE_M = 0.2  # a position on a lane border is looked up this far to either side

if TYPE_CHECKING:
    import carla


@dataclass(frozen=True)
class LaneCheck:
    """Result of placing the ego path on the road network.

    Attributes:
        frames: number of ego positions checked.
        in_driving_lane: how many fell inside a driving lane running in the ego's direction.
        lane_ids: the OpenDRIVE lane id found at each position (0 = none).
        on_marking: positions on the marking between two lanes (carla.Map finds no lane exactly on a
            lane border; a lane `MARKING_PROBE_M` to either side counts).
    """

    frames: int
    in_driving_lane: int
    lane_ids: tuple[int, ...]
    on_marking: int = 0

    @property
    def fraction(self) -> float:
        """Share of positions in a driving lane, in [0, 1]."""
        return self.in_driving_lane / self.frames if self.frames else 0.0


def load_carla_map(name: str, xodr_text: str) -> carla.Map:
    """Build a carla.Map from OpenDRIVE text client-side; an unusable file raises InputError."""
    import carla

    try:
        carla_map = carla.Map(name, xodr_text)
    except RuntimeError as error:
        raise InputError(f"OpenDRIVE {name!r} does not load in carla.Map ({error})") from error
    if not carla_map.get_topology() and not carla_map.generate_waypoints(5.0):
        raise InputError(f"OpenDRIVE {name!r} loads but has no drivable lanes")
    return carla_map


def check_ego_in_lane(carla_map: carla.Map, positions: np.ndarray, yaws: np.ndarray) -> LaneCheck:
    """For world (F, 3) positions and (F,) yaws: is each inside a driving lane whose direction matches?

    World (x, y, z) is CARLA Location(x, -y, z) and world yaw psi is CARLA yaw -degrees(psi).
    """
    lane_ids = []
    inside = marking = 0
    for (x, y, z), yaw in zip(positions, yaws):
        waypoint = _driving_waypoint(carla_map, x, y, z)
        if waypoint is None:
            side = MARKING_PROBE_M * np.array([-np.sin(yaw), np.cos(yaw)])
            probes = (_driving_waypoint(carla_map, x + dx, y + dy, z) for dx, dy in (side, -side))
            waypoint = next((w for w in probes if w is not None), None)
            marking += waypoint is not None
        if waypoint is None:
            lane_ids.append(0)
            continue
        lane_ids.append(int(waypoint.lane_id))
        lane_yaw = -np.radians(waypoint.transform.rotation.yaw)
        if np.cos(lane_yaw - yaw) > 0.5:
            inside += 1
    return LaneCheck(len(positions), inside, tuple(lane_ids), marking)


def _driving_waypoint(carla_map: carla.Map, x: float, y: float, z: float) -> carla.Waypoint | None:
    """The driving-lane waypoint at world (x, y, z), None off every driving lane."""
    import carla

    return carla_map.get_waypoint(carla.Location(float(x), float(-y), float(z)), project_to_road=False, lane_type=carla.LaneType.Driving)
