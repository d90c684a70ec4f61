"""The RL configuration (`configs/rl/*.yaml`): environment, reward, PPO, imitation and run settings, validated on load.

An unknown key or a value out of its range is an InputError naming the file and the key (`env.frame_rate`, …).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recon_carla_bridge.config import config_from_dict
from recon_carla_bridge.errors import InputError

OBSERVATIONS = ("privileged", "camera")
ACTIONS = ("anchors", "continuous")


@dataclass(frozen=True)
class EpisodeTemplate:
    """One kind of episode: a scene, where the ego starts, and the DAA adversary drawn around it (None: CTG/log only).

    `adversary` holds the attributes of an `<adversary>` element (see `recon_carla_bridge.adversary.spec`); its
    parameter ranges are split into training and held-out parts by `episodes`."""

    scene: str
    ego: tuple[float, float, float] = (0.0, 0.0, 0.0)  # x, y, yaw° of the ego's start
    adversary: dict[str, Any] | None = None
    name: str = ""
    speed: float | None = None  # m/s the ego starts with and the expert path asks (None: env.target_speed)
    cousins: bool = False  # CTG: the expert path is a seeded cousin of the scene's logged drive (ego starts on it)
    weight: float = 1.0  # how often training draws this template, relative to the others (held-out draws are uniform)


@dataclass(frozen=True)
class EnvSettings:
    """The environment: episodes, observation, action, timing."""

    templates: tuple[EpisodeTemplate, ...] = ()
    frame_rate: float = 10.0  # world ticks per simulated second
    max_steps: int = 30  # decisions (of anchor_horizon s) per episode
    observation: str = "privileged"  # privileged | camera
    camera_width: int = 64
    camera_height: int = 32
    camera_fov: float = 90.0
    bev: bool = False  # add a small bird's-eye raster of the actors and the expert path (privileged)
    bev_size: int = 32
    bev_metres: float = 40.0
    nearby_actors: int = 6
    sensing_radius: float = 50.0  # m
    action: str = "anchors"  # anchors | continuous
    lateral_bins: int = 61
    longitudinal_bins: int = 61
    anchor_horizon: float = 0.5  # s
    target_speed: float = 8.0  # m/s of the expert path
    start_speed_min: float = 1.0  # the ego starts at a speed drawn from [start_speed_min, 1] × the target speed


@dataclass(frozen=True)
class RewardSettings:
    """RAD's penalties (each ends the episode) and their thresholds; `progress` rewards metres along the path."""

    dynamic_collision: float = -1.0
    static_collision: float = -1.0
    position_deviation: float = -1.0
    heading_deviation: float = -1.0
    position_threshold: float = 2.0  # m from the expert path
    heading_threshold: float = 40.0  # degrees from the expert path
    progress: float = 0.01  # per m along the expert path (longitudinal)
    ignore_rear_end: bool = True  # a follower driving into the ego's back ends the episode without a penalty
    headway: float = 0.0  # shaping (not in RAD; 0 = off): longitudinal penalty per decision of up to this much ...
    headway_time: float = 2.0  # ... growing as the time to collision with the vehicle ahead falls below this (s)


@dataclass(frozen=True)
class PPOSettings:
    """PPO with RAD's decoupled heads, and the imitation steps interleaved with it."""

    learning_rate: float = 3e-4
    rollout_steps: int = 128  # decisions per env per update
    epochs: int = 4
    minibatches: int = 4
    gamma: float = 0.95
    gae_lambda: float = 0.9
    clip: float = 0.2
    value_coef: float = 0.5
    entropy_coef: float = 0.003
    max_grad_norm: float = 0.5
    il_coef: float = 0.5  # weight of the behaviour-cloning loss in the interleaved IL steps
    il_lateral_coef: float | None = None  # the lateral head's IL weight when it differs from il_coef
    il_every: int = 1  # one IL minibatch step after every `il_every` PPO minibatch steps (0: never)
    collision_aux_coef: float = 0.0  # RAD's dynamic-collision auxiliary objective (`ppo.collision_auxiliary`)
    advantage_std_floor: float = 0.0  # each head's advantages are divided by max(their std, this): a head whose
    # rewards are all zero in a batch (no deviation happened) then gets no amplified value-noise gradient


@dataclass(frozen=True)
class ILSettings:
    """Imitation pre-training on expert demonstrations."""

    demo_episodes: int = 40
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-3
    label_smoothing: float = 2.0  # std (in bins) of the Gaussian soft label around the expert's anchor
    demo_noise: float = 0.0  # share of demonstration decisions driven with a perturbed anchor (labels stay the expert's)
    demo_noise_bins: int = 12  # how far (lateral bins) a perturbed anchor strays from the expert's


@dataclass(frozen=True)
class TrainSettings:
    """The run: seed, length, vector size, checkpoints, logs."""

    seed: int = 0
    total_steps: int = 20000  # env decisions of PPO
    num_envs: int = 4
    hidden: int = 128
    checkpoint_every: int = 1  # PPO updates between checkpoints
    out_dir: str = "out/rl"
    threads: int = 1  # torch threads
    env_processes: int = 1  # worker processes the in-process rollouts spread their envs over (1: this process)


@dataclass(frozen=True)
class RLConfig:
    """Everything `recon-carla train il|rl` reads."""

    env: EnvSettings = field(default_factory=EnvSettings)
    reward: RewardSettings = field(default_factory=RewardSettings)
    ppo: PPOSettings = field(default_factory=PPOSettings)
    il: ILSettings = field(default_factory=ILSettings)
    train: TrainSettings = field(default_factory=TrainSettings)


# (section, key) -> (low, high) inclusive; None: unbounded on that side
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("env", "frame_rate"): (1.0, 100.0), ("env", "max_steps"): (1, 10000), ("env", "camera_width"): (8, 1024),
    ("env", "camera_height"): (8, 1024), ("env", "camera_fov"): (10.0, 170.0), ("env", "bev_size"): (8, 256),
    ("env", "bev_metres"): (5.0, 200.0), ("env", "nearby_actors"): (0, 64), ("env", "sensing_radius"): (1.0, 500.0),
    ("env", "lateral_bins"): (3, 301), ("env", "longitudinal_bins"): (3, 301), ("env", "anchor_horizon"): (0.05, 5.0),
    ("env", "target_speed"): (0.0, 30.0), ("env", "start_speed_min"): (0.0, 1.0),
    ("reward", "dynamic_collision"): (None, 0.0), ("reward", "static_collision"): (None, 0.0),
    ("reward", "position_deviation"): (None, 0.0), ("reward", "heading_deviation"): (None, 0.0),
    ("reward", "position_threshold"): (0.1, 20.0), ("reward", "heading_threshold"): (1.0, 180.0),
    ("reward", "progress"): (0.0, 10.0), ("reward", "headway"): (0.0, 10.0), ("reward", "headway_time"): (0.1, 30.0),
    ("ppo", "learning_rate"): (1e-7, 1.0), ("ppo", "rollout_steps"): (1, 100000), ("ppo", "epochs"): (1, 100),
    ("ppo", "minibatches"): (1, 4096), ("ppo", "gamma"): (0.0, 1.0), ("ppo", "gae_lambda"): (0.0, 1.0),
    ("ppo", "clip"): (0.01, 1.0), ("ppo", "value_coef"): (0.0, 100.0), ("ppo", "entropy_coef"): (0.0, 10.0),
    ("ppo", "max_grad_norm"): (0.01, 1000.0), ("ppo", "il_coef"): (0.0, 100.0), ("ppo", "il_every"): (0, 1000),
    ("ppo", "advantage_std_floor"): (0.0, 100.0), ("ppo", "collision_aux_coef"): (0.0, 100.0),
    ("ppo", "il_lateral_coef"): (0.0, 100.0),
    ("il", "demo_episodes"): (1, 100000), ("il", "epochs"): (0, 10000), ("il", "batch_size"): (1, 1000000),
    ("il", "learning_rate"): (1e-7, 1.0), ("il", "label_smoothing"): (0.0, 50.0), ("il", "demo_noise"): (0.0, 1.0),
    ("il", "demo_noise_bins"): (0, 1000),
    ("train", "total_steps"): (0, 10**9), ("train", "num_envs"): (1, 256), ("train", "hidden"): (8, 4096),
    ("train", "checkpoint_every"): (1, 10**6), ("train", "threads"): (1, 64),
    ("train", "env_processes"): (1, 64),
}
CHOICES = {("env", "observation"): OBSERVATIONS, ("env", "action"): ACTIONS}
SECTIONS = {"env": EnvSettings, "reward": RewardSettings, "ppo": PPOSettings, "il": ILSettings, "train": TrainSettings}
TEMPLATE_KEYS = {f.name for f in dataclasses.fields(EpisodeTemplate)}


def _template(values: Any, where: str) -> EpisodeTemplate:
    if not isinstance(values, dict):
        raise InputError(f"{where}: expected a mapping with scene, ego, adversary")
    unknown = sorted(set(values) - TEMPLATE_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(TEMPLATE_KEYS))}")
    if not isinstance(values.get("scene"), str):
        raise InputError(f"{where}.scene: a scene or town name is required")
    ego = values.get("ego", (0.0, 0.0, 0.0))
    if not (isinstance(ego, (list, tuple)) and len(ego) == 3 and all(isinstance(v, (int, float)) for v in ego)):
        raise InputError(f"{where}.ego: expected [x, y, yaw_degrees], got {ego!r}")
    adversary = values.get("adversary")
    if adversary is not None:
        if not isinstance(adversary, dict):
            raise InputError(f"{where}.adversary: expected a mapping of <adversary> attributes")
        from recon_carla_bridge.rl.episodes import adversary_spec

        adversary_spec(adversary, f"{where}.adversary")  # validates the manoeuvre and ranges now
    speed = values.get("speed")
    if speed is not None and (not isinstance(speed, (int, float)) or not 0.0 <= speed <= 30.0):
        raise InputError(f"{where}.speed: expected a number of m/s in [0, 30], got {speed!r}")
    cousins = values.get("cousins", False)
    if not isinstance(cousins, bool):
        raise InputError(f"{where}.cousins: expected true or false, got {cousins!r}")
    weight = values.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 < weight <= 1000.0:
        raise InputError(f"{where}.weight: expected a number in (0, 1000], got {weight!r}")
    return EpisodeTemplate(values["scene"], tuple(float(v) for v in ego), adversary, str(values.get("name", "")),
                           None if speed is None else float(speed), cousins, float(weight))


def _check_ranges(section: str, settings: Any, where: str) -> None:
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        bounds = RANGES.get((section, f.name))
        if bounds is not None and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"{where}: {section}.{f.name}={value!r} is not a number")
            low, high = bounds
            if (low is not None and value < low) or (high is not None and value > high):
                raise InputError(f"{where}: {section}.{f.name}={value!r} is outside "
                                 f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]")
        choices = CHOICES.get((section, f.name))
        if choices is not None and value not in choices:
            raise InputError(f"{where}: {section}.{f.name}={value!r} is not one of {', '.join(choices)}")


def config_from_mapping(values: dict[str, Any], where: str = "config") -> RLConfig:
    """An RLConfig from a mapping of sections; InputError naming `where` and the key on anything wrong."""
    if not isinstance(values, dict):
        raise InputError(f"{where}: expected a mapping of sections ({', '.join(SECTIONS)})")
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise InputError(f"{where}: unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        raw = dict(values.get(name) or {})
        if not isinstance(values.get(name) or {}, dict):
            raise InputError(f"{where}: section '{name}' must be a mapping")
        templates = raw.pop("templates", None) if name == "env" else None
        settings = config_from_dict(cls, raw, f"{where}: {name}")
        if templates is not None:
            if not isinstance(templates, list) or not templates:
                raise InputError(f"{where}: env.templates must be a non-empty list")
            settings = dataclasses.replace(settings, templates=tuple(
                _template(t, f"{where}: env.templates[{i}]") for i, t in enumerate(templates)))
        _check_ranges(name, settings, where)
        sections[name] = settings
    config = RLConfig(**sections)
    if not config.env.templates:
        raise InputError(f"{where}: env.templates is empty: name at least one scene and ego start")
    return config


def read_config_sections(path: str | os.PathLike[str],
                         overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The YAML mapping of sections of a config file, `overrides` ({section: {key: value}}) applied; InputError naming
    the file when it cannot be read, is not YAML or is not a mapping."""
    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error})") from None
    except yaml.YAMLError as error:
        raise InputError(f"{path}: malformed YAML ({error})") from None
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of sections ({', '.join(SECTIONS)})")
    for section, keys in (overrides or {}).items():
        present = values.get(section)
        if present is None or isinstance(present, dict):  # an empty section (`ppo:`) reads as None
            values[section] = {**(present or {}), **keys}
    return values


def load_rl_config(path: str | os.PathLike[str], overrides: dict[str, dict[str, Any]] | None = None) -> RLConfig:
    """Read and validate a YAML config; `overrides` ({section: {key: value}}) replace what the file says."""
    return config_from_mapping(read_config_sections(path, overrides), str(path))


def config_as_dict(config: RLConfig) -> dict[str, Any]:
    """The config as plain data (for checkpoints and logs)."""
    return dataclasses.asdict(config)
