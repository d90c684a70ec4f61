"""Independent check with a stock library: stable-baselines3's PPO (MultiInputPolicy) learns the same environment with
the plain continuous action space (steer, throttle/brake), privileged observation; prints the mean return and the
collision / deviation shares of the episodes of its first and last quarter of training.

    PYTHONPATH=. python bench/sb3_check.py --steps 4096
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.config import load_rl_config
from recon_carla_bridge.rl.env import ReconDrivingEnv


class EpisodeLog(BaseCallback):
    """Collects (step, return, events) of every finished episode."""

    def __init__(self) -> None:
        super().__init__()
        self.episodes: list[tuple[int, float, list[str]]] = []
        self._returns: np.ndarray | None = None

    def _on_step(self) -> bool:
        rewards, dones, infos = self.locals["rewards"], self.locals["dones"], self.locals["infos"]
        if self._returns is None:
            self._returns = np.zeros(len(rewards))
        self._returns += rewards
        for i, done in enumerate(dones):
            if done:
                self.episodes.append((self.num_timesteps, float(self._returns[i]), list(infos[i].get("events", []))))
                self._returns[i] = 0.0
        return True


def summary(episodes: list[tuple[int, float, list[str]]]) -> dict[str, float]:
    """Mean return and event shares."""
    return {"episodes": len(episodes), "return": float(np.mean([e[1] for e in episodes])),
            "collision": float(np.mean([any(x.endswith("collision") for x in e[2]) for e in episodes])),
            "deviation": float(np.mean([any("deviation" in x for x in e[2]) for e in episodes]))}


def main() -> None:
    """Train and print the first- and last-quarter summaries as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml"))
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--envs", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = load_rl_config(args.config)
    config = dataclasses.replace(base, env=dataclasses.replace(base.env, action="continuous"))
    envs = DummyVecEnv([lambda i=i: ReconDrivingEnv(config, seed=100 + i) for i in range(args.envs)])
    model = PPO("MultiInputPolicy", envs, n_steps=128, batch_size=128, learning_rate=3e-4, gamma=0.95, seed=0,
                verbose=0, device="cpu")
    log = EpisodeLog()
    model.learn(total_timesteps=args.steps, callback=log)
    quarter = max(1, len(log.episodes) // 4)
    print(json.dumps({"first_quarter": summary(log.episodes[:quarter]), "last_quarter": summary(log.episodes[-quarter:])}))


if __name__ == "__main__":
    main()
