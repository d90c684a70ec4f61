"""CARLA 0.9.16 semantic tags carried by every Gaussian, and the small palette rendering works in.

Each Gaussian stores a CARLA tag (`CarlaTag`). Renderers accumulate one weight per *palette slot*
instead of per tag, so that the semantic pass has few channels: `SemanticPalette` maps the tags a
scene uses to slots 0..K-1 and back.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntEnum

import torch

from recon_carla_bridge.errors import InputError


class CarlaTag(IntEnum):
    """Semantic tags of CARLA 0.9.16 (the `semantic_segmentation` camera's red channel)."""

    UNLABELED = 0
    ROADS = 1
    SIDEWALKS = 2
    BUILDING = 3
    WALL = 4
    FENCE = 5
    POLE = 6
    TRAFFIC_LIGHT = 7
    TRAFFIC_SIGN = 8
    VEGETATION = 9
    TERRAIN = 10
    SKY = 11
    PEDESTRIAN = 12
    RIDER = 13
    CAR = 14
    TRUCK = 15
    BUS = 16
    TRAIN = 17
    MOTORCYCLE = 18
    BICYCLE = 19
    STATIC = 20
    DYNAMIC = 21
    OTHER = 22
    WATER = 23
    ROAD_LINE = 24
    GROUND = 25
    BRIDGE = 26
    RAIL_TRACK = 27
    GUARD_RAIL = 28


NUM_CARLA_TAGS = 29

# A vehicle longer than this [m] is tagged Truck, not Car.
TRUCK_MIN_LENGTH = 6.5


def actor_tag(category: str, length: float) -> CarlaTag:
    """CARLA tag of an actor track from its SceneLog category and box length [m]."""
    if category == "vehicle":
        return CarlaTag.TRUCK if length >= TRUCK_MIN_LENGTH else CarlaTag.CAR
    if category == "pedestrian":
        return CarlaTag.PEDESTRIAN
    if category == "cyclist":
        return CarlaTag.RIDER
    if category == "unknown":
        return CarlaTag.DYNAMIC
    raise InputError(f"track category {category!r} has no CARLA tag")


@dataclass(frozen=True)
class SemanticPalette:
    """The CARLA tags a render distinguishes, in slot order.

    Attributes:
        tags: tag of each slot; slot index = position. Sky is always present (the sky model's class).
    """

    tags: tuple[int, ...]

    @staticmethod
    def for_tags(tags: torch.Tensor) -> SemanticPalette:
        """Palette holding every tag present in `tags` [N] (any int dtype) plus Sky, sorted."""
        present = {int(t) for t in torch.unique(tags.to(torch.int64)).tolist()}
        present.add(int(CarlaTag.SKY))
        for tag in present:
            if not 0 <= tag < NUM_CARLA_TAGS:
                raise InputError(f"semantic tag {tag} is not a CARLA 0.9.16 tag (0..{NUM_CARLA_TAGS - 1})")
        return SemanticPalette(tuple(sorted(present)))

    @property
    def size(self) -> int:
        """Number of slots K."""
        return len(self.tags)

    @property
    def sky_slot(self) -> int:
        """Slot of the Sky tag."""
        return self.tags.index(int(CarlaTag.SKY))

    def slots_of(self, tags: torch.Tensor) -> torch.Tensor:
        """Slot index [N] int64 of each tag in `tags` [N]; every tag must be in the palette."""
        lookup = torch.full((NUM_CARLA_TAGS,), -1, dtype=torch.int64)
        lookup[list(self.tags)] = torch.arange(self.size)
        slots = lookup.to(tags.device)[tags.to(torch.int64)]
        if bool((slots < 0).any()):
            raise InputError("semantic tags outside the palette")
        return slots

    def tags_of(self, slots: torch.Tensor) -> torch.Tensor:
        """CARLA tags (same shape as `slots`, int64) of slot indices."""
        return _tag_table(self.tags, slots.device)[slots.to(torch.int64)]


@functools.lru_cache(maxsize=64)
def _tag_table(tags: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """[K] int64 tags on `device`, made once: a fresh host-to-GPU copy per frame would wait for the GPU."""
    return torch.tensor(tags, dtype=torch.int64).to(device)
