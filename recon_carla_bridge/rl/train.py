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

from recon_carla_bridge.rl.anchors import AnchorGrid
from recon_carla_bridge.rl.checkpoint import interface_of, load_checkpoint, policy_for, save_checkpoint
from recon_carla_bridge.rl.config import RLConfig, config_as_dict
from recon_carla_bridge.rl.demonstrations import collect_demonstrations, load_demonstrations
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.observations import EGO_SLOTS
from recon_carla_bridge.rl.ppo import Batch, gae, imitation_loss, longitudinal_signs, ppo_loss
from recon_carla_bridge.rl.workers import ARRAYS, WorkerPool

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


def train_rl(config: RLConfig, resume: bool = False, init: str | None = None, progress: bool = True,
             workers: int = 0, ray_address: str | None = None) -> Path:
    """Decoupled PPO from the IL checkpoint (out_dir/il.pt or `init`; a fresh policy without one), imitation steps
    interleaved, rollouts from `workers` Ray actors (0: in this process); returns the checkpoint's path."""
    torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    ppo, out = config.ppo, Path(config.train.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    interface = _interface(config)
    grid = AnchorGrid(lateral_bins=config.env.lateral_bins, longitudinal_bins=config.env.longitudinal_bins,
                      horizon=config.env.anchor_horizon)
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
    pool = WorkerPool(config, config.train.seed * 1000 + update * 7919, workers, ray_address)
    writer = SummaryWriter(str(out / "tb_rl"))
    per_update = ppo.rollout_steps * config.train.num_envs
    total_updates = max(1, config.train.total_steps // per_update)
    curve_path = out / "learning_curve.jsonl"
    bar = tqdm(total=total_updates, initial=update, desc="ppo", disable=not progress)
    timings = {"rollout": 0.0, "learn": 0.0}
    while update < total_updates:
        started = time.perf_counter()
        rollout = pool.rollout(policy.state_dict(), ppo.rollout_steps)
        timings["rollout"] += time.perf_counter() - started
        started = time.perf_counter()
        flat = batch_of(policy, rollout, ppo.gamma, ppo.gae_lambda, grid if ppo.collision_aux_coef > 0 else None)
        stats = _update(policy, optimizer, flat, config, generator, demos)
        update += 1
        step += per_update
        timings["learn"] += time.perf_counter() - started
        _log(writer, curve_path, update, step, rollout["episodes"], stats, timings)
        bar.update(1)
        if update % config.train.checkpoint_every == 0 or update == total_updates:
            save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                            update=update, step=step, config=config_as_dict(config), stage="rl")
    bar.close()
    pool.close()
    writer.close()
    if not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, policy, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        update=update, step=step, config=config_as_dict(config), stage="rl")
    return checkpoint_path


def batch_of(policy: Any, rollout: dict[str, Any], gamma: float, lam: float, grid: AnchorGrid | None = None) -> Batch:
    """The flat PPO batch of a merged rollout: decoupled advantages and returns (GAE per reward part); with the
    anchor `grid`, also the discounted dynamic-collision penalties ahead of each decision and the slowing/speeding
    sign of each longitudinal anchor for RAD's collision auxiliary objective."""
    tensor = {k: torch.as_tensor(rollout[k]) for k in ARRAYS}
    with torch.no_grad():
        next_lateral, next_longitudinal = policy.values(_tensors(rollout["next_observation"]))
    advantage_lateral, return_lateral = gae(tensor["reward_lateral"], tensor["value_lateral"], tensor["terminated"],
                                            next_lateral, gamma, lam)
    advantage_longitudinal, return_longitudinal = gae(tensor["reward_longitudinal"], tensor["value_longitudinal"],
                                                      tensor["terminated"], next_longitudinal, gamma, lam)
    observation = {k: torch.as_tensor(v.reshape(-1, *v.shape[2:])) for k, v in rollout["observations"].items()}
    masks = rollout["masks"]
    advantage_collision = signs = None
    if grid is not None:
        zeros = torch.zeros_like(tensor["reward_collision"])
        advantage_collision, _ = gae(tensor["reward_collision"], zeros, tensor["terminated"], zeros[0], gamma, 1.0)
        advantage_collision = advantage_collision.reshape(-1)
        speed = observation["state"][:, EGO_SLOTS.index("speed/10")].float() * 10.0
        signs = longitudinal_signs(torch.as_tensor(grid.longitudinal, dtype=torch.float32), speed, grid.horizon)
    return Batch(observation, torch.as_tensor(masks.reshape(-1, *masks.shape[2:])), tensor["lateral"].reshape(-1),
                 tensor["longitudinal"].reshape(-1), tensor["log_prob_lateral"].reshape(-1),
                 tensor["log_prob_longitudinal"].reshape(-1), advantage_lateral.reshape(-1),
                 advantage_longitudinal.reshape(-1), return_lateral.reshape(-1), return_longitudinal.reshape(-1),
                 advantage_collision, signs)


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
            batch = flat.select(index)
            loss, parts = ppo_loss(policy, batch, ppo.clip, ppo.value_coef, ppo.entropy_coef, ppo.advantage_std_floor,
                                   ppo.collision_aux_coef)
            _step(policy, optimizer, loss, ppo.max_grad_norm)
            steps += 1
            if demos is not None and steps % ppo.il_every == 0:
                observation, lateral, longitudinal = demos
                pick = torch.randint(0, len(lateral), (config.il.batch_size,), generator=generator)
                lateral_coef = ppo.il_coef if ppo.il_lateral_coef is None else ppo.il_lateral_coef
                il = imitation_loss(policy, {k: v[pick] for k, v in observation.items()}, lateral[pick],
                                    longitudinal[pick], config.il.label_smoothing, lateral_coef, ppo.il_coef)
                _step(policy, optimizer, il, ppo.max_grad_norm)
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
        row["collision_rate"] = float(np.mean([any(x.endswith("collision") for x in e["events"]) for e in episodes]))
        row["deviation_rate"] = float(np.mean([any("deviation" in x for x in e["events"]) for e in episodes]))
        row["progress_m"] = float(np.mean([e["progress"] for e in episodes]))
    for key, value in row.items():
        if key not in ("update", "step") and isinstance(value, (int, float)):
            writer.add_scalar(key, value, step)
    with open(curve_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
