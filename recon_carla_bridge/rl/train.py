"""The training runs behind `recon-carla train il|rl`: imitation pre-training on expert demonstrations, then RAD's
decoupled PPO with imitation steps interleaved, with checkpoints after every update (`--resume` goes on from the
last), TensorBoard logs (tensorboardX) and progress bars."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensorboardX import SummaryWriter
from tqdm import tqdm

from recon_carla_bridge.rl.checkpoint import interface_of, load_checkpoint, policy_for, save_checkpoint
from recon_carla_bridge.rl.config import RLConfig, config_as_dict
from recon_carla_bridge.rl.demonstrations import collect_demonstrations, load_demonstrations
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.ppo import Batch, gae, imitation_loss, ppo_loss
from recon_carla_bridge.rl.vector import make_vector_env

IL_CHECKPOINT = "il.pt"
RL_CHECKPOINT = "rl.pt"
DEMONSTRATIONS = "demonstrations.npz"


def _tensors(observation: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(np.asarray(v)) for k, v in observation.items()}


def _interface(config: RLConfig) -> dict[str, Any]:
    env = ReconDrivingEnv(config)
    interface = interface_of(env)
    env.close()
    return interface


def _demo_tensors(demos: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    observation = {k[4:]: torch.as_tensor(v) for k, v in demos.items() if k.startswith("obs_")}
    return observation, torch.as_tensor(demos["lateral"]).long(), torch.as_tensor(demos["longitudinal"]).long()


def demonstrations_for(config: RLConfig, out: Path, progress: bool) -> dict[str, np.ndarray]:
    """The run's demonstrations (collected once into out/demonstrations.npz)."""
    path = out / DEMONSTRATIONS
    if path.exists():
        return load_demonstrations(path)
    return collect_demonstrations(config, config.il.demo_episodes, path, seed=config.train.seed, progress=progress)


def train_il(config: RLConfig, resume: bool = False, progress: bool = True) -> Path:
    """Behaviour cloning on the expert's demonstrations; returns the checkpoint's path."""
    torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    out = Path(config.train.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    interface = _interface(config)
    demos = demonstrations_for(config, out, progress)
    observation, lateral, longitudinal = _demo_tensors(demos)
    policy = policy_for(interface, config.train.hidden)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.il.learning_rate)
    start_epoch = 0
    checkpoint_path = out / IL_CHECKPOINT
    if resume and checkpoint_path.exists():
        policy, data = load_checkpoint(checkpoint_path, interface)
        optimizer = torch.optim.Adam(policy.parameters(), lr=config.il.learning_rate)
        optimizer.load_state_dict(data["optimizer"])
        start_epoch = data["epoch"]
    writer = SummaryWriter(str(out / "tb_il"))
    count = len(lateral)
    generator = torch.Generator().manual_seed(config.train.seed)
    for epoch in tqdm(range(start_epoch, config.il.epochs), desc="imitation", disable=not progress):
        order = torch.randperm(count, generator=generator)
        losses = []
        for begin in range(0, count, config.il.batch_size):
            index = order[begin:begin + config.il.batch_size]
            loss = imitation_loss(policy, {k: v[index] for k, v in observation.items()}, lateral[index],
                                  longitudinal[index], config.il.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        writer.add_scalar("il/loss", float(np.mean(losses)), epoch + 1)
        save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        epoch=epoch + 1, config=config_as_dict(config), stage="il")
    writer.close()
    if not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        epoch=config.il.epochs, config=config_as_dict(config), stage="il")
    return checkpoint_path


class Rollout:
    """Storage of one rollout of T steps × N envs."""

    def __init__(self, steps: int, envs: int) -> None:
        self.observations: list[dict[str, np.ndarray]] = []
        self.masks: list[np.ndarray] = []
        shape = (steps, envs)
        self.lateral, self.longitudinal = torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.long)
        self.log_prob_lateral, self.log_prob_longitudinal = torch.zeros(shape), torch.zeros(shape)
        self.reward_lateral, self.reward_longitudinal = torch.zeros(shape), torch.zeros(shape)
        self.value_lateral, self.value_longitudinal = torch.zeros(shape), torch.zeros(shape)
        self.terminated = torch.zeros(shape)


def collect_rollout(envs: Any, policy: Any, observation: dict[str, np.ndarray], steps: int, gamma: float,
                    generator: torch.Generator, episode_log: list[dict[str, Any]]) -> tuple[Rollout, dict[str, np.ndarray]]:
    """`steps` decisions of every env with the current policy; ended episodes' summaries go to `episode_log`."""
    count = envs.num_envs
    rollout = Rollout(steps, count)
    returns = np.zeros(count)
    for t in range(steps):
        mask = np.stack(envs.call("action_masks"))
        obs_t, mask_t = _tensors(observation), torch.as_tensor(mask)
        with torch.no_grad():
            lateral, longitudinal = policy.act(obs_t, mask_t, generator=generator)
            out = policy.evaluate(obs_t, mask_t, lateral, longitudinal)
        rollout.observations.append(observation)
        rollout.masks.append(mask)
        rollout.lateral[t], rollout.longitudinal[t] = lateral, longitudinal
        rollout.log_prob_lateral[t], rollout.log_prob_longitudinal[t] = out.log_prob_lateral, out.log_prob_longitudinal
        rollout.value_lateral[t], rollout.value_longitudinal[t] = out.value_lateral, out.value_longitudinal
        actions = torch.stack([lateral, longitudinal], dim=1).numpy()
        observation, reward, terminated, truncated, info = envs.step(actions)
        final = info.get("final_info", {})
        for i in range(count):
            ended = bool(terminated[i] or truncated[i])
            source = final if ended else info
            rollout.reward_lateral[t, i] = float(source["reward_lateral"][i])
            rollout.reward_longitudinal[t, i] = float(source["reward_longitudinal"][i])
            returns[i] += float(reward[i])
            if truncated[i] and not terminated[i]:  # bootstrap the cut-off episode from its final observation
                final_obs = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in info["final_obs"][i].items()}
                with torch.no_grad():
                    value_lateral, value_longitudinal = policy.values(final_obs)
                rollout.reward_lateral[t, i] += gamma * float(value_lateral)
                rollout.reward_longitudinal[t, i] += gamma * float(value_longitudinal)
            rollout.terminated[t, i] = float(ended)
            if ended:
                episode_log.append({"return": returns[i], "events": list(final["events"][i]),
                                    "progress": float(final["progress"][i])})
                returns[i] = 0.0
    return rollout, observation


def train_rl(config: RLConfig, resume: bool = False, init: str | None = None, progress: bool = True) -> Path:
    """Decoupled PPO from the IL checkpoint (out_dir/il.pt or `init`; a fresh policy without one), imitation steps
    interleaved; returns the checkpoint's path."""
    torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    ppo, out = config.ppo, Path(config.train.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    interface = _interface(config)
    checkpoint_path = out / RL_CHECKPOINT
    update, step, state = 0, 0, None
    if resume and checkpoint_path.exists():
        policy, state = load_checkpoint(checkpoint_path, interface)
        update, step = state["update"], state["step"]
    elif init or (out / IL_CHECKPOINT).exists():
        policy, _ = load_checkpoint(init or out / IL_CHECKPOINT, interface)
    else:
        policy = policy_for(interface, config.train.hidden)
    optimizer = torch.optim.Adam(policy.parameters(), lr=ppo.learning_rate, eps=1e-5)
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    demos = None
    if ppo.il_every > 0 and ppo.il_coef > 0:
        demo_observation, demo_lateral, demo_longitudinal = _demo_tensors(demonstrations_for(config, out, progress))
        demos = (demo_observation, demo_lateral, demo_longitudinal)
    generator = torch.Generator().manual_seed(config.train.seed * 1000 + update)
    envs = make_vector_env(config, config.train.num_envs, "train", config.train.seed * 1000 + update * 7919)
    observation, _ = envs.reset(seed=config.train.seed * 1000 + update * 7919)
    writer = SummaryWriter(str(out / "tb_rl"))
    per_update = ppo.rollout_steps * config.train.num_envs
    total_updates = max(1, config.train.total_steps // per_update)
    curve_path = out / "learning_curve.jsonl"
    bar = tqdm(total=total_updates, initial=update, desc="ppo", disable=not progress)
    timings = {"rollout": 0.0, "learn": 0.0}
    while update < total_updates:
        episodes: list[dict[str, Any]] = []
        started = time.perf_counter()
        rollout, observation = collect_rollout(envs, policy, observation, ppo.rollout_steps, ppo.gamma, generator,
                                               episodes)
        timings["rollout"] += time.perf_counter() - started
        started = time.perf_counter()
        with torch.no_grad():
            next_lateral, next_longitudinal = policy.values(_tensors(observation))
        advantage_lateral, return_lateral = gae(rollout.reward_lateral, rollout.value_lateral, rollout.terminated,
                                                next_lateral, ppo.gamma, ppo.gae_lambda)
        advantage_longitudinal, return_longitudinal = gae(rollout.reward_longitudinal, rollout.value_longitudinal,
                                                          rollout.terminated, next_longitudinal, ppo.gamma,
                                                          ppo.gae_lambda)
        flat_observation = {k: torch.as_tensor(np.concatenate([o[k] for o in rollout.observations]))
                            for k in rollout.observations[0]}
        flat = Batch(flat_observation, torch.as_tensor(np.concatenate(rollout.masks)), rollout.lateral.reshape(-1),
                     rollout.longitudinal.reshape(-1), rollout.log_prob_lateral.reshape(-1),
                     rollout.log_prob_longitudinal.reshape(-1), advantage_lateral.reshape(-1),
                     advantage_longitudinal.reshape(-1), return_lateral.reshape(-1), return_longitudinal.reshape(-1))
        stats = _update(policy, optimizer, flat, config, generator, demos)
        update += 1
        step += per_update
        timings["learn"] += time.perf_counter() - started
        _log(writer, curve_path, update, step, episodes, stats, timings)
        bar.update(1)
        if update % config.train.checkpoint_every == 0 or update == total_updates:
            save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                            update=update, step=step, config=config_as_dict(config), stage="rl")
    bar.close()
    envs.close()
    writer.close()
    if not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        update=update, step=step, config=config_as_dict(config), stage="rl")
    return checkpoint_path


def _update(policy: Any, optimizer: Any, flat: Batch, config: RLConfig, generator: torch.Generator,
            demos: tuple | None) -> dict[str, float]:
    ppo = config.ppo
    size = len(flat.lateral)
    minibatch = max(1, size // ppo.minibatches)
    stats: dict[str, list[float]] = {}
    steps = 0
    for _ in range(ppo.epochs):
        order = torch.randperm(size, generator=generator)
        for begin in range(0, size, minibatch):
            index = order[begin:begin + minibatch]
            batch = Batch({k: v[index] for k, v in flat.observation.items()}, flat.mask[index], flat.lateral[index],
                          flat.longitudinal[index], flat.log_prob_lateral[index], flat.log_prob_longitudinal[index],
                          flat.advantage_lateral[index], flat.advantage_longitudinal[index], flat.return_lateral[index],
                          flat.return_longitudinal[index])
            loss, parts = ppo_loss(policy, batch, ppo.clip, ppo.value_coef, ppo.entropy_coef)
            _step(policy, optimizer, loss, ppo.max_grad_norm)
            steps += 1
            if demos is not None and steps % ppo.il_every == 0:
                observation, lateral, longitudinal = demos
                pick = torch.randint(0, len(lateral), (config.il.batch_size,), generator=generator)
                il = imitation_loss(policy, {k: v[pick] for k, v in observation.items()}, lateral[pick],
                                    longitudinal[pick], config.il.label_smoothing)
                _step(policy, optimizer, ppo.il_coef * il, ppo.max_grad_norm)
                parts["loss/imitation"] = float(il.detach())
            for key, value in parts.items():
                stats.setdefault(key, []).append(value)
    return {k: float(np.mean(v)) for k, v in stats.items()}


def _step(policy: Any, optimizer: Any, loss: torch.Tensor, max_grad_norm: float) -> None:
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
    optimizer.step()


def _log(writer: Any, curve_path: Path, update: int, step: int, episodes: list[dict[str, Any]],
         stats: dict[str, float], timings: dict[str, float]) -> None:
    row: dict[str, Any] = {"update": update, "step": step, **stats, **{f"time/{k}_s": v for k, v in timings.items()}}
    if episodes:
        row["episodes"] = len(episodes)
        row["return"] = float(np.mean([e["return"] for e in episodes]))
        row["collision_rate"] = float(np.mean([any("collision" in x for x in e["events"]) for e in episodes]))
        row["deviation_rate"] = float(np.mean([any("deviation" in x for x in e["events"]) for e in episodes]))
        row["progress_m"] = float(np.mean([e["progress"] for e in episodes]))
    for key, value in row.items():
        if key not in ("update", "step") and isinstance(value, (int, float)):
            writer.add_scalar(key, value, step)
    with open(curve_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
