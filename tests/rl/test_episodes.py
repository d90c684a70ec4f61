"""Held-out episodes never share a seed or a parameter bin with training episodes."""
from __future__ import annotations

from recon_carla_bridge.rl.config import config_from_mapping
from recon_carla_bridge.rl.episodes import EpisodeSampler, bin_of, seed_in_split
from tests.rl.conftest import tiny_mapping


def test_train_and_heldout_draws_are_disjoint():
    config = config_from_mapping(tiny_mapping(), "cfg")
    sampler_train = EpisodeSampler(config.env.templates, "train", 0)
    sampler_heldout = EpisodeSampler(config.env.templates, "heldout", 0)
    train = [sampler_train.draw() for _ in range(200)]
    heldout = [sampler_heldout.draw() for _ in range(200)]
    assert not {d.seed for d in train} & {d.seed for d in heldout}
    assert all(seed_in_split(d.seed, "heldout") for d in heldout)
    ranges = heldout[0].spec.ranges
    for name, value_range in ranges.items():
        if value_range.high > value_range.low:
            train_bins = {bin_of(d.params[name], value_range) for d in train}
            heldout_bins = {bin_of(d.params[name], value_range) for d in heldout}
            assert train_bins and heldout_bins and not train_bins & heldout_bins, name


def test_same_seed_same_draws():
    config = config_from_mapping(tiny_mapping(), "cfg")
    a = [EpisodeSampler(config.env.templates, "train", 5).draw() for _ in range(3)]
    b = [EpisodeSampler(config.env.templates, "train", 5).draw() for _ in range(3)]
    assert [(d.seed, d.params) for d in a] == [(d.seed, d.params) for d in b]


def test_template_weights_shape_training_draws_but_not_heldout_ones():
    import copy

    mapping = tiny_mapping()
    first = copy.deepcopy(mapping["env"]["templates"][0])
    second = {**copy.deepcopy(first), "name": "heavy", "weight": 4}
    mapping["env"]["templates"] = [{**first, "name": "light"}, second]
    config = config_from_mapping(mapping, "cfg")
    sampler = EpisodeSampler(config.env.templates, "train", 3)
    train = [sampler.draw().template.name for _ in range(1000)]
    assert 0.74 < train.count("heavy") / len(train) < 0.86  # 4 / (4 + 1)
    unweighted = dict(mapping, env=dict(mapping["env"], templates=[{**first, "name": "light"},
                                                                   {**second, "weight": 1}]))
    heldout_weighted = EpisodeSampler(config.env.templates, "heldout", 3)
    heldout_plain = EpisodeSampler(config_from_mapping(unweighted, "cfg").env.templates, "heldout", 3)
    weighted_draws = [heldout_weighted.draw() for _ in range(50)]
    plain_draws = [heldout_plain.draw() for _ in range(50)]
    assert [(d.template.name, d.seed) for d in weighted_draws] == [(d.template.name, d.seed) for d in plain_draws]
