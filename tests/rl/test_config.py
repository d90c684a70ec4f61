"""Bad configs are clear errors naming the key; the shipped config loads."""
from __future__ import annotations

import pytest
import yaml

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.config import config_from_mapping, load_rl_config
from tests.rl.conftest import tiny_mapping


def test_shipped_config_loads():
    config = load_rl_config(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml")
    assert config.env.lateral_bins == 61 and len(config.env.templates) >= 2


def test_unknown_key_is_named(tmp_path):
    mapping = tiny_mapping()
    mapping["ppo"]["gama"] = 0.9
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(mapping))
    with pytest.raises(InputError, match=r"bad.yaml.*unknown key 'gama'.*did you mean 'gamma'"):
        load_rl_config(path)


def test_out_of_range_value_is_named():
    mapping = tiny_mapping()
    mapping["reward"] = {"position_threshold": -1.0}
    with pytest.raises(InputError, match=r"reward.position_threshold=-1.0 is outside"):
        config_from_mapping(mapping, "cfg")


def test_bad_manoeuvre_in_a_template_is_named():
    mapping = tiny_mapping()
    mapping["env"]["templates"][0]["adversary"]["manoeuvre"] = "barrel_roll"
    with pytest.raises(InputError, match=r"env.templates\[0\].adversary.*unknown manoeuvre 'barrel_roll'"):
        config_from_mapping(mapping, "cfg")


def test_bad_choice_is_named():
    mapping = tiny_mapping()
    mapping["env"]["action"] = "teleport"
    with pytest.raises(InputError, match=r"env.action='teleport' is not one of anchors, continuous"):
        config_from_mapping(mapping, "cfg")


def test_bad_template_weight_is_named():
    mapping = tiny_mapping()
    mapping["env"]["templates"][0]["weight"] = 0
    with pytest.raises(InputError, match=r"templates\[0\]\.weight"):
        config_from_mapping(mapping, "cfg")


def test_optional_number_is_checked():
    mapping = tiny_mapping()
    mapping["ppo"] = {"il_lateral_coef": "lots"}
    with pytest.raises(InputError, match="il_lateral_coef='lots' is not a number"):
        config_from_mapping(mapping, "cfg")
    mapping["ppo"] = {"il_lateral_coef": -1}
    with pytest.raises(InputError, match="il_lateral_coef"):
        config_from_mapping(mapping, "cfg")
    mapping["ppo"] = {"il_lateral_coef": None}
    assert config_from_mapping(mapping, "cfg").ppo.il_lateral_coef is None
