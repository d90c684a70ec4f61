"""Vectors of environments in gymnasium's same-step autoreset mode, chosen explicitly (an episode that ends returns
the next episode's first observation at once; the final one is in info['final_obs']): a SyncVectorEnv in this
process, or the same envs spread over worker processes (`process_vector.ProcessVectorEnv`, same results). Each
sub-environment builds its own worlds from the config, with its own seed."""
from __future__ import annotations

import gymnasium as gym

from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv

AUTORESET_MODE = gym.vector.AutoresetMode.SAME_STEP


def make_vector_env(config: RLConfig, num_envs: int, split: str = "train", seed: int = 0,
                    indices: list[int] | None = None, processes: int = 1) -> gym.vector.VectorEnv:
    """`num_envs` environments stepped together; env i draws its episodes from seed `seed + i`. `indices` (instead of
    0 … num_envs-1) picks which envs of a larger set these are (rollout workers). `processes` > 1 spreads them over
    that many worker processes (one CPU core each); 1 keeps them in this process (a SyncVectorEnv)."""
    chosen = list(range(num_envs)) if indices is None else list(indices)
    if processes > 1 and len(chosen) > 1:
        from recon_carla_bridge.rl.process_vector import ProcessVectorEnv

        return ProcessVectorEnv(config, chosen, processes, split=split, seed=seed)

    def builder(index: int):
        return lambda: ReconDrivingEnv(config, split=split, seed=seed + index)

    return gym.vector.SyncVectorEnv([builder(i) for i in chosen], autoreset_mode=AUTORESET_MODE)
