"""Vectors of environments in gymnasium's same-step autoreset mode, chosen explicitly (an episode that ends returns
the next episode's first observation at once; the final one is in info['final_obs']): a SyncVectorEnv in this
process, or the same envs spread over worker processes (`process_vector.ProcessVectorEnv`, same results). Each
sub-environment builds its own worlds from the config, with its own seed. Camera observations in reconstructed scenes on
CUDA render in one batch per step (`batched_camera`)."""
from __future__ import annotations

import gymnasium as gym

from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv

AUTORESET_MODE = gym.vector.AutoresetMode.SAME_STEP


def make_vector_env(config: RLConfig, num_envs: int, split: str = "train", seed: int = 0,
                    indices: list[int] | None = None, processes: int = 1,
                    batched_camera: bool | None = None) -> gym.vector.VectorEnv:
    """`num_envs` environments stepped together; env i draws its episodes from seed `seed + i`. `indices` (instead of
    0 … num_envs-1) picks which envs of a larger set these are (rollout workers). `processes` > 1 spreads them over
    that many worker processes (one CPU core each); 1 keeps them in this process (a SyncVectorEnv).
    `batched_camera`: render the camera observations of a step in one batch (`rl.batched_camera`) instead of one
    sensor per env; None picks it for camera observations in reconstructed scenes when CUDA is there."""
    chosen = list(range(num_envs)) if indices is None else list(indices)
    if batched_camera is None:
        batched_camera = _batched_camera_fits(config)
    if batched_camera:
        from recon_carla_bridge.rl.batched_camera import batched_camera_vector_env

        return batched_camera_vector_env(config, num_envs, split, seed, indices)
    if processes > 1 and len(chosen) > 1:
        from recon_carla_bridge.rl.process_vector import ProcessVectorEnv

        return ProcessVectorEnv(config, chosen, processes, split=split, seed=seed)

    def builder(index: int):
        return lambda: ReconDrivingEnv(config, split=split, seed=seed + index)

    return gym.vector.SyncVectorEnv([builder(i) for i in chosen], autoreset_mode=AUTORESET_MODE)


def _batched_camera_fits(config: RLConfig) -> bool:
    """Camera observations, every template a reconstructed scene, and gsplat's device (CUDA) there."""
    from recon_carla_bridge.recon.render import choose_backend
    from recon_carla_bridge.scene.scene_world import is_scene

    return (config.env.observation == "camera" and all(is_scene(t.scene) for t in config.env.templates)
            and choose_backend("auto") == "gsplat")
