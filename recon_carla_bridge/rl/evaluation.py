"""Scores of policies on held-out DAA episodes, in one run: every policy drives the same seeded episodes.

Per policy: collision ratio CR (episodes with an at-fault collision) split into dynamic DCR and static SCR (episodes
ended by a replayed follower driving into the ego's back are counted apart, `rear_ended`), deviation ratio DR
split into position PDR and heading HDR, ADD (mean distance to the expert path, m), mean absolute longitudinal and
lateral jerk (m/s^3, over decisions), and route completion (share of the planned length driven, capped at 1).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.leaderboard.events import TrafficEventType
from recon_carla_bridge.leaderboard.scoring import PENALTY_VALUE_DICT
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.episodes import EpisodeSampler
from recon_carla_bridge.rl.expert import expert_anchor
from recon_carla_bridge.rl.policy import DecoupledPolicy

Driver = Callable[[ReconDrivingEnv, dict[str, np.ndarray]], tuple[int, int]]


def policy_driver(policy: DecoupledPolicy) -> Driver:
    """Drive with a policy's most likely feasible anchor."""
    def drive(env: ReconDrivingEnv, observation: dict[str, np.ndarray]) -> tuple[int, int]:
        batch = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in observation.items()}
        lateral, longitudinal = policy.act(batch, torch.as_tensor(env.action_masks()[None]), deterministic=True)
        return int(lateral[0]), int(longitudinal[0])
    return drive


def student_driver(policy: DecoupledPolicy, layout: tuple[str, ...], interface: dict[str, Any], name: str = "student"
                   ) -> Driver:
    """Drive with a camera student: it gets only its sensor-legal observation (`student`: the front image and the
    ego/route slots), cut out of the env's observation; InputError when its interface is not a student's."""
    from recon_carla_bridge.rl.student import STUDENT_LAYOUT, student_observation, student_slots

    if list(interface.get("state_layout", [])) != list(STUDENT_LAYOUT) or "camera" not in interface.get("images", {}):
        raise InputError(f"{name}: not a camera student checkpoint (its state layout has "
                         f"{len(interface.get('state_layout', []))} slots, images {sorted(interface.get('images', {}))}; "
                         f"a student has {len(STUDENT_LAYOUT)} slots and a camera)")
    slots = student_slots(layout)

    def drive(env: ReconDrivingEnv, observation: dict[str, np.ndarray]) -> tuple[int, int]:
        seen = student_observation(observation, slots)
        batch = {k: torch.as_tensor(v[None]) for k, v in seen.items()}
        lateral, longitudinal = policy.act(batch, torch.as_tensor(env.action_masks()[None]), deterministic=True)
        return int(lateral[0]), int(longitudinal[0])
    return drive


def with_student_camera(config: RLConfig, checkpoint: dict[str, Any]) -> RLConfig:
    """The config with the env rendering the front camera a student checkpoint (its whole data) was trained on."""
    _, height, width = checkpoint["interface"]["images"]["camera"]
    fov = float(checkpoint.get("config", {}).get("env", {}).get("camera_fov", config.env.camera_fov))
    env = dataclasses.replace(config.env, observation="camera", camera_width=int(width), camera_height=int(height),
                              camera_fov=fov)
    return dataclasses.replace(config, env=env)


def expert_driver(env: ReconDrivingEnv, observation: dict[str, np.ndarray]) -> tuple[int, int]:
    """The demonstrations' expert (privileged; a reference, not a learned policy)."""
    return expert_anchor(env)


def driving_score(events: list[str], completion: float) -> float:
    """The leaderboard's route score of one episode: its route completion (0-1) times the leaderboard's penalty
    factor of each collision it ended in (vehicle 0.6, static 0.65); a deviation ends the route without a factor."""
    penalty = 1.0
    if "dynamic_collision" in events:
        penalty *= PENALTY_VALUE_DICT[TrafficEventType.COLLISION_VEHICLE]
    if "static_collision" in events:
        penalty *= PENALTY_VALUE_DICT[TrafficEventType.COLLISION_STATIC]
    return completion * penalty


def run_episode(env: ReconDrivingEnv, driver: Driver, draw: Any) -> dict[str, Any]:
    """One episode of `draw` driven by `driver`: its events and per-decision traces."""
    observation, _ = env.reset(options={"draw": draw})
    offsets, accelerations, lateral_accelerations = [], [], []
    info: dict[str, Any] = {}
    while True:
        observation, _, terminated, truncated, info = env.step(np.array(driver(env, observation)))
        offsets.append(abs(info["offset"]))
        accelerations.append(info["acceleration"])
        lateral_accelerations.append(info["lateral_acceleration"])
        if terminated or truncated:
            break
    horizon = env.settings.anchor_horizon
    jerk = lambda a: float(np.mean(np.abs(np.diff(a)))) / horizon if len(a) > 1 else 0.0  # noqa: E731
    completion = float(min(1.0, max(0.0, info["progress"]) / info["planned_length"]))
    return {"events": info["events"], "add": float(np.mean(offsets)), "jerk_longitudinal": jerk(accelerations),
            "jerk_lateral": jerk(lateral_accelerations), "completion": completion,
            "driving_score": driving_score(info["events"], completion),
            "template": draw.template.name, "seed": draw.seed}


def summarise(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """The ratios and means over episodes."""
    def share(event: str) -> float:
        return float(np.mean([event in e["events"] for e in episodes]))

    dcr, scr = share("dynamic_collision"), share("static_collision")
    pdr, hdr = share("position_deviation"), share("heading_deviation")
    return {"episodes": len(episodes), "rear_ended": share("rear_ended"),
            "CR": float(np.mean([any(x.endswith("collision") for x in e["events"]) for e in episodes])), "DCR": dcr,
            "SCR": scr,
            "DR": float(np.mean([any("deviation" in x for x in e["events"]) for e in episodes])), "PDR": pdr, "HDR": hdr,
            "ADD": float(np.mean([e["add"] for e in episodes])),
            "jerk_longitudinal": float(np.mean([e["jerk_longitudinal"] for e in episodes])),
            "jerk_lateral": float(np.mean([e["jerk_lateral"] for e in episodes])),
            "route_completion": float(np.mean([e["completion"] for e in episodes])),
            "driving_score": float(np.mean([e["driving_score"] for e in episodes]))}


def evaluate(config: RLConfig, drivers: dict[str, Driver], episodes: int, seed: int = 0,
             split: str = "heldout") -> dict[str, Any]:
    """Every driver on the same `episodes` draws of `split` (held-out by default); per-driver summaries and episodes."""
    sampler = EpisodeSampler(config.env.templates, split, seed)
    draws = [sampler.draw() for _ in range(episodes)]
    env = ReconDrivingEnv(config, split=split, seed=seed)
    results: dict[str, Any] = {"split": split, "seed": seed, "draws": [(d.template.name, d.seed) for d in draws]}
    for name, driver in drivers.items():
        runs = [run_episode(env, driver, draw) for draw in draws]
        results[name] = {"summary": summarise(runs), "episodes": runs}
    env.close()
    return results


def ratio_text(results: dict[str, Any], names: list[str]) -> str:
    """A Markdown table of the summaries."""
    keys = ["CR", "DCR", "SCR", "DR", "PDR", "HDR", "ADD", "jerk_longitudinal", "jerk_lateral", "route_completion",
            "driving_score", "rear_ended"]
    lines = ["| policy | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name in names:
        summary = results[name]["summary"]
        lines.append(f"| {name} | " + " | ".join(f"{summary[k]:.3f}" if not math.isnan(summary[k]) else "nan"
                                                 for k in keys) + " |")
    return "\n".join(lines)
