"""Export a checkpoint for committing: the weights, interface and config without the optimizer state.

    python -m recon_carla_bridge.rl.export out/rl/daa_teacher/rl.pt recon_carla_bridge/data/policies/daa_teacher_rl.pt
"""
from __future__ import annotations

import os
import sys

import torch

from recon_carla_bridge.rl.checkpoint import load_checkpoint, save_checkpoint


def export_checkpoint(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Write `source` without its optimizer state to `target` (validated by loading it)."""
    policy, data = load_checkpoint(source)
    extra = {k: v for k, v in data.items() if k not in ("format", "model", "interface", "hidden", "optimizer")}
    save_checkpoint(target, policy, data["interface"], data["hidden"], **extra)
    load_checkpoint(target)


if __name__ == "__main__":
    torch.set_num_threads(1)
    export_checkpoint(sys.argv[1], sys.argv[2])
    print(sys.argv[2])
