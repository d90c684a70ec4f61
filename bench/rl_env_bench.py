"""Env steps/s of the RL environment on this machine: 1 env and a vector of N, privileged and camera observations,
with the share of wall time spent in world ticks (simulation and sensors), camera waits (rendering), the policy's
forward pass, and one PPO learning step per rollout.

    PYTHONPATH=. python bench/rl_env_bench.py --steps 200 --vector 8
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.checkpoint import interface_of, policy_for
from recon_carla_bridge.rl.config import load_rl_config
from recon_carla_bridge.rl.ppo import Batch, ppo_loss
from recon_carla_bridge.rl.vector import make_vector_env


def measure(config, num_envs: int, steps: int) -> dict[str, float]:
    """Steps/s and time shares of `steps` decisions of each of `num_envs` envs driven by a fresh policy."""
    envs = make_vector_env(config, num_envs, seed=0)
    policy = policy_for(interface_of(envs.envs[0]), config.train.hidden)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
    observation, _ = envs.reset(seed=0)
    policy_s = 0.0
    began = time.perf_counter()
    stored = []
    for _ in range(steps):
        started = time.perf_counter()
        masks = torch.as_tensor(np.stack(envs.call("action_masks")))
        obs = {k: torch.as_tensor(v) for k, v in observation.items()}
        lateral, longitudinal = policy.act(obs, masks)
        policy_s += time.perf_counter() - started
        stored.append((obs, masks, lateral, longitudinal))
        observation, *_ = envs.step(torch.stack([lateral, longitudinal], 1).numpy())
    rollout_s = time.perf_counter() - began
    tick_s = sum(env.timings["world_tick_s"] for env in envs.envs)
    camera_s = sum(env.timings["camera_wait_s"] for env in envs.envs)
    started = time.perf_counter()
    obs = {k: torch.cat([s[0][k] for s in stored]) for k in stored[0][0]}
    count = len(obs["state"])
    zeros = torch.zeros(count)
    batch = Batch(obs, torch.cat([s[1] for s in stored]), torch.cat([s[2] for s in stored]),
                  torch.cat([s[3] for s in stored]), zeros, zeros, torch.randn(count), torch.randn(count), zeros, zeros)
    loss, _ = ppo_loss(policy, batch, 0.2, 0.5, 0.0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    learn_s = time.perf_counter() - started
    envs.close()
    total = rollout_s + learn_s
    decisions = steps * num_envs
    return {"envs": num_envs, "decisions": decisions, "decisions_per_s": decisions / rollout_s,
            "world_ticks_per_s": decisions * round(config.env.anchor_horizon * config.env.frame_rate) / rollout_s,
            "share_world_tick(simulation+sensors)": tick_s / total, "share_camera_wait(rendering)": camera_s / total,
            "share_policy": policy_s / total,
            "share_learning": learn_s / total,
            "share_env_python_and_rest": max(0.0, 1 - (tick_s + camera_s + policy_s + learn_s) / total)}


def main() -> None:
    """Print one JSON line per setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml"))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--vector", type=int, default=8)
    parser.add_argument("--observations", nargs="+", default=["privileged", "camera"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = load_rl_config(args.config)
    for kind in args.observations:
        config = dataclasses.replace(base, env=dataclasses.replace(base.env, observation=kind))
        for count in (1, args.vector):
            print(json.dumps({"observation": kind, **measure(config, count, args.steps)}), flush=True)


if __name__ == "__main__":
    main()
