"""World snapshots and actor lists, as `carla.WorldSnapshot` / `carla.ActorSnapshot` / `carla.ActorList`."""
from __future__ import annotations

import fnmatch
from typing import Iterator

import carla
import numpy as np

from recon_carla_bridge.world.geometry import to_transform, vector3d


class ActorSnapshot(carla.ActorSnapshot):
    """An actor's state frozen at one frame."""

    def __init__(self, actor_id: int, location: np.ndarray, rotation: np.ndarray, velocity: np.ndarray,
                 angular_velocity: np.ndarray, acceleration: np.ndarray):
        self._id = actor_id
        self._pose = (location.copy(), rotation.copy())
        self._velocity, self._angular, self._accel = velocity.copy(), angular_velocity.copy(), acceleration.copy()

    @property
    def id(self) -> int:
        """Actor id."""
        return self._id

    def get_transform(self) -> carla.Transform:
        """Transform at the snapshot frame."""
        return to_transform(*self._pose)

    def get_velocity(self) -> carla.Vector3D:
        """m/s."""
        return vector3d(self._velocity)

    def get_angular_velocity(self) -> carla.Vector3D:
        """deg/s."""
        return vector3d(self._angular)

    def get_acceleration(self) -> carla.Vector3D:
        """m/s²."""
        return vector3d(self._accel)

    def __str__(self) -> str:
        return f"ActorSnapshot(id={self._id})"

    __repr__ = __str__


class WorldSnapshot(carla.WorldSnapshot):
    """All actors at one frame, with the timestamp."""

    def __init__(self, world_id: int, timestamp: carla.Timestamp, actors: dict[int, ActorSnapshot]):
        self._world_id = world_id
        self._timestamp = timestamp
        self._actors = actors

    @property
    def id(self) -> int:
        """Id of the world (episode)."""
        return self._world_id

    @property
    def frame(self) -> int:
        """Frame number."""
        return self._timestamp.frame

    @property
    def timestamp(self) -> carla.Timestamp:
        """carla.Timestamp of the frame."""
        return self._timestamp

    def has_actor(self, actor_id: int) -> bool:
        """Whether the actor existed at this frame."""
        return actor_id in self._actors

    def find(self, actor_id: int) -> ActorSnapshot | None:
        """The actor's snapshot, or None."""
        return self._actors.get(actor_id)

    def __iter__(self) -> Iterator[ActorSnapshot]:
        return iter(list(self._actors.values()))

    def __len__(self) -> int:
        return len(self._actors)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WorldSnapshot) and other._world_id == self._world_id and other.frame == self.frame

    def __hash__(self) -> int:
        return hash((self._world_id, self.frame))

    def __str__(self) -> str:
        return f"WorldSnapshot(frame={self.frame})"

    __repr__ = __str__


class ActorList(carla.ActorList):
    """A list of actors with CARLA's `filter(wildcard)` (on type_id) and `find(id)`."""

    def __init__(self, actors: list[carla.Actor]):
        self._actors = list(actors)

    def filter(self, wildcard_pattern: str) -> "ActorList":
        """Actors whose type_id matches the fnmatch pattern."""
        return ActorList([a for a in self._actors if fnmatch.fnmatchcase(a.type_id, wildcard_pattern)])

    def find(self, actor_id: int) -> carla.Actor | None:
        """The actor with this id, or None."""
        for actor in self._actors:
            if actor.id == actor_id:
                return actor
        return None

    def __iter__(self) -> Iterator[carla.Actor]:
        return iter(list(self._actors))

    def __len__(self) -> int:
        return len(self._actors)

    def __getitem__(self, index: int) -> carla.Actor:
        return self._actors[index]

    def __str__(self) -> str:
        return "ActorList([" + ", ".join(str(a) for a in self._actors) + "])"

    __repr__ = __str__


class DebugHelper:
    """`world.debug`: drawing calls are accepted and recorded (there is no viewport to draw in).

    The last `MAX_RECORDED` shapes are kept in `shapes` so tools (BEV plots, reports) can show them.
    """

    MAX_RECORDED = 2000

    def __init__(self) -> None:
        self.shapes: list[tuple[str, tuple]] = []

    def _record(self, kind: str, *args: object) -> None:
        self.shapes.append((kind, args))
        if len(self.shapes) > self.MAX_RECORDED:
            del self.shapes[: len(self.shapes) - self.MAX_RECORDED]

    def draw_point(self, location, size=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a point."""
        self._record("point", location, size, color, life_time)

    def draw_line(self, begin, end, thickness=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a line."""
        self._record("line", begin, end, thickness, color, life_time)

    def draw_arrow(self, begin, end, thickness=0.1, arrow_size=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record an arrow."""
        self._record("arrow", begin, end, thickness, color, life_time)

    def draw_box(self, box, rotation, thickness=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a box."""
        self._record("box", box, rotation, thickness, color, life_time)

    def draw_string(self, location, text, draw_shadow=False, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a text label."""
        self._record("string", location, text, color, life_time)

    def draw_hud_point(self, location, size=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a HUD point."""
        self._record("hud_point", location, size, color, life_time)

    def draw_hud_line(self, begin, end, thickness=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a HUD line."""
        self._record("hud_line", begin, end, thickness, color, life_time)

    def draw_hud_arrow(self, begin, end, thickness=0.1, arrow_size=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a HUD arrow."""
        self._record("hud_arrow", begin, end, thickness, color, life_time)

    def draw_hud_box(self, box, rotation, thickness=0.1, color=None, life_time=-1.0, persistent_lines=True):  # noqa: ANN001
        """Record a HUD box."""
        self._record("hud_box", box, rotation, thickness, color, life_time)
