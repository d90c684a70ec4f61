"""A few PPO updates on a tiny scene run and change the policy; checkpoints from another layout are refused;
--resume goes on from the last checkpoint; the command line names bad input."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from recon_carla_bridge.cli import main
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.checkpoint import interface_of, load_checkpoint
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.train import train_il, train_rl
from tests.rl.conftest import tiny_mapping


def test_il_then_ppo_updates_change_the_policy_and_resume_goes_on(tiny_config):
    il_path = train_il(tiny_config, progress=False)
    il_policy, _ = load_checkpoint(il_path)
    rl_path = train_rl(tiny_config, progress=False)
    rl_policy, data = load_checkpoint(rl_path)
    assert data["update"] == 2 and data["step"] == 32
    changed = [not torch.equal(a, b) for a, b in zip(il_policy.state_dict().values(), rl_policy.state_dict().values())]
    assert any(changed)
    longer = dataclasses.replace(tiny_config, train=dataclasses.replace(tiny_config.train, total_steps=48))
    _, resumed = load_checkpoint(train_rl(longer, resume=True, progress=False))
    assert resumed["update"] == 3 and resumed["step"] == 48


def test_checkpoint_from_another_layout_is_refused(tiny_config, tmp_path):
    path = train_il(tiny_config, progress=False)
    other = dataclasses.replace(tiny_config, env=dataclasses.replace(tiny_config.env, nearby_actors=4))
    with pytest.raises(InputError, match=r"state layout differs"):
        load_checkpoint(path, interface_of(ReconDrivingEnv(other)))
    bins = dataclasses.replace(tiny_config, env=dataclasses.replace(tiny_config.env, lateral_bins=41))
    with pytest.raises(InputError, match=r"action differs.*lateral_bins: 21 vs 41"):
        load_checkpoint(path, interface_of(ReconDrivingEnv(bins)))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="junk.pt"):
        load_checkpoint(junk)


def test_cli_names_a_bad_key(tmp_path, capsys):
    mapping = tiny_mapping(str(tmp_path / "run"))
    mapping["train"]["num_env"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(mapping))
    assert main(["train", "il", "--config", str(path), "--quiet"]) == 2
    assert "unknown key 'num_env'" in capsys.readouterr().err


def test_cli_set_overrides_a_value_and_names_bad_ones(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tiny_mapping(str(tmp_path / "run"))))
    other = tmp_path / "elsewhere"
    assert main(["train", "il", "--config", str(path), "--quiet", "--set", f"train.out_dir={other}",
                 "--set", "il.epochs=1"]) == 0
    assert (other / "il.pt").exists() and not (tmp_path / "run" / "il.pt").exists()
    assert load_checkpoint(other / "il.pt")[1]["config"]["il"]["epochs"] == 1
    assert main(["train", "il", "--config", str(path), "--quiet", "--set", "train.num_envs=-2"]) == 2
    assert "train.num_envs" in capsys.readouterr().err
    assert main(["train", "il", "--config", str(path), "--quiet", "--set", "num_envs=2"]) == 2
    assert "expected SECTION.KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "il", "--config", str(path), "--quiet", "--set", "train.num_env=2"]) == 2
    assert "unknown key 'num_env'" in capsys.readouterr().err



def test_cli_set_fills_a_section_the_file_leaves_empty(tmp_path):
    mapping = tiny_mapping(str(tmp_path / "run"))
    mapping.pop("reward", None)
    path = tmp_path / "empty_section.yaml"
    path.write_text(yaml.safe_dump(mapping) + "reward:\n")  # an empty section: YAML reads it as None
    assert main(["train", "il", "--config", str(path), "--quiet", "--set", "reward.progress=0.01",
                 "--set", "il.epochs=1"]) == 0
    assert load_checkpoint(tmp_path / "run" / "il.pt")[1]["config"]["reward"]["progress"] == 0.01
