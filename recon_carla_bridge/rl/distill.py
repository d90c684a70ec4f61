"""`recon-carla train student`: DAgger distillation of a privileged teacher into the camera student.

Per iteration i: `episodes_per_iteration` training episodes (DAA draws of the config's templates; the held-out split
never reaches them, `episodes`) are driven by the mixture of teacher and student - each decision is the teacher's
anchor with probability beta_i = beta_start * beta_decay^i, else the student's most likely feasible anchor - and
every visited state is labelled with the teacher's anchor (the privileged checkpoint `distill.teacher`, or the
privileged `expert` with `distill.labels: expert`). The student's observations (`student`: camera image + sensor
state) and labels are aggregated over the iterations (out_dir/student_data.npz); after each iteration the student is
trained `epochs` epochs on all of them (soft-label cross-entropy per head, `il.label_smoothing`). A checkpoint is
written atomically after every iteration (out_dir/student.pt); `--resume` goes on from it. Progress: tqdm, a
learning-curve JSONL and tensorboardX logs.

The config is an RL config (`configs/rl/*.yaml`, `env.observation: camera`) with one more section, `distill`.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tensorboardX import SummaryWriter
from tqdm import tqdm

from recon_carla_bridge.config import config_from_dict
from recon_carla_bridge.errors import InputError
from recon_carla_bridge.paths import REPO_ROOT
from recon_carla_bridge.rl.checkpoint import _difference, interface_of, load_checkpoint, policy_for, save_checkpoint
from recon_carla_bridge.rl.config import RLConfig, config_as_dict, config_from_mapping, read_config_sections
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.expert import expert_anchor
from recon_carla_bridge.rl.policy import DecoupledPolicy
from recon_carla_bridge.rl.ppo import imitation_loss
from recon_carla_bridge.rl.student import STUDENT_LAYOUT, student_interface, student_observation, student_slots

STUDENT_CHECKPOINT = "student.pt"
STUDENT_DATA = "student_data.npz"
LABELS = ("teacher", "expert")
SLOW_SPEED = 1.0  # m/s: the learning curve's slow_share counts the visited states below it (crawling)


@dataclass(frozen=True)
class DistillSettings:
    """The `distill` section: the teacher, the DAgger schedule and the student's training."""

    teacher: str = "recon_carla_bridge/data/policies/daa_teacher_rl.pt"  # privileged checkpoint (repo-relative or absolute)
    labels: str = "teacher"  # teacher | expert: who labels every visited state
    iterations: int = 10
    episodes_per_iteration: int = 16
    beta_start: float = 1.0  # share of decisions the teacher drives in iteration 0
    beta_decay: float = 0.5  # beta_i = beta_start * beta_decay^i
    epochs: int = 4  # training epochs over the aggregated data after each iteration
    batch_size: int = 128
    learning_rate: float = 1e-3
    init: str = ""  # a student checkpoint whose weights the student starts from ('' : fresh weights)
    crawl_guard_speed: float = 0.0  # m/s; below it the expert's longitudinal anchor replaces a slower teacher's (0: off)


DISTILL_RANGES = {"iterations": (1, 10000), "episodes_per_iteration": (1, 100000), "beta_start": (0.0, 1.0),
                  "beta_decay": (0.0, 1.0), "epochs": (0, 10000), "batch_size": (1, 100000),
                  "learning_rate": (1e-7, 1.0), "crawl_guard_speed": (0.0, 100.0)}


def load_student_config(path: str | os.PathLike[str], overrides: dict[str, dict[str, Any]] | None = None
                        ) -> tuple[RLConfig, DistillSettings]:
    """The RL config and the `distill` section of a student config; InputError naming the file and key."""
    values = read_config_sections(path, overrides)
    raw = values.pop("distill", None) or {}
    if not isinstance(raw, dict):
        raise InputError(f"{path}: section 'distill' must be a mapping")
    distill = config_from_dict(DistillSettings, raw, f"{path}: distill")
    for key, (low, high) in DISTILL_RANGES.items():
        value = getattr(distill, key)
        if not low <= value <= high:
            raise InputError(f"{path}: distill.{key}={value!r} is outside [{low}, {high}]")
    if distill.labels not in LABELS:
        raise InputError(f"{path}: distill.labels={distill.labels!r} is not one of {', '.join(LABELS)}")
    config = config_from_mapping(values, str(path))
    if config.env.observation != "camera":
        raise InputError(f"{path}: env.observation must be camera for the camera student (got {config.env.observation!r})")
    return config, distill


def _repo_path(name: str) -> Path:
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    return path


def teacher_path(distill: DistillSettings) -> Path:
    """The teacher checkpoint's path (relative paths: from the current folder, else from the repository)."""
    return _repo_path(distill.teacher)


def load_teacher(distill: DistillSettings, env: ReconDrivingEnv) -> DecoupledPolicy | None:
    """The privileged teacher policy (None when the expert labels); InputError when its layout is not the env's."""
    if distill.labels == "expert":
        return None
    path = teacher_path(distill)
    policy, data = load_checkpoint(path)
    wanted, saved = interface_of(env), data["interface"]
    for key in ("state_layout", "action"):
        if saved[key] != wanted[key]:
            raise InputError(f"{path}: the teacher's {key.replace('_', ' ')} differs from the env's "
                             f"({_difference(saved[key], wanted[key])}); distil with a teacher of this config")
    missing = sorted(set(saved["images"]) - set(wanted["images"]))
    if missing:
        raise InputError(f"{path}: the teacher reads images the env does not give ({', '.join(missing)})")
    return policy.eval()


class Labeller:
    """The teacher's anchor for the env's current state (the privileged checkpoint's most likely one, or the expert's).

    Crawl guard (`guard_speed` > 0, teacher labels only): below `guard_speed` m/s, where the teacher's longitudinal
    anchor is shorter than the expert's, the expert's longitudinal anchor is the label (the teacher's lateral one
    stays). The expert slows only for a predicted overlap with a vehicle (its 1 m margin included), so a longer expert
    anchor means a free road there; a teacher that stays near standstill on such states (off its own distribution)
    would teach the student to crawl. `guarded` / `labelled` count the replaced and all teacher labels."""

    def __init__(self, teacher: DecoupledPolicy | None, guard_speed: float = 0.0) -> None:
        """`teacher`: a privileged policy; None: the expert. `guard_speed`: m/s, 0 turns the crawl guard off."""
        self.teacher = teacher
        self.guard_speed = guard_speed
        self.guarded = self.labelled = 0

    def __call__(self, env: ReconDrivingEnv, observation: dict[str, np.ndarray]) -> tuple[int, int]:
        """(lateral index, longitudinal index)."""
        if self.teacher is None:
            return expert_anchor(env)
        batch = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in observation.items() if k in self.teacher.images or k == "state"}
        lateral, longitudinal = self.teacher.act(batch, torch.as_tensor(env.action_masks()[None]), deterministic=True)
        label = (int(lateral[0]), int(longitudinal[0]))
        self.labelled += 1
        if self.guard_speed > 0 and env.ego_state.speed < self.guard_speed:
            expert_longitudinal = expert_anchor(env)[1]
            if expert_longitudinal > label[1]:
                self.guarded += 1
                label = (label[0], expert_longitudinal)
        return label


def student_act(student: DecoupledPolicy, observation: dict[str, np.ndarray], mask: np.ndarray) -> tuple[int, int]:
    """The student's most likely feasible anchor."""
    batch = {k: torch.as_tensor(v[None]) for k, v in observation.items()}
    lateral, longitudinal = student.act(batch, torch.as_tensor(mask[None]), deterministic=True)
    return int(lateral[0]), int(longitudinal[0])


def collect_iteration(env: ReconDrivingEnv, student: DecoupledPolicy, labeller: Labeller, episodes: int, beta: float,
                      rng: np.random.Generator, seed: int, progress: bool = False) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Drive `episodes` training episodes with the beta-mixture; (the student's observations and the labels, per
    episode stats)."""
    slots = student_slots(env.layout)
    rows: dict[str, list] = {"state": [], "camera": [], "lateral": [], "longitudinal": []}
    stats = []
    observation, _ = env.reset(seed=seed)
    for _ in tqdm(range(episodes), desc=f"episodes (beta {beta:.2f})", leave=False, disable=not progress):
        student.eval()
        driven_by_student = decisions = 0
        while True:
            label = labeller(env, observation)
            seen = student_observation(observation, slots)
            rows["state"].append(seen["state"])
            rows["camera"].append(seen["camera"])
            rows["lateral"].append(label[0])
            rows["longitudinal"].append(label[1])
            if rng.uniform() < beta:
                action = label
            else:
                action = student_act(student, seen, env.action_masks())
                driven_by_student += 1
            decisions += 1
            observation, _, terminated, truncated, info = env.step(np.array(action))
            if terminated or truncated:
                stats.append({"events": list(info["events"]), "progress": float(info["progress"]),
                              "student_share": driven_by_student / decisions, "decisions": decisions})
                observation, _ = env.reset()
                break
    data = {"state": np.stack(rows["state"]).astype(np.float32), "camera": np.stack(rows["camera"]).astype(np.uint8),
            "lateral": np.asarray(rows["lateral"], dtype=np.int64), "longitudinal": np.asarray(rows["longitudinal"], dtype=np.int64)}
    return data, stats


def fit(student: DecoupledPolicy, optimizer: torch.optim.Optimizer, data: dict[str, np.ndarray], epochs: int,
        batch_size: int, sigma: float, generator: torch.Generator) -> float:
    """Train on the aggregated data; the mean loss of the last epoch (nan without data or epochs)."""
    student.train()
    observation = {"state": torch.as_tensor(data["state"]), "camera": torch.as_tensor(data["camera"])}
    lateral, longitudinal = torch.as_tensor(data["lateral"]), torch.as_tensor(data["longitudinal"])
    count = len(lateral)
    losses: list[float] = []
    for _ in range(epochs):
        losses = []
        order = torch.randperm(count, generator=generator)
        for begin in range(0, count, batch_size):
            index = order[begin:begin + batch_size]
            loss = imitation_loss(student, {k: v[index] for k, v in observation.items()}, lateral[index],
                                  longitudinal[index], sigma)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    student.eval()
    return float(np.mean(losses)) if losses else float("nan")


def _merge(old: dict[str, np.ndarray] | None, new: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if old is None:
        return new
    return {k: np.concatenate([old[k], new[k]]) for k in new}


def _save_data(path: Path, data: dict[str, np.ndarray]) -> None:
    temporary = path.with_name(path.stem + ".tmp.npz")
    np.savez(temporary, **data)
    os.replace(temporary, path)


def train_student(config: RLConfig, distill: DistillSettings, resume: bool = False, progress: bool = True) -> Path:
    """DAgger distillation (module docstring); returns the student checkpoint's path."""
    torch.set_num_threads(config.train.threads)
    torch.manual_seed(config.train.seed)
    out = Path(config.train.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = ReconDrivingEnv(config, split="train", seed=config.train.seed)
    labeller = Labeller(load_teacher(distill, env), distill.crawl_guard_speed)
    interface = student_interface(env)
    checkpoint_path, data_path = out / STUDENT_CHECKPOINT, out / STUDENT_DATA
    student = policy_for(interface, config.train.hidden)
    if distill.init:
        student, _ = load_checkpoint(_repo_path(distill.init), interface)
    optimizer = torch.optim.Adam(student.parameters(), lr=distill.learning_rate)
    iteration, data = 0, None
    if resume and checkpoint_path.exists():
        student, saved = load_checkpoint(checkpoint_path, interface)
        optimizer = torch.optim.Adam(student.parameters(), lr=distill.learning_rate)
        optimizer.load_state_dict(saved["optimizer"])
        iteration = int(saved["iteration"])
        if data_path.exists():
            with np.load(data_path) as stored:
                data = {k: stored[k] for k in stored.files}
    writer = SummaryWriter(str(out / "tb_student"))
    curve = out / "student_curve.jsonl"
    bar = tqdm(total=distill.iterations, initial=iteration, desc="dagger", disable=not progress)
    while iteration < distill.iterations:
        started = time.perf_counter()
        labeller.guarded = labeller.labelled = 0
        beta = distill.beta_start * distill.beta_decay ** iteration
        rng = np.random.default_rng([config.train.seed, iteration])
        new, stats = collect_iteration(env, student, labeller, distill.episodes_per_iteration, beta, rng,
                                       seed=config.train.seed * 100003 + iteration, progress=progress)
        collected = time.perf_counter()
        data = _merge(data, new)
        _save_data(data_path, data)
        generator = torch.Generator().manual_seed(config.train.seed * 1000 + iteration)
        loss = fit(student, optimizer, data, distill.epochs, distill.batch_size, config.il.label_smoothing, generator)
        iteration += 1
        save_checkpoint(checkpoint_path, student, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        iteration=iteration, config=config_as_dict(config), distill=dataclasses.asdict(distill),
                        stage="student", teacher=str(teacher_path(distill)) if distill.labels == "teacher" else "expert")
        row = {"iteration": iteration, "beta": beta, "samples": int(len(data["lateral"])), "loss": loss,
               "episodes": len(stats),
               "collision_rate": float(np.mean([any(e.endswith("collision") for e in s["events"]) for s in stats])),
               "deviation_rate": float(np.mean([any("deviation" in e for e in s["events"]) for s in stats])),
               "progress_m": float(np.mean([s["progress"] for s in stats])),
               "student_share": float(np.mean([s["student_share"] for s in stats])),
               "guarded_share": labeller.guarded / max(labeller.labelled, 1),
               "slow_share": float(np.mean(new["state"][:, STUDENT_LAYOUT.index("speed/10")] * 10.0 < SLOW_SPEED)),
               "collect_s": collected - started, "fit_s": time.perf_counter() - collected}
        for key, value in row.items():
            if key != "iteration":
                writer.add_scalar(f"student/{key}", value, iteration)
        with open(curve, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", samples=row["samples"], collisions=f"{row['collision_rate']:.2f}")
    bar.close()
    writer.close()
    env.close()
    if not checkpoint_path.exists():
        save_checkpoint(checkpoint_path, student, interface, config.train.hidden, optimizer=optimizer.state_dict(),
                        iteration=iteration, config=config_as_dict(config), distill=dataclasses.asdict(distill),
                        stage="student")
    return checkpoint_path
