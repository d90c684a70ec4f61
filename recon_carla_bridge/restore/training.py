"""Training the restorer on a `PairSet`, top to bottom (`train_restorer`):

  1. split the pairs: rows whose log frame is a multiple of `val_every` are the validation split (never trained on);
  2. each step, draw `batch` training rows; crop a random `crop_width`-pixel window (full height), flip it left-right
     at random, jitter brightness and colour of render and target alike; the temporal input (previous restored
     frame) is a random blend of the previous row's render and real frame of the same sequence (what the restorer's
     own previous output lies between), or the current render (a camera's first frame);
  3. `Restorer.training_loss` (one of the config's timesteps per sample), AdamW with a cosine learning-rate decay
     over the step budget or time budget, whichever ends first;
  4. every `validate_every` steps and at the end: PSNR/SSIM of raw and restored validation frames (full size, the
     previous render as temporal input); the best restorer by validation PSNR is written to OUT, the latest state
     (weights, optimizer, step, elapsed time) to OUT/checkpoint for `resume`.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.restore.config import RestorerConfig
from recon_carla_bridge.restore.pairs import PairSet
from recon_carla_bridge.restore.pipeline import Restorer, RestorerInput

CHECKPOINT_DIR = "checkpoint"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class TrainOptions:
    """Settings of `train_restorer`.

    Attributes:
        steps: most optimisation steps.
        max_minutes: stop after this much wall time (None: no limit).
        batch: rows per step.
        crop_width: training crop width in pixels (0: full frames).
        lr: peak AdamW learning rate (cosine decay to 5 % of it).
        val_every: rows whose log frame is a multiple of this are validation rows.
        validate_every: steps between validations (and checkpoints).
        seed: random seed.
        device: "cuda", "cpu" or "auto" (cuda when available).
    """

    steps: int = 2000
    max_minutes: float | None = None
    batch: int = 4
    crop_width: int = 128
    lr: float = 5e-4
    val_every: int = 10
    validate_every: int = 100
    seed: int = 0
    device: str = "auto"


def choose_device(device: str) -> torch.device:
    """"auto" -> cuda when torch sees one, else cpu."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA device")
    return torch.device(device)


class _Batches:
    """Random training batches of a PairSet (crops, flips, colour jitter, temporal input)."""

    def __init__(self, pairs: PairSet, rows: np.ndarray, options: TrainOptions):
        self.pairs, self.rows, self.options = pairs, rows, options
        self.previous = pairs.previous_row()
        self.random = np.random.default_rng(options.seed)

    def draw(self) -> tuple[RestorerInput, torch.Tensor]:
        """(input, target [B, H, w, 3]) of `batch` random training rows."""
        pairs, random = self.pairs, self.random
        chosen = random.choice(self.rows, size=self.options.batch)
        width = pairs.size[0]
        crop = width if not self.options.crop_width or self.options.crop_width >= width else self.options.crop_width
        inputs: dict[str, list[np.ndarray]] = {"rgb": [], "alpha": [], "depth": [], "previous": [], "target": []}
        for row in chosen:
            left = int(random.integers(0, width - crop + 1))
            window = slice(left, left + crop)
            before = self.previous[row]
            blend = random.uniform()
            previous = pairs.degraded[before] * (1.0 - blend) + pairs.target[before] * blend
            if before == row or random.uniform() < 0.2:
                previous = pairs.degraded[row].astype(np.float32)
            gain = random.uniform(0.85, 1.15) * random.uniform(0.95, 1.05, size=3)
            images = {
                "rgb": pairs.degraded[row][:, window] / 255.0 * gain,
                "previous": previous[:, window] / 255.0 * gain,
                "target": pairs.target[row][:, window] / 255.0 * gain,
                "alpha": pairs.alpha[row][:, window] / 255.0,
                "depth": pairs.depth[row][:, window].astype(np.float32),
            }
            flip = random.uniform() < 0.5
            for name, image in images.items():
                inputs[name].append(np.clip(image[:, ::-1] if flip else image, 0.0, None if name == "depth" else 1.0))
        tensor = {name: torch.from_numpy(np.ascontiguousarray(np.stack(v), dtype=np.float32)) for name, v in inputs.items()}
        return RestorerInput(tensor["rgb"], tensor["alpha"], tensor["depth"], tensor["previous"]), tensor["target"]


@torch.no_grad()
def validate(restorer: Restorer, pairs: PairSet, rows: np.ndarray) -> dict[str, float]:
    """Mean PSNR/SSIM over `rows` of the raw render and of the restored one (full frames, the previous row's
    render as temporal input)."""
    from recon_carla_bridge.recon.metrics import psnr, ssim

    previous = pairs.previous_row()
    raw_psnr, raw_ssim, out_psnr, out_ssim = [], [], [], []
    for start in range(0, len(rows), 8):
        chunk = rows[start:start + 8]
        frames = RestorerInput(
            torch.from_numpy(pairs.degraded[chunk] / np.float32(255.0)), torch.from_numpy(pairs.alpha[chunk] / np.float32(255.0)),
            torch.from_numpy(pairs.depth[chunk].astype(np.float32)), torch.from_numpy(pairs.degraded[previous[chunk]] / np.float32(255.0)))
        restored = restorer.restore(frames).cpu()
        for index, row in enumerate(chunk):
            target = torch.from_numpy(pairs.target[row] / np.float32(255.0))
            raw_psnr.append(psnr(frames.rgb[index], target))
            raw_ssim.append(float(ssim(frames.rgb[index], target)))
            out_psnr.append(psnr(restored[index], target))
            out_ssim.append(float(ssim(restored[index], target)))
    return {"raw_psnr": float(np.mean(raw_psnr)), "raw_ssim": float(np.mean(raw_ssim)),
            "psnr": float(np.mean(out_psnr)), "ssim": float(np.mean(out_ssim))}


def _save_checkpoint(folder: Path, restorer: Restorer, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    restorer.save(folder)
    saved = optimizer.state_dict()
    tensors = {f"{index}.{name}": value.detach().cpu().contiguous().reshape(-1) if value.ndim == 0 else value.detach().cpu().contiguous()
               for index, entry in saved["state"].items() for name, value in entry.items()}
    save_file(tensors, str(folder / OPTIMIZER_FILE))
    state = dict(state, param_groups=saved["param_groups"])
    (folder / STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")


def _load_checkpoint(folder: Path, device: torch.device, optimizer_factory) -> tuple[Restorer, torch.optim.Optimizer, dict[str, Any]]:
    from safetensors.torch import load_file

    if not (folder / STATE_FILE).is_file() or not (folder / OPTIMIZER_FILE).is_file():
        raise InputError(f"{folder}: no checkpoint to resume from ({STATE_FILE} and {OPTIMIZER_FILE} missing)")
    restorer = Restorer.load(folder, device)
    state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    optimizer = optimizer_factory(restorer)
    tensors = load_file(str(folder / OPTIMIZER_FILE))
    entries: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        entries.setdefault(int(index), {})[name] = value.reshape(()) if name == "step" else value.to(device)
    optimizer.load_state_dict({"state": entries, "param_groups": state.pop("param_groups")})
    return restorer, optimizer, state


def train_restorer(pairs: PairSet, config: RestorerConfig, options: TrainOptions, out: str | Path,
                   resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train (or resume training) a restorer on `pairs`; writes the best one to `out`; returns the metrics."""
    if pairs.size != (config.width, config.height):
        raise InputError(f"pairs are {pairs.size[0]}x{pairs.size[1]}, the restorer config says {config.width}x{config.height}")
    device = choose_device(options.device)
    torch.manual_seed(options.seed)
    target = Path(out)
    validation = np.nonzero(pairs.frame % options.val_every == 0)[0]
    training = np.nonzero(pairs.frame % options.val_every != 0)[0]
    if len(training) == 0 or len(validation) == 0:
        raise InputError(f"pairs: {len(training)} training and {len(validation)} validation rows; need both "
                         f"(validation = frames that are multiples of {options.val_every})")

    def make_optimizer(restorer: Restorer) -> torch.optim.Optimizer:
        return torch.optim.AdamW(restorer.unet.parameters(), lr=options.lr, weight_decay=1e-4)

    if resume:
        restorer, optimizer, state = _load_checkpoint(target / CHECKPOINT_DIR, device, make_optimizer)
        if restorer.config != config:
            raise InputError(f"{target / CHECKPOINT_DIR}: the checkpoint's config differs from this run's; resume with the same settings")
    else:
        restorer = Restorer(config, device)
        optimizer = make_optimizer(restorer)
        state = {"step": 0, "seconds": 0.0, "best_psnr": -math.inf, "history": []}
    batches = _Batches(pairs, training, options)
    batches.random = np.random.default_rng([options.seed, state["step"]])
    generator = torch.Generator(device=device).manual_seed(options.seed + state["step"])
    budget = None if options.max_minutes is None else options.max_minutes * 60.0
    started = time.monotonic() - state["seconds"]
    if state["step"] == 0:
        baseline = validate(restorer, pairs, validation)
        state["history"].append({"step": 0, **{k: round(v, 4) for k, v in baseline.items()}})
    bar = tqdm(total=options.steps, initial=state["step"], desc="train-restorer", disable=not progress, mininterval=5.0)
    restorer.unet.train()
    step = state["step"]
    while step < options.steps:
        elapsed = time.monotonic() - started
        if budget is not None and elapsed >= budget:
            break
        fraction = max(step / options.steps, elapsed / budget if budget else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = options.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(fraction, 1.0))))
        frames, clean = batches.draw()
        loss = restorer.training_loss(frames, clean, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(restorer.unet.parameters(), 1.0)
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        out_of_time = budget is not None and time.monotonic() - started >= budget
        if step % options.validate_every == 0 or step == options.steps or out_of_time:
            restorer.unet.eval()
            scores = validate(restorer, pairs, validation)
            restorer.unet.train()
            state.update(step=step, seconds=round(time.monotonic() - started, 1))
            state["history"].append({"step": step, "minutes": round(state["seconds"] / 60, 2), "loss": round(loss.item(), 4),
                                     **{k: round(v, 4) for k, v in scores.items()}})
            bar.write(f"step {step}: validation PSNR raw {scores['raw_psnr']:.2f} -> restored {scores['psnr']:.2f} dB, "
                      f"SSIM {scores['raw_ssim']:.4f} -> {scores['ssim']:.4f}")
            if scores["psnr"] > state["best_psnr"]:
                state["best_psnr"] = scores["psnr"]
                restorer.save(target, metadata={"step": str(step), "validation_psnr": f"{scores['psnr']:.3f}"})
            _save_checkpoint(target / CHECKPOINT_DIR, restorer, optimizer, state)
    bar.close()
    metrics = {"steps": step, "seconds": round(time.monotonic() - started, 1), "device": str(device),
               "train_rows": int(len(training)), "validation_rows": int(len(validation)),
               "best_validation_psnr": state["best_psnr"], "history": state["history"]}
    (target / "train_metrics.json").write_text(json.dumps(metrics, indent=1), encoding="utf-8")
    return metrics
