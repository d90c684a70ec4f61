"""A vector of `ReconDrivingEnv`s in reconstructed scenes whose camera observations are rendered in one batch.

The envs step without camera sensors (`ReconDrivingEnv.external_camera`). Once every env of the vector has stepped
(and those whose episode ended have been reset: gymnasium's same-step autoreset, as `make_vector_env`), each env's
camera view is gathered from its world (the front camera's pose on the ego, and the vehicles drawn there, as the
world's `SplatBackend` lists them for a camera carried by the ego) and all views of a scene are rendered by one
`scene.batched_splat.BatchedSplatRenderer` call: one gsplat rasterization on CUDA, a loop of the CPU rasterizer
otherwise. The final observations of ended episodes (info['final_obs']) are rendered in the same batch.

The worlds step in this process (`processes=0`) or in `processes` worker processes, each holding a contiguous share
of the envs (a world is never pickled: each process builds its envs from (config, split, seed)); only observations,
infos and camera views travel, and the rendering stays in this process, on its GPU.

Images are those the env's own `FrontCamera` shows for the same states (tested), except after a decision cut short
by a collision: the FrontCamera keeps its last image (an earlier tick), the batch shows where the ego stopped.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import time
import traceback
from copy import deepcopy
from typing import Any, Iterator, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import CAMERA_MOUNT, ReconDrivingEnv
from recon_carla_bridge.scene.batched_splat import BatchedSplatRenderer, CameraView
from recon_carla_bridge.world.geometry import from_transform, matrix_to_pose, pose_matrix

AUTORESET_MODE = gym.vector.AutoresetMode.SAME_STEP
EnvRecipe = tuple[RLConfig, str, int]  # (config, split, seed) of one env
ViewJob = tuple[str, CameraView]  # (scene file, view)


def camera_view(env: ReconDrivingEnv) -> CameraView:
    """The view of `env`'s front camera now: its pose on the ego (as the world poses an attached sensor) and the
    vehicles its world draws for a camera carried by the ego (the ego itself is not drawn)."""
    if env.runner is None:
        raise RuntimeError("camera_view: the env has no episode (reset it first)")
    simulation = env.runner.world.simulation
    ego = simulation.state_of(env.runner.ego.id)
    mount_location, mount_rotation = from_transform(CAMERA_MOUNT)
    location, rotation = matrix_to_pose(pose_matrix(ego.location, ego.rotation) @ pose_matrix(mount_location, mount_rotation))
    snapshot = dataclasses.replace(simulation.render_snapshot(), camera_carriers=frozenset({ego.actor_id}))
    return CameraView(pose_matrix(location, rotation), simulation.camera_backend.actor_instances(snapshot))


def view_job(env: ReconDrivingEnv) -> ViewJob:
    """(the scene file of `env`'s world, its camera view); InputError for a world that is no reconstructed scene, or
    one whose scene has a restorer (the batch renders splats only)."""
    world = env.runner.world if env.runner is not None else None
    bundle = getattr(world, "scene_bundle", None)
    if bundle is None:
        raise InputError("batched camera: the env's world is not a reconstructed scene")
    if getattr(world.simulation.camera_backend, "restorer", None) is not None:
        raise InputError(f"batched camera: scene {bundle.root} has a restorer, which batched rendering does not apply "
                         "(use the per-env cameras of make_vector_env(..., batched_camera=False))")
    return str(bundle.scene_file.resolve()), camera_view(env)


def scene_gaussians(scene_file: str, device: str) -> Any:
    """The Gaussians of a scene file as worlds draw them, on `device` (loaded once per file version and device: on
    the CPU the very object the scene's worlds hold)."""
    import os

    from recon_carla_bridge.scene.scene_world import prepared_gaussians

    stat = os.stat(scene_file)
    return prepared_gaussians(scene_file, stat.st_mtime_ns, stat.st_size, device)


def step_env(env: ReconDrivingEnv, action: Any) -> tuple:
    """(observation less the camera, reward, terminated, truncated, info, final, view job) of one env step, where
    `final` is (final observation, final info, its view job) when the episode ended and the env was reset, else None."""
    observation, reward, terminated, truncated, info = env.step(action)
    observation.pop("camera", None)
    final = None
    if terminated or truncated:
        final = (observation, info, view_job(env))
        observation, info = env.reset()
        observation.pop("camera", None)
    return observation, float(reward), bool(terminated), bool(truncated), info, final, view_job(env)


class EnvShare:
    """Envs of the vector that step in one process; their results carry camera views instead of images."""

    def __init__(self, recipes: Sequence[EnvRecipe]) -> None:
        """One env per (config, split, seed), camera observation required."""
        self.envs = []
        for config, split, seed in recipes:
            if config.env.observation != "camera":
                raise InputError(f"env.observation: the batched camera vector needs 'camera', got {config.env.observation!r}")
            env = ReconDrivingEnv(config, split=split, seed=seed)
            env.external_camera = True
            self.envs.append(env)

    def reset(self, seeds: list[int | None], options: dict[str, Any] | None, chosen: list[bool]) -> list[tuple]:
        """(observation less the camera, info, view job) of each chosen env, reset."""
        results = []
        for env, seed, pick in zip(self.envs, seeds, chosen):
            if pick:
                observation, info = env.reset(seed=seed, options=options)
                observation.pop("camera", None)
                results.append((observation, info, view_job(env)))
        return results

    def step(self, actions: list[Any]) -> list[tuple]:
        """Per env: (observation, reward, terminated, truncated, info, final, view job), where `final` is (final
        observation, final info, its view job) when the episode ended and the env was reset, else None."""
        return [step_env(env, action) for env, action in zip(self.envs, actions)]

    def step_chunks(self, actions: list[Any], chunks: int) -> Iterator[list[tuple]]:
        """`step` of the envs in `chunks` consecutive parts (`np.array_split`, some maybe empty), each part's results
        as soon as they are there (the caller renders one part while the next steps)."""
        for part in np.array_split(np.arange(len(self.envs)), chunks):
            yield [step_env(self.envs[i], actions[i]) for i in part]

    def views(self) -> list[ViewJob]:
        """Every env's view job now."""
        return [view_job(env) for env in self.envs]

    def call(self, name: str, args: tuple, kwargs: dict) -> list[Any]:
        """`env.name(*args, **kwargs)` (or the attribute itself) of every env."""
        values = []
        for env in self.envs:
            attribute = getattr(env, name)
            values.append(attribute(*args, **kwargs) if callable(attribute) else attribute)
        return values

    def get_attr(self, name: str) -> list[Any]:
        """`env.name` of every env."""
        return [getattr(env, name) for env in self.envs]

    def close(self) -> None:
        """Close the envs."""
        for env in self.envs:
            env.close()


def _serve(pipe: Any, recipes: Sequence[EnvRecipe], threads: int) -> None:
    """A worker process: build an EnvShare, answer (method, args) requests until 'close'."""
    import torch

    torch.set_num_threads(threads)
    try:
        share = EnvShare(recipes)
    except Exception:  # noqa: BLE001 — reported to the parent, which raises
        pipe.send(("error", traceback.format_exc()))
        return
    pipe.send(("ok", None))
    while True:
        method, args = pipe.recv()
        if method == "close":
            share.close()
            pipe.send(("ok", None))
            return
        if method == "step_chunks":  # one answer per chunk, each sent as soon as it is there
            try:
                for part in share.step_chunks(*args):
                    pipe.send(("ok", part))
            except Exception:  # noqa: BLE001
                pipe.send(("error", traceback.format_exc()))
            continue
        try:
            pipe.send(("ok", getattr(share, method)(*args)))
        except Exception:  # noqa: BLE001
            pipe.send(("error", traceback.format_exc()))


class ShareProcess:
    """An EnvShare in a worker process (spawned: the parent may hold CUDA), driven through a pipe."""

    def __init__(self, recipes: Sequence[EnvRecipe], threads: int = 1) -> None:
        """Start the process and wait until its envs are built (RuntimeError with its traceback otherwise)."""
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, list(recipes), threads), daemon=True)
        self.process.start()
        child.close()
        self.result()

    def send(self, method: str, *args: Any) -> None:
        """Ask for `EnvShare.method(*args)` (answered by `result`)."""
        self.pipe.send((method, args))

    def result(self) -> Any:
        """The answer to the last request."""
        status, value = self.pipe.recv()
        if status != "ok":
            raise RuntimeError(f"batched camera worker {self.process.pid} failed:\n{value}")
        return value

    def close(self) -> None:
        """Close the envs and end the process."""
        if self.process.is_alive():
            try:
                self.send("close")
                self.result()
            except (EOFError, BrokenPipeError, RuntimeError):
                pass
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()


class LocalShare:
    """An EnvShare in this process, with ShareProcess's send/result interface."""

    def __init__(self, recipes: Sequence[EnvRecipe]) -> None:
        """Build the envs here."""
        self.share = EnvShare(recipes)
        self._answers: list[Any] = []

    def send(self, method: str, *args: Any) -> None:
        """Run `EnvShare.method(*args)` now (every chunk of `step_chunks`)."""
        answer = getattr(self.share, method)(*args)
        self._answers = list(answer) if method == "step_chunks" else [answer]

    def result(self) -> Any:
        """The next answer (`step_chunks`: the next chunk's)."""
        return self._answers.pop(0)

    def close(self) -> None:
        """Close the envs."""
        self.share.close()


class BatchedCameraVectorEnv(gym.vector.VectorEnv):
    """Camera-observation envs (same-step autoreset) whose images render in one batch per scene; see the module."""

    def __init__(self, recipes: Sequence[EnvRecipe], backend: str = "auto", processes: int = 0, copy: bool = True,
                 tile_size: int = 16, view_lod: bool = False, pipeline_chunks: int = 1) -> None:
        """One env per (config, split, seed); worlds in this process (`processes=0`) or spread over that many worker
        processes; rendering with `backend` (as `recon.render.choose_backend`) in gsplat tiles of `tile_size`;
        `view_lod`: each camera draws the background at a level of detail of its own (`scene.view_lod`: fewer
        Gaussians per view, images within 28 dB+ of the full scene, no longer byte-equal to the FrontCamera's);
        `pipeline_chunks` > 1: `step` renders in that many batches, each while the workers step the next (see
        `step`; with `processes=0` nothing overlaps)."""
        from recon_carla_bridge.recon.render import choose_backend

        if not recipes:
            raise InputError("batched camera vector: no envs")
        super().__init__()
        self.backend, self.copy, self.tile_size, self.view_lod = choose_backend(backend), copy, tile_size, view_lod
        self.pipeline_chunks = pipeline_chunks
        self.num_envs = len(recipes)
        if processes > 0:
            threads = recipes[0][0].train.threads
            parts = np.array_split(np.arange(self.num_envs), min(processes, self.num_envs))
            self._shares: list[Any] = [ShareProcess([recipes[i] for i in part], threads) for part in parts]
            self._sizes = [len(part) for part in parts]
            self.envs: list[ReconDrivingEnv] = []  # the envs live in the worker processes
            probe = ReconDrivingEnv(recipes[0][0], recipes[0][1], recipes[0][2])  # spaces only, no world
        else:
            local = LocalShare(recipes)
            self._shares, self._sizes, self.envs = [local], [self.num_envs], local.share.envs
            probe = self.envs[0]
        self.single_observation_space, self.single_action_space = probe.observation_space, probe.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": AUTORESET_MODE}
        settings = probe.settings
        self.camera_size = (settings.camera_width, settings.camera_height, settings.camera_fov)
        self._renderers: dict[str, BatchedSplatRenderer] = {}
        self._observations = create_empty_array(self.single_observation_space, n=self.num_envs, fn=np.zeros)
        self._rewards = np.zeros(self.num_envs)
        self._terminations = np.zeros(self.num_envs, dtype=bool)
        self._truncations = np.zeros(self.num_envs, dtype=bool)
        self._env_obs: list[dict[str, np.ndarray]] = [{} for _ in range(self.num_envs)]
        self.timings = {"simulation_s": 0.0, "render_s": 0.0, "frames": 0, "render_calls": 0}

    # ---- gymnasium ---------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the envs (all, or options['reset_mask']); their first images render in one batch."""
        seeds = [None] * self.num_envs if seed is None else [seed + i for i in range(self.num_envs)] \
            if isinstance(seed, int) else list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"reset: {len(seeds)} seeds for {self.num_envs} envs")
        options = dict(options or {})
        mask = np.asarray(options.pop("reset_mask", np.ones(self.num_envs, dtype=bool)), dtype=bool)
        started = time.perf_counter()
        for share, part in zip(self._shares, self._parts()):
            share.send("reset", [seeds[i] for i in part], options or None, [bool(mask[i]) for i in part])
        answers = [answer for share in self._shares for answer in share.result()]
        self.timings["simulation_s"] += time.perf_counter() - started
        infos: dict[str, Any] = {}
        jobs = []
        for i, (observation, info, job) in zip(np.flatnonzero(mask), answers):
            self._env_obs[i] = observation
            self._terminations[i] = self._truncations[i] = False
            infos = self._add_info(infos, info, int(i))
            jobs.append(job)
        for i, image in zip(np.flatnonzero(mask), self._render(jobs)):
            self._env_obs[i]["camera"] = image
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return (deepcopy(self._observations) if self.copy else self._observations), infos

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; an ended episode's final observation goes to info['final_obs'] and the env resets at once
        (same-step autoreset); then every camera image of this step (final ones too) renders in one batch, or, with
        `pipeline_chunks` > 1, in one batch per chunk while the worker processes step the next chunk (the same
        results: a view's image does not depend on its batch)."""
        actions = list(iterate(self.action_space, actions))
        chunks = max(1, int(self.pipeline_chunks))
        started = time.perf_counter()
        for share, part in zip(self._shares, self._parts()):
            if chunks == 1:
                share.send("step", [actions[i] for i in part])
            else:
                share.send("step_chunks", [actions[i] for i in part], chunks)
        answers: list[Any] = [None] * self.num_envs
        images: list[np.ndarray] = [np.empty(0)] * self.num_envs
        final_images: dict[int, np.ndarray] = {}
        chunk_parts = [np.array_split(np.asarray(part), chunks) for part in self._parts()]
        for chunk in range(chunks):
            waited = time.perf_counter()
            envs_here: list[int] = []
            for share, parts in zip(self._shares, chunk_parts):
                envs_here.extend(int(i) for i in parts[chunk])
                for i, answer in zip(parts[chunk], share.result()):
                    answers[int(i)] = answer
            self.timings["simulation_s"] += time.perf_counter() - (started if chunk == 0 else waited)
            ended = [i for i in envs_here if answers[i][5] is not None]
            rendered = self._render([answers[i][6] for i in envs_here] + [answers[i][5][2] for i in ended])
            for slot, i in enumerate(envs_here):
                images[i] = rendered[slot]
            for slot, i in enumerate(ended, start=len(envs_here)):
                final_images[i] = rendered[slot]
        infos: dict[str, Any] = {}
        for i, (observation, reward, terminated, truncated, info, final, _) in enumerate(answers):
            self._env_obs[i], self._rewards[i] = observation, reward
            self._terminations[i], self._truncations[i] = terminated, truncated
            if final is not None:
                final_obs, final_info, _ = final
                final_obs["camera"] = final_images[i]
                infos = self._add_info(infos, {"final_obs": final_obs, "final_info": final_info}, i)
            infos = self._add_info(infos, info, i)
            self._env_obs[i]["camera"] = images[i]
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return ((deepcopy(self._observations) if self.copy else self._observations), np.copy(self._rewards),
                np.copy(self._terminations), np.copy(self._truncations), infos)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """`env.name(*args, **kwargs)` (or the attribute) of every env, in env order."""
        for share in self._shares:
            share.send("call", name, args, kwargs)
        return tuple(value for share in self._shares for value in share.result())

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """`env.name` of every env, in env order."""
        for share in self._shares:
            share.send("get_attr", name)
        return tuple(value for share in self._shares for value in share.result())

    def view_jobs(self) -> list[ViewJob]:
        """Every env's (scene file, camera view) now, in env order."""
        for share in self._shares:
            share.send("views")
        return [job for share in self._shares for job in share.result()]

    def close_extras(self, **kwargs: Any) -> None:
        """Close the envs (and end the worker processes)."""
        for share in self._shares:
            share.close()

    # ---- rendering ---------------------------------------------------------------------------------------------
    def renderer_for(self, scene_file: str) -> BatchedSplatRenderer:
        """The batched renderer of a scene file (built once)."""
        if scene_file not in self._renderers:
            width, height, fov = self.camera_size
            gaussians = scene_gaussians(scene_file, "cuda" if self.backend == "gsplat" else "cpu")
            self._renderers[scene_file] = BatchedSplatRenderer(gaussians, width, height, fov, self.backend, self.tile_size,
                                                               view_lod=self.view_lod)
        return self._renderers[scene_file]

    def use_view_lod(self, enabled: bool) -> None:
        """Render from now on with (or without) per-view levels of detail (see `__init__`'s `view_lod`)."""
        if bool(enabled) != self.view_lod:
            self.view_lod = bool(enabled)
            self._renderers.clear()

    def _parts(self) -> list[range]:
        bounds = np.cumsum([0, *self._sizes])
        return [range(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    def _render(self, jobs: Sequence[ViewJob]) -> list[np.ndarray]:
        """One image per view job, in one batch per scene."""
        by_scene: dict[str, list[int]] = {}
        for index, (scene_file, _) in enumerate(jobs):
            by_scene.setdefault(scene_file, []).append(index)
        images: list[np.ndarray] = [np.empty(0)] * len(jobs)
        for scene_file, indices in by_scene.items():
            renderer = self.renderer_for(scene_file)
            started = time.perf_counter()
            rendered = renderer.render([jobs[i][1] for i in indices])
            self.timings["render_s"] += time.perf_counter() - started
            self.timings["frames"] += len(indices)
            self.timings["render_calls"] += 1
            for slot, index in enumerate(indices):
                images[index] = rendered[slot]
        return images


def batched_camera_vector_env(config: RLConfig, num_envs: int, split: str = "train", seed: int = 0,
                              indices: list[int] | None = None, backend: str = "auto",
                              processes: int = 0, tile_size: int = 16, view_lod: bool = False,
                              pipeline_chunks: int = 1) -> BatchedCameraVectorEnv:
    """`num_envs` camera-observation envs (env i seeded `seed + i`, or the envs `indices` of a larger set) whose
    templates are all reconstructed scenes (InputError naming those that are not); worlds in `processes` workers;
    `view_lod` and `pipeline_chunks` as `BatchedCameraVectorEnv`'s."""
    from recon_carla_bridge.scene.scene_world import is_scene

    towns = [t.name or t.scene for t in config.env.templates if not is_scene(t.scene)]
    if towns:
        raise InputError(f"env.templates: batched camera rendering needs reconstructed scenes; not one: {', '.join(towns)}")
    chosen = list(range(num_envs)) if indices is None else list(indices)
    return BatchedCameraVectorEnv([(config, split, seed + i) for i in chosen], backend=backend, processes=processes,
                                  tile_size=tile_size, view_lod=view_lod, pipeline_chunks=pipeline_chunks)
