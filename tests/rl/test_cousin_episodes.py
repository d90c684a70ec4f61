"""CTG episodes: the expert path is a checked cousin of the bundled KITTI scene's logged drive, and the expert follows it."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.rl.config import config_from_mapping
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.expert import expert_anchor


def test_cousin_episode_starts_on_a_cousin_and_the_expert_follows_it():
    config = config_from_mapping({"env": {"templates": [{"name": "ctg", "scene": "kitti", "speed": 3.0, "cousins": True}],
                                          "max_steps": 6}}, "cfg")
    env = ReconDrivingEnv(config)
    _, info = env.reset(seed=0)
    names = [name for name, _ in env._cousins["kitti"]]
    assert info["cousin"] in names and "log" in names
    trajectory = dict(env._cousins["kitti"])[info["cousin"]]
    assert np.linalg.norm(env.ego_state.xy - trajectory.xy[0]) < 1.0  # the ego starts where the cousin does
    for _ in range(6):
        _, _, terminated, truncated, step_info = env.step(np.array(expert_anchor(env)))
        assert abs(step_info["offset"]) < 0.5 and not terminated
        if truncated:
            break
    env.close()
