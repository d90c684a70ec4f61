"""Rollout workers: each builds its own environments from the config (worlds are never pickled) and collects rollouts
with the learner's weights. In-process by default (the envs in this process, or spread over `train.env_processes`
worker processes); as Ray actors with `--workers N` (`--ray-address` joins a cluster).

Env i of the run always has episode seed `seed + i` and its own action-sampling generator, whichever worker holds it,
so the same seed gives the same batch with 1 or N workers (the learner concatenates the workers' envs in order).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recon_carla_bridge.errors import ReconCarlaError
from recon_carla_bridge.rl.checkpoint import interface_of, policy_for
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.vector import make_vector_env

ARRAYS = ("lateral", "longitudinal", "log_prob_lateral", "log_prob_longitudinal", "reward_lateral",
          "reward_longitudinal", "reward_collision", "value_lateral", "value_longitudinal", "terminated")


class RolloutWorker:
    """Envs `indices` of a run (see the module docstring)."""

    def __init__(self, config: RLConfig, indices: list[int], seed: int, split: str = "train") -> None:
        """Build the envs and reset them with their seeds."""
        torch.set_num_threads(config.train.threads)
        self.config, self.indices = config, list(indices)
        self.envs = make_vector_env(config, len(self.indices), split, seed, self.indices,
                                    processes=config.train.env_processes)
        self.generators = [torch.Generator().manual_seed(seed * 1_000_003 + i) for i in self.indices]
        self.observation, _ = self.envs.reset(seed=[seed + i for i in self.indices])
        self.policy = policy_for(interface_of(ReconDrivingEnv(config, split, seed)), config.train.hidden)

    def rollout(self, weights: dict[str, torch.Tensor], steps: int) -> dict[str, Any]:
        """`steps` decisions of each env with `weights`: arrays (T, n, …), the next observation, ended episodes."""
        self.policy.load_state_dict(weights)
        gamma, count = self.config.ppo.gamma, len(self.indices)
        out: dict[str, Any] = {k: np.zeros((steps, count), dtype=np.int64 if k in ("lateral", "longitudinal")
                                           else np.float32) for k in ARRAYS}
        observations, masks, episodes = [], [], []
        returns = np.zeros(count)
        for t in range(steps):
            mask = np.stack(self.envs.call("action_masks"))
            obs_t = {k: torch.as_tensor(np.asarray(v)) for k, v in self.observation.items()}
            mask_t = torch.as_tensor(mask)
            with torch.no_grad():
                lateral, longitudinal = self.policy.act(obs_t, mask_t, generator=self.generators)
                heads = self.policy.evaluate(obs_t, mask_t, lateral, longitudinal)
            observations.append(self.observation)
            masks.append(mask)
            out["lateral"][t], out["longitudinal"][t] = lateral.numpy(), longitudinal.numpy()
            out["log_prob_lateral"][t] = heads.log_prob_lateral.numpy()
            out["log_prob_longitudinal"][t] = heads.log_prob_longitudinal.numpy()
            out["value_lateral"][t], out["value_longitudinal"][t] = heads.value_lateral.numpy(), heads.value_longitudinal.numpy()
            self.observation, reward, terminated, truncated, info = self.envs.step(
                torch.stack([lateral, longitudinal], dim=1).numpy())
            final = info.get("final_info", {})
            for i in range(count):
                ended = bool(terminated[i] or truncated[i])
                source = final if ended else info
                out["reward_lateral"][t, i] = float(source["reward_lateral"][i])
                out["reward_longitudinal"][t, i] = float(source["reward_longitudinal"][i])
                if "dynamic_collision" in source["events"][i]:  # its part of the longitudinal reward
                    out["reward_collision"][t, i] = self.config.reward.dynamic_collision
                returns[i] += float(reward[i])
                if truncated[i] and not terminated[i]:  # bootstrap the cut-off episode from its final observation
                    final_obs = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in info["final_obs"][i].items()}
                    with torch.no_grad():
                        value_lateral, value_longitudinal = self.policy.values(final_obs)
                    out["reward_lateral"][t, i] += gamma * float(value_lateral)
                    out["reward_longitudinal"][t, i] += gamma * float(value_longitudinal)
                out["terminated"][t, i] = float(ended)
                if ended:
                    episodes.append({"env": self.indices[i], "return": float(returns[i]),
                                     "events": list(final["events"][i]), "progress": float(final["progress"][i])})
                    returns[i] = 0.0
        out["observations"] = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
        out["masks"] = np.stack(masks)
        out["next_observation"] = {k: np.asarray(v) for k, v in self.observation.items()}
        out["episodes"] = episodes
        return out

    def close(self) -> None:
        """Close the envs."""
        self.envs.close()


def check_ray_starts() -> None:
    """ReconCarlaError when a local Ray cannot start here: its dashboard agent imports google.rpc, which needs a
    newer protobuf than this installation pins (the raylet then dies after a long start-up time-out)."""
    try:
        from google.rpc import code_pb2  # noqa: F401 — what Ray's dashboard agent imports first
    except ImportError as error:
        raise ReconCarlaError(f"--workers: a local Ray cannot start in this environment ({error}); run without "
                              "--workers (rollouts in this process) or join a cluster with --ray-address") from None


class WorkerPool:
    """The run's envs split over workers: in-process (workers=0) or Ray actors."""

    def __init__(self, config: RLConfig, seed: int, workers: int = 0, ray_address: str | None = None) -> None:
        """`config.train.num_envs` envs; with `workers` >= 1, that many Ray actors (a local Ray unless an address)."""
        count = config.train.num_envs
        if workers <= 0:
            self._ray = None
            self.workers: list[Any] = [RolloutWorker(config, list(range(count)), seed)]
            return
        import ray

        if not ray.is_initialized():
            if ray_address is None:
                check_ray_starts()
            ray.init(address=ray_address, num_cpus=None if ray_address else workers, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        self._ray = ray
        remote = ray.remote(num_cpus=1)(RolloutWorker)
        shares = np.array_split(np.arange(count), min(workers, count))
        self.workers = [remote.remote(config, [int(i) for i in share], seed) for share in shares]

    def rollout(self, weights: dict[str, torch.Tensor], steps: int) -> dict[str, Any]:
        """One rollout of every env, merged in env order."""
        if self._ray is None:
            parts = [self.workers[0].rollout(weights, steps)]
        else:
            shared = self._ray.put({k: v.detach().clone() for k, v in weights.items()})
            parts = self._ray.get([w.rollout.remote(shared, steps) for w in self.workers])
        merged: dict[str, Any] = {k: np.concatenate([p[k] for p in parts], axis=1) for k in ARRAYS}
        merged["masks"] = np.concatenate([p["masks"] for p in parts], axis=1)
        merged["observations"] = {k: np.concatenate([p["observations"][k] for p in parts], axis=1)
                                  for k in parts[0]["observations"]}
        merged["next_observation"] = {k: np.concatenate([p["next_observation"][k] for p in parts])
                                      for k in parts[0]["next_observation"]}
        merged["episodes"] = [e for p in parts for e in p["episodes"]]
        return merged

    def close(self) -> None:
        """Close the envs (and the Ray actors)."""
        if self._ray is None:
            self.workers[0].close()
        else:
            self._ray.get([w.close.remote() for w in self.workers])
            for worker in self.workers:
                self._ray.kill(worker)
