"""Segment queries against actor boxes (world.cast_ray / project_point)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import carla
import numpy as np

from recon_carla_bridge.world.state import ActorKind

if TYPE_CHECKING:  # pragma: no cover
    from recon_carla_bridge.world.simulation import Simulation

_LABELS = {12: carla.CityObjectLabel.Pedestrians, 14: carla.CityObjectLabel.Car, 15: carla.CityObjectLabel.Truck,
           16: carla.CityObjectLabel.Bus, 18: carla.CityObjectLabel.Motorcycle, 19: carla.CityObjectLabel.Bicycle,
           20: carla.CityObjectLabel.Static}


class LabelledPoint(carla.LabelledPoint):
    """A point with a semantic label (CARLA's class cannot be built from Python)."""

    def __init__(self, location: carla.Location, label: carla.CityObjectLabel):
        self._location, self._label = location, label

    @property
    def location(self) -> carla.Location:
        """Where the ray hit."""
        return self._location

    @property
    def label(self) -> carla.CityObjectLabel:
        """Semantic class of what was hit."""
        return self._label

    def __str__(self) -> str:
        return f"LabelledPoint({self._location}, {self._label})"

    __repr__ = __str__


def cast_ray_against_actors(sim: "Simulation", start: carla.Location, end: carla.Location) -> list[LabelledPoint]:
    """Entry points of the segment into every actor box it crosses, nearest first (slab test)."""
    p0 = np.array([start.x, start.y, start.z])
    direction = np.array([end.x, end.y, end.z]) - p0
    hits: list[tuple[float, LabelledPoint]] = []
    for state in sim.alive_states():
        if state.kind not in (ActorKind.VEHICLE, ActorKind.WALKER, ActorKind.PROP):
            continue
        yaw = math.radians(state.rotation[1])
        c, s = math.cos(yaw), math.sin(yaw)
        to_local = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        origin = to_local @ (p0 - state.location) - state.box_center
        d = to_local @ direction
        t_near, t_far = 0.0, 1.0
        for axis in range(3):
            if abs(d[axis]) < 1e-12:
                if abs(origin[axis]) > state.half_extents[axis]:
                    t_near, t_far = 1.0, 0.0
                    break
                continue
            t1 = (-state.half_extents[axis] - origin[axis]) / d[axis]
            t2 = (state.half_extents[axis] - origin[axis]) / d[axis]
            t_near, t_far = max(t_near, min(t1, t2)), min(t_far, max(t1, t2))
        if t_near <= t_far:
            point = p0 + direction * t_near
            tags = sim.semantic_tags(state.actor_id)
            label = _LABELS.get(tags[0], carla.CityObjectLabel.Other) if tags else carla.CityObjectLabel.Other
            hits.append((t_near, LabelledPoint(carla.Location(*map(float, point)), label)))
    return [hit for _, hit in sorted(hits, key=lambda item: item[0])]
