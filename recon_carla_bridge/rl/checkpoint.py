"""Policy checkpoints: the weights with the observation layout and action space they were trained for, written
atomically (a crash mid-write leaves the previous checkpoint whole); loading one into another layout is an error."""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.policy import DecoupledPolicy

FORMAT = "recon_carla_bridge.rl/1"


def interface_of(env: ReconDrivingEnv) -> dict[str, Any]:
    """What a policy must match to drive `env`: the state layout, image inputs and the anchor grid."""
    grid = env.grid
    images = {key: (tuple(space.shape) if key == "bev" else (3, *space.shape[:2]))
              for key, space in env.observation_space.spaces.items() if key != "state"}
    return {"state_layout": list(env.layout), "images": {k: list(v) for k, v in images.items()},
            "action": {"kind": env.settings.action, "lateral_bins": grid.lateral_bins,
                       "longitudinal_bins": grid.longitudinal_bins, "lateral_max": grid.lateral_max,
                       "longitudinal_max": grid.longitudinal_max, "horizon": grid.horizon}}


def policy_for(interface: dict[str, Any], hidden: int) -> DecoupledPolicy:
    """A fresh policy shaped for an interface."""
    action = interface["action"]
    return DecoupledPolicy(len(interface["state_layout"]), action["lateral_bins"], action["longitudinal_bins"], hidden,
                           {k: tuple(v) for k, v in interface["images"].items()})


def save_checkpoint(path: str | os.PathLike[str], policy: DecoupledPolicy, interface: dict[str, Any], hidden: int,
                    **extra: Any) -> None:
    """Write the checkpoint atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, "model": policy.state_dict(), "interface": interface, "hidden": hidden, **extra},
               temporary)
    os.replace(temporary, path)


def load_checkpoint(path: str | os.PathLike[str], expected: dict[str, Any] | None = None) -> tuple[DecoupledPolicy, dict]:
    """(policy, the whole checkpoint); InputError naming the file and what differs from `expected` (an interface)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise InputError(f"{path}: not a readable checkpoint ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a recon_carla_bridge.rl checkpoint (format {FORMAT})")
    interface = data["interface"]
    if expected is not None:
        for key in ("action", "images", "state_layout"):
            if interface[key] != expected[key]:
                raise InputError(f"{path}: the checkpoint's {key.replace('_', ' ')} differs from the environment's "
                                 f"({_difference(interface[key], expected[key])}); train a policy for this layout")
    policy = policy_for(interface, data["hidden"])
    policy.load_state_dict(data["model"])
    return policy, data


def _difference(saved: Any, wanted: Any) -> str:
    if isinstance(saved, list) and isinstance(wanted, list):
        return f"{len(saved)} slots vs {len(wanted)}"
    if isinstance(saved, dict) and isinstance(wanted, dict):
        keys = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
        return ", ".join(f"{k}: {saved.get(k)!r} vs {wanted.get(k)!r}" for k in keys)
    return f"{saved!r} vs {wanted!r}"
