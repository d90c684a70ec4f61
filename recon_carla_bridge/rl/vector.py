"""Vectors of environments: gymnasium's SyncVectorEnv in the same-step autoreset mode, chosen explicitly (an episode
that ends returns the next episode's first observation at once; the final one is in info['final_obs']). Each
sub-environment builds its own worlds from the config, with its own seed."""
from __future__ import annotations

import gymnasium as gym

from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv

AUTORESET_MODE = gym.vector.AutoresetMode.SAME_STEP


def make_vector_env(config: RLConfig, num_envs: int, split: str = "train", seed: int = 0,
                    indices: list[int] | None = None) -> gym.vector.SyncVectorEnv:
    """`num_envs` environments stepped together in this process; env i draws its episodes from seed `seed + i`.
    `indices` (instead of 0 … num_envs-1) picks which envs of a larger set these are (rollout workers)."""
    def builder(index: int):
        return lambda: ReconDrivingEnv(config, split=split, seed=seed + index)

    chosen = list(range(num_envs)) if indices is None else list(indices)
    return gym.vector.SyncVectorEnv([builder(i) for i in chosen], autoreset_mode=AUTORESET_MODE)
