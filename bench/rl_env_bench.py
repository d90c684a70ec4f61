"""Env steps/s of the RL environment on this machine: 1 env, a vector of N in this process, and the same vector over
P worker processes; privileged and camera observations. Prints decisions/s and world ticks/s (one decision is
anchor_horizon × frame_rate ticks, fewer when a collision cuts it short), and where the time goes: simulation (the
episode loop's world ticks: adversary behaviour, physics, collisions, sensors), rendering (camera rendering inside
the ticks and waits for images), env Python (the rest of step(): anchors, observations, rewards), env reset (new
worlds, ego, adversary), the policy's forward pass, one PPO learning step per rollout, and the rest (vector
plumbing, action masks, inter-process messages).

Wall-time rates are what this machine gave (other jobs may share its cores: `uptime`); `idle_cores_estimate` divides by
CPU time instead: this process's, plus per step the CPU time of the slowest worker process (IPC latency aside).
In this process the shares are of the wall time. Over P processes the envs' shares are of the workers' CPU time
(P × the rollout's wall time), and policy / learning / rest are of the wall time (the learner waits meanwhile).

    PYTHONPATH=. python bench/rl_env_bench.py --steps 100 --vector 8 --processes 2 --observations privileged
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
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.ppo import Batch, ppo_loss
from recon_carla_bridge.rl.vector import make_vector_env


def _learn(policy: torch.nn.Module, optimizer: torch.optim.Optimizer, stored: list[tuple]) -> float:
    """Seconds of one PPO loss + update over the stored rollout."""
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
    return time.perf_counter() - started


def measure(config, num_envs: int, steps: int, processes: int = 1, warmup: int = 0) -> dict[str, float]:
    """Steps/s and time shares of `steps` decisions of each of `num_envs` envs (over `processes` processes) driven
    by a fresh policy, after `warmup` untimed decisions (one-time costs: scene Gaussians, town maps)."""
    torch.manual_seed(0)
    envs = make_vector_env(config, num_envs, seed=0, processes=processes)
    policy = policy_for(interface_of(ReconDrivingEnv(config)), config.train.hidden)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-4)
    observation, _ = envs.reset(seed=0)
    for _ in range(warmup):
        masks = torch.as_tensor(np.stack(envs.call("action_masks")))
        with torch.no_grad():
            lateral, longitudinal = policy.act({k: torch.as_tensor(v) for k, v in observation.items()}, masks)
        observation, *_ = envs.step(torch.stack([lateral, longitudinal], 1).numpy())
    before = [dict(t) for t in envs.call("timings")]
    critical_before = getattr(envs, "critical_cpu_s", 0.0)
    policy_s = 0.0
    began, began_cpu = time.perf_counter(), time.process_time()
    stored = []
    for _ in range(steps):
        started = time.perf_counter()
        masks = torch.as_tensor(np.stack(envs.call("action_masks")))
        obs = {k: torch.as_tensor(v) for k, v in observation.items()}
        with torch.no_grad():
            lateral, longitudinal = policy.act(obs, masks)
        policy_s += time.perf_counter() - started
        stored.append((obs, masks, lateral, longitudinal))
        observation, *_ = envs.step(torch.stack([lateral, longitudinal], 1).numpy())
    rollout_s = time.perf_counter() - began
    # on idle cores the rollout would take this process's CPU time plus, per step, the slowest worker's
    main_cpu_s = time.process_time() - began_cpu
    critical_s = getattr(envs, "critical_cpu_s", 0.0) - critical_before
    idle_estimate_s = main_cpu_s + critical_s
    after = [dict(t) for t in envs.call("timings")]
    envs.close()
    learn_s = _learn(policy, optimizer, stored)
    spent = {key: sum(a[key] - b[key] for a, b in zip(after, before)) for key in after[0]}
    decisions = steps * num_envs
    total = rollout_s + learn_s
    env_capacity = total if processes <= 1 else processes * rollout_s  # seconds the envs could have used
    simulation = spent["world_tick_s"] - spent["render_s"]
    rendering = spent["render_s"] + spent["camera_wait_s"]
    env_python = spent["step_s"] - spent["world_tick_s"] - spent["camera_wait_s"]
    shares = {"simulation": simulation / env_capacity, "rendering": rendering / env_capacity,
              "env_python": env_python / env_capacity, "env_reset": spent["reset_s"] / env_capacity,
              "policy": policy_s / total, "learning": learn_s / total}
    if processes <= 1:
        shares["rest"] = max(0.0, 1.0 - sum(shares.values()))
    else:
        shares["workers_idle"] = max(0.0, 1.0 - (simulation + rendering + env_python + spent["reset_s"]) / env_capacity)
        shares["learner_rest(waiting,messages)"] = max(0.0, 1.0 - (policy_s + learn_s) / total)
    return {"envs": num_envs, "processes": max(1, processes), "decisions": decisions,
            "decisions_per_s": decisions / rollout_s, "world_ticks_per_s": spent["ticks"] / rollout_s,
            "idle_cores_estimate": {"decisions_per_s": decisions / idle_estimate_s,
                                    "world_ticks_per_s": spent["ticks"] / idle_estimate_s,
                                    "ms_per_step_this_process": 1e3 * main_cpu_s / steps,
                                    "ms_per_step_slowest_worker": 1e3 * critical_s / steps},
            "nominal_ticks_per_decision": round(config.env.anchor_horizon * config.env.frame_rate),
            **{f"share_{k}": round(v, 3) for k, v in shares.items()}}


def main() -> None:
    """Print one JSON line per setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO_ROOT / "configs" / "rl" / "daa_teacher.yaml"))
    parser.add_argument("--steps", type=int, default=100, help="decisions of each env (privileged)")
    parser.add_argument("--camera-steps", type=int, default=5, help="decisions of the 1 camera env")
    parser.add_argument("--warmup", type=int, default=30, help="untimed decisions of each env first")
    parser.add_argument("--vector", type=int, default=8)
    parser.add_argument("--processes", type=int, nargs="+", default=[2], help="worker processes of the vector")
    parser.add_argument("--observations", nargs="+", default=["privileged", "camera"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = load_rl_config(args.config)
    for kind in args.observations:
        config = dataclasses.replace(base, env=dataclasses.replace(base.env, observation=kind))
        if kind == "camera":  # rendering dominates: 1 env, a few decisions
            settings = [(1, args.camera_steps, 1, 1)]
        else:
            settings = [(1, args.steps, 1, args.warmup), (args.vector, args.steps, 1, args.warmup),
                        *((args.vector, args.steps, p, args.warmup) for p in args.processes)]
        for count, steps, processes, warmup in settings:
            print(json.dumps({"observation": kind, **measure(config, count, steps, processes, warmup)}), flush=True)


if __name__ == "__main__":
    main()
