"""A tiny RL config on Town04 (a straight multi-lane stretch, a DAA brake check), fast on the CPU."""
from __future__ import annotations

import pytest

from recon_carla_bridge.rl.config import config_from_mapping

TOWN04_EGO = [-503.73, 177.59, 90.36]


def tiny_mapping(out_dir: str = "out/rl_test") -> dict:
    """The config as a mapping (tests change keys of it)."""
    return {
        "env": {"templates": [{"name": "brake", "scene": "Town04", "ego": TOWN04_EGO,
                               "adversary": {"manoeuvre": "brake_check", "start_offset": 20, "cruise_speed": 6,
                                             "trigger_distance": "15:20"}}],
                "max_steps": 8, "lateral_bins": 21, "longitudinal_bins": 31, "nearby_actors": 2},
        "ppo": {"rollout_steps": 8, "epochs": 2, "minibatches": 2},
        "il": {"demo_episodes": 1, "epochs": 2, "batch_size": 16},
        "train": {"total_steps": 32, "num_envs": 2, "hidden": 16, "out_dir": out_dir},
    }


@pytest.fixture()
def tiny_config(tmp_path):
    """A validated tiny config writing under tmp_path."""
    return config_from_mapping(tiny_mapping(str(tmp_path / "run")), "tiny")
