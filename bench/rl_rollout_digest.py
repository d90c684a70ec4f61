"""A digest of a seeded rollout of the RL env: `decisions` decisions of one env (random feasible anchors from a
seeded generator, autoreset), hashing every observation, reward, termination and the info's numbers. Two code
versions that give the same digest ran the same episodes bit for bit (use it around speed work).

    PYTHONPATH=. python bench/rl_rollout_digest.py --decisions 300
"""
from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np

from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.config import load_rl_config
from recon_carla_bridge.rl.env import ReconDrivingEnv


def rollout_digest(config_path: str, decisions: int, seed: int = 0) -> tuple[str, int, float]:
    """(sha256 hex digest, episodes, seconds) of `decisions` seeded decisions."""
    env = ReconDrivingEnv(load_rl_config(config_path), seed=seed)
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    started = time.perf_counter()
    observation, info = env.reset(seed=seed)
    episodes = 1
    for _ in range(decisions):
        rows, cols = np.nonzero(env.action_masks())
        pick = int(rng.integers(len(rows)))
        observation, reward, terminated, truncated, info = env.step((rows[pick], cols[pick]))
        for key in sorted(observation):
            digest.update(np.ascontiguousarray(observation[key]).tobytes())
        digest.update(np.array([reward, terminated, truncated], dtype=np.float64).tobytes())
        digest.update(repr(sorted((k, v) for k, v in info.items() if k != "action_mask")).encode())
        digest.update(info["action_mask"].tobytes())
        if terminated or truncated:
            observation, info = env.reset()
            episodes += 1
    seconds = time.perf_counter() - started
    env.close()
    return digest.hexdigest(), episodes, seconds


def main() -> None:
    """Print the digest, the episode count and the wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml"))
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    digest, episodes, seconds = rollout_digest(args.config, args.decisions, args.seed)
    print(f"digest {digest} episodes {episodes} decisions {args.decisions} wall {seconds:.1f}s")


if __name__ == "__main__":
    main()
