"""Demonstrations for imitation: the expert (`expert`) drives seeded training episodes; per decision the observation,
the ego's pose and speed, and the expert's anchor are written to an .npz file. With `il.demo_noise`, a share of
the decisions is driven with a perturbed lateral anchor while the label stays the expert's (DART), so that the
demonstrations show how to come back to the path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.expert import expert_anchor


def collect_demonstrations(config: RLConfig, episodes: int, path: str | os.PathLike[str], seed: int = 0,
                           progress: bool = True) -> dict[str, np.ndarray]:
    """Run the expert for `episodes` training episodes and write (and return) the demonstration arrays."""
    env = ReconDrivingEnv(config, split="train", seed=seed)
    rows: dict[str, list] = {k: [] for k in ("x", "y", "yaw", "speed", "lateral", "longitudinal", "episode", "reward")}
    observations: dict[str, list] = {k: [] for k in env.observation_space.spaces}
    observation, _ = env.reset(seed=seed)
    rng = np.random.default_rng([seed, 7])
    for episode in tqdm(range(episodes), desc="demonstrations", disable=not progress):
        while True:
            lateral, longitudinal = expert_anchor(env)
            ego = env.ego_state
            for key in observations:
                observations[key].append(observation[key])
            for key, value in (("x", ego.xy[0]), ("y", ego.xy[1]), ("yaw", ego.yaw), ("speed", ego.speed),
                               ("lateral", lateral), ("longitudinal", longitudinal), ("episode", episode)):
                rows[key].append(value)
            driven = (lateral, longitudinal)
            if rng.uniform() < config.il.demo_noise:  # DART-style: stray from the expert, keep its label
                driven = (int(np.clip(lateral + rng.integers(-config.il.demo_noise_bins, config.il.demo_noise_bins + 1),
                                      0, env.grid.lateral_bins - 1)), longitudinal)
            observation, reward, terminated, truncated, _ = env.step(np.array(driven))
            rows["reward"].append(reward)
            if terminated or truncated:
                observation, _ = env.reset()
                break
    env.close()
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    arrays.update({f"obs_{k}": np.stack(v) for k, v in observations.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


def load_demonstrations(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of a demonstration file; InputError naming it when unreadable."""
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a demonstration file ({error})") from None
