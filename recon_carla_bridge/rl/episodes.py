"""Seeded episode draws from the config's templates, with training and held-out parts kept apart by code.

Every episode is (template, seed, adversary parameters). The split is by construction: a seed belongs to the
held-out part when `seed % HELDOUT_EVERY == HELDOUT_RESIDUE`, and each parameter range is cut into `BINS` equal
bins of which those with `bin % HELDOUT_EVERY == HELDOUT_RESIDUE` are held out; training draws come only from
training seeds and bins, held-out draws only from held-out seeds and bins.
"""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import numpy as np

from recon_carla_bridge.adversary.parameters import ParameterRange
from recon_carla_bridge.adversary.spec import AdversarySpec, parse_adversary
from recon_carla_bridge.rl.config import EpisodeTemplate

SPLITS = ("train", "heldout")
BINS = 10
HELDOUT_EVERY = 5
HELDOUT_RESIDUE = 2


def adversary_spec(attributes: dict[str, Any], where: str) -> AdversarySpec:
    """The validated spec of an `<adversary>` given as a mapping of its attributes."""
    element = ET.Element("adversary", {str(k): str(v) for k, v in attributes.items()})
    return parse_adversary(element, where)


def seed_in_split(seed: int, split: str) -> bool:
    """Whether an episode seed belongs to `split`."""
    heldout = seed % HELDOUT_EVERY == HELDOUT_RESIDUE
    return heldout if split == "heldout" else not heldout


def split_bins(split: str) -> np.ndarray:
    """The bin indices (of BINS) of a parameter range that `split` draws from."""
    bins = np.arange(BINS)
    heldout = bins % HELDOUT_EVERY == HELDOUT_RESIDUE
    return bins[heldout] if split == "heldout" else bins[~heldout]


def draw_in_split(value: ParameterRange, split: str, rng: np.random.Generator) -> float:
    """One value of a range from the bins of `split` (a fixed value is returned as it is)."""
    if value.high <= value.low:
        return value.low
    chosen = int(rng.choice(split_bins(split)))
    u = (chosen + float(rng.uniform())) / BINS
    return value.low + (value.high - value.low) * u


def bin_of(value: float, parameter_range: ParameterRange) -> int:
    """The bin of a drawn value within its range."""
    span = parameter_range.high - parameter_range.low
    if span <= 0:
        return -1
    return min(BINS - 1, int((value - parameter_range.low) / span * BINS))


@dataclass(frozen=True)
class EpisodeDraw:
    """One seeded episode: the template, the seed, and the adversary's spec and parameters (None: no adversary)."""

    template: EpisodeTemplate
    seed: int
    split: str
    spec: AdversarySpec | None
    params: dict[str, float]


class EpisodeSampler:
    """Seeded episodes of a split: the k-th draw of a sampler seeded `seed` is always the same episode."""

    def __init__(self, templates: tuple[EpisodeTemplate, ...], split: str = "train", seed: int = 0) -> None:
        """Draw from `templates` in `split` ('train' or 'heldout')."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not templates:
            raise ValueError("EpisodeSampler needs at least one template")
        self.templates, self.split = templates, split
        self._specs = [adversary_spec(t.adversary, f"template {t.name or t.scene}") if t.adversary else None
                       for t in templates]
        self._rng = np.random.default_rng([seed, SPLITS.index(split)])
        weights = np.array([t.weight for t in templates], dtype=float)
        self._weights = None if split == "heldout" or np.all(weights == weights[0]) else weights / weights.sum()

    def draw(self) -> EpisodeDraw:
        """The next episode."""
        if self._weights is None:
            index = int(self._rng.integers(len(self.templates)))
        else:  # training draws follow the templates' weights
            index = int(self._rng.choice(len(self.templates), p=self._weights))
        seed = int(self._rng.integers(0, 2**31 - 1))
        while not seed_in_split(seed, self.split):
            seed += 1
        return self.episode(index, seed)

    def episode(self, index: int, seed: int) -> EpisodeDraw:
        """Template `index` with episode seed `seed` (its parameters drawn from the split's bins)."""
        if not seed_in_split(seed, self.split):
            raise ValueError(f"seed {seed} is not in the {self.split} split")
        spec = self._specs[index]
        params: dict[str, float] = {}
        if spec is not None:
            rng = np.random.default_rng(seed)
            params = {name: draw_in_split(spec.ranges[name], self.split, rng) for name in sorted(spec.ranges)}
            spec = dataclasses.replace(spec, seed=seed)
        return EpisodeDraw(self.templates[index], seed, self.split, spec, params)
