"""A vector of environments spread over worker processes (one CPU core each), stepped like gymnasium's SyncVectorEnv
in the same-step autoreset mode: the same seeds give the same observations, rewards, terminations and infos.

Each worker process builds its share of the envs from the config (worlds are never pickled): env i is
`ReconDrivingEnv(config, split, seed + i)` whichever process holds it. A step sends every worker its envs' actions,
the workers step (and autoreset) their envs at the same time, and the results are put together in env order with
gymnasium's own info batching, exactly as SyncVectorEnv does in one process.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from recon_carla_bridge.rl.config import RLConfig

START_METHOD = "spawn"  # a fresh interpreter per worker: no forked torch / OpenMP thread state


def _serve(connection: Connection, config: RLConfig, split: str, seed: int, indices: list[int]) -> None:
    """A worker's loop: build envs `indices`, then answer reset / step / call / close until told to close."""
    import torch

    torch.set_num_threads(1)
    from recon_carla_bridge.rl.env import ReconDrivingEnv

    envs: list[ReconDrivingEnv] = []
    try:
        envs = [ReconDrivingEnv(config, split=split, seed=seed + index) for index in indices]
        connection.send(("ok", None, 0.0))
    except Exception:  # noqa: BLE001 — reported to the parent, which raises it
        connection.send(("error", traceback.format_exc(), 0.0))
        return
    frozen = False
    while True:
        command, payload = connection.recv()
        try:
            if command == "close":
                for env in envs:
                    env.close()
                connection.send(("ok", None, 0.0))
                connection.close()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)  # the envs are closed: no interpreter teardown (a second of unloading libraries)
            started = time.process_time()
            answer = _answer(envs, command, payload)
            connection.send(("ok", answer, time.process_time() - started))
            if command == "reset" and not frozen:
                _freeze_long_lived()
                frozen = True
        except Exception:  # noqa: BLE001 — reported to the parent, which raises it
            connection.send(("error", traceback.format_exc(), 0.0))


def _freeze_long_lived() -> None:
    """Keep what the first reset built (parsed maps, scene bundles, blueprint libraries: hundreds of thousands of
    objects that live as long as the worker) out of the garbage collector's full scans, which otherwise walk them all
    every few episodes. Collected first, so that only live objects are frozen."""
    gc.collect()
    gc.freeze()


def _answer(envs: list[Any], command: str, payload: Any) -> Any:
    """The worker's answer to one command for its envs."""
    if command == "reset":
        seeds, options, mask = payload
        answers = [env.reset(seed=seed, options=options) if wanted else None
                   for env, seed, wanted in zip(envs, seeds, mask)]
        return [(answer, _masks_of(env)) for answer, env in zip(answers, envs)]
    if command == "step":
        results = []
        for env, action in zip(envs, payload):
            observation, reward, terminated, truncated, info = env.step(action)
            final = None
            if terminated or truncated:  # same-step autoreset, as SyncVectorEnv
                final = (observation, info)
                observation, info = env.reset()
            results.append(((observation, float(reward), bool(terminated), bool(truncated), final, info), _masks_of(env)))
        return results
    if command == "call":
        name, args, kwargs = payload
        answers = []
        for env in envs:
            attribute = env.get_wrapper_attr(name)
            answers.append(attribute(*args, **kwargs) if callable(attribute) else attribute)
        return answers
    raise ValueError(f"process vector worker: unknown command {command!r}")


def _masks_of(env: Any) -> Any:
    """The env's action mask after a reset or step (sent along, so that reading it costs no message)."""
    masks = getattr(env, "action_masks", None)
    return masks() if callable(masks) else None


class ProcessVectorEnv(gym.vector.VectorEnv):
    """`len(indices)` envs over `processes` worker processes (see the module docstring)."""

    def __init__(self, config: RLConfig, indices: list[int], processes: int, split: str = "train", seed: int = 0) -> None:
        """Envs `indices` (env i draws its episodes from seed `seed + i`), split in contiguous shares over
        `processes` workers (at most one per env)."""
        from recon_carla_bridge.rl.env import ReconDrivingEnv
        from recon_carla_bridge.rl.vector import AUTORESET_MODE

        if not indices:
            raise ValueError("ProcessVectorEnv needs at least one env")
        if processes < 1:
            raise ValueError(f"ProcessVectorEnv: processes must be >= 1, got {processes}")
        super().__init__()
        self.indices = list(indices)
        self.num_envs = len(self.indices)
        probe = ReconDrivingEnv(config, split=split, seed=seed)  # spaces only: no world is opened
        self.single_observation_space, self.single_action_space = probe.observation_space, probe.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = dict(probe.metadata)
        self.metadata["autoreset_mode"] = AUTORESET_MODE
        self.autoreset_mode = AUTORESET_MODE
        self.shares = [list(share) for share in np.array_split(np.arange(self.num_envs), min(processes, self.num_envs))]
        self._observations: list[Any] = [None] * self.num_envs
        self._masks: list[Any] = [None] * self.num_envs
        # CPU seconds of the workers' answers: per worker, and summed over calls of the slowest worker's (what a
        # call would take on idle cores, the messages aside)
        self.worker_cpu_s = [0.0] * len(self.shares)
        self.critical_cpu_s = 0.0
        context = multiprocessing.get_context(START_METHOD)
        self._connections: list[Connection] = []
        self._processes: list[Any] = []
        for share in self.shares:
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, config, split, seed, [self.indices[i] for i in share]),
                                      daemon=True, name=f"recon-env-{self.indices[share[0]]}")
            process.start()
            child.close()
            self._connections.append(parent)
            self._processes.append(process)
        self._closed = False
        try:
            self._gather()
        except RuntimeError:
            self.close_extras()
            raise

    # ---- gymnasium's vector interface ------------------------------------------------------------
    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the envs (seed: None, an int for seed, seed+1, …, or one per env), as SyncVectorEnv."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"If seeds are passed as a list the length must match num_envs={self.num_envs} "
                             f"but got length={len(seeds)}.")
        options = dict(options) if options is not None else None
        mask = np.ones(self.num_envs, dtype=bool)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"), dtype=bool)
            if mask.shape != (self.num_envs,) or not mask.any():
                raise ValueError(f"options['reset_mask'] must be {self.num_envs} booleans with one True at least")
        for connection, share in zip(self._connections, self.shares):
            connection.send(("reset", ([seeds[i] for i in share], options, [bool(mask[i]) for i in share])))
        answers = self._unpack_masks(self._gather())
        infos: dict[str, Any] = {}
        for i, answer in enumerate(answers):
            if answer is not None:
                self._observations[i], env_info = answer
                infos = self._add_info(infos, env_info, i)
        return self._batched(), infos

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every env at once; an env whose episode ends starts the next (its final observation and
        info in info['final_obs'] / info['final_info'])."""
        per_env = list(iterate(self.action_space, actions))
        if len(per_env) != self.num_envs:
            raise ValueError(f"ProcessVectorEnv.step: {len(per_env)} actions for {self.num_envs} envs")
        for connection, share in zip(self._connections, self.shares):
            connection.send(("step", [per_env[i] for i in share]))
        answers = self._unpack_masks(self._gather())
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=np.bool_)
        truncations = np.zeros(self.num_envs, dtype=np.bool_)
        infos: dict[str, Any] = {}
        for i, (observation, reward, terminated, truncated, final, env_info) in enumerate(answers):
            self._observations[i], rewards[i], terminations[i], truncations[i] = observation, reward, terminated, truncated
            if final is not None:
                infos = self._add_info(infos, {"final_obs": final[0], "final_info": final[1]}, i)
            infos = self._add_info(infos, env_info, i)
        return self._batched(), rewards, terminations, truncations, infos

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """Call method `name` of every env (or read attribute `name`), in env order. `action_masks()` answers from
        the masks the workers sent with the last reset or step (the envs have not moved since)."""
        if name == "action_masks" and not args and not kwargs and all(m is not None for m in self._masks):
            return tuple(mask.copy() for mask in self._masks)
        for connection in self._connections:
            connection.send(("call", (name, args, kwargs)))
        return tuple(self._gather())

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """Attribute `name` of every env, in env order."""
        return self.call(name)

    def close_extras(self, **kwargs: Any) -> None:
        """Close the envs and end the worker processes."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for connection, process in zip(self._connections, self._processes):
            try:
                if process.is_alive():
                    connection.send(("close", None))
                    connection.recv()
            except (BrokenPipeError, EOFError, OSError):
                pass
            connection.close()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    # ---- inside ----------------------------------------------------------------------------------
    def _unpack_masks(self, answers: list[tuple[Any, Any]]) -> list[Any]:
        """The answers without the action masks that came with them (kept for `call('action_masks')`)."""
        for i, (_, mask) in enumerate(answers):
            self._masks[i] = mask
        return [answer for answer, _ in answers]

    def _gather(self) -> list[Any]:
        """Every worker's answer, flattened in env order; RuntimeError (with the worker's traceback) on a failure."""
        answers: list[Any] = []
        errors: list[str] = []
        slowest = 0.0
        for worker, (connection, process) in enumerate(zip(self._connections, self._processes)):
            try:
                status, payload, cpu_s = connection.recv()
            except EOFError:
                status, payload, cpu_s = "error", f"worker {process.name} exited (code {process.exitcode})", 0.0
            self.worker_cpu_s[worker] += cpu_s
            slowest = max(slowest, cpu_s)
            if status == "ok":
                answers.extend(payload or [])
            else:
                errors.append(str(payload))
        self.critical_cpu_s += slowest
        if errors:
            raise RuntimeError("ProcessVectorEnv: a worker failed:\n" + "\n".join(errors))
        return answers

    def _batched(self) -> dict[str, np.ndarray]:
        return concatenate(self.single_observation_space, self._observations,
                           create_empty_array(self.single_observation_space, self.num_envs))
