"""A vector of `ReconDrivingEnv`s in reconstructed scenes whose camera observations are rendered in one batch.

The envs step without camera sensors (`ReconDrivingEnv.external_camera`). Once every env of the vector has stepped
(and those whose episode ended have been reset: gymnasium's same-step autoreset, as `make_vector_env`), each env's
camera view is gathered from its world (the front camera's pose on the ego, and the vehicles drawn there, as the
world's `SplatBackend` lists them for a camera carried by the ego) and all views of a scene are rendered by one
`scene.batched_splat.BatchedSplatRenderer` call: one gsplat rasterization on CUDA, a loop of the CPU rasterizer
otherwise. The final observations of ended episodes (info['final_obs']) are rendered in the same batch.

Images are those the env's own `FrontCamera` shows for the same states (tested), except after a decision cut short
by a collision: the FrontCamera keeps its last image (an earlier tick), the batch shows where the ego stopped.
"""
from __future__ import annotations

import dataclasses
import time
from copy import deepcopy
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector.utils import concatenate, iterate

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.rl.config import RLConfig
from recon_carla_bridge.rl.env import CAMERA_MOUNT, ReconDrivingEnv
from recon_carla_bridge.scene.batched_splat import BatchedSplatRenderer, CameraView
from recon_carla_bridge.world.geometry import from_transform, matrix_to_pose, pose_matrix

AUTORESET_MODE = gym.vector.AutoresetMode.SAME_STEP


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


def scene_gaussians(world: Any, device: str) -> tuple[str, Any]:
    """(scene file, its Gaussians on `device`) of a reconstructed scene's world: the world's own on the CPU, the
    same file's prepared Gaussians (loaded once per device) elsewhere."""
    from recon_carla_bridge.scene.scene_world import _prepared_gaussians

    bundle = getattr(world, "scene_bundle", None)
    if bundle is None:
        raise InputError(f"batched camera: the world of map {world.get_map().name!r} is not a reconstructed scene")
    if getattr(world.simulation.camera_backend, "restorer", None) is not None:
        raise InputError(f"batched camera: scene {bundle.root} has a restorer, which batched rendering does not apply "
                         "(use the per-env cameras of make_vector_env(..., batched_camera=False))")
    file = bundle.scene_file.resolve()
    if device == "cpu":
        return str(file), world.gaussian_scene
    stat = file.stat()
    return str(file), _prepared_gaussians(str(file), stat.st_mtime_ns, stat.st_size, device)


class BatchedCameraVectorEnv(gym.vector.SyncVectorEnv):
    """SyncVectorEnv (same-step autoreset) of camera-observation envs whose images render in one batch per scene."""

    def __init__(self, env_fns: Sequence[Callable[[], ReconDrivingEnv]], backend: str = "auto", copy: bool = True) -> None:
        """Envs from `env_fns` (camera observation, reconstructed scenes); `backend` as `recon.render.choose_backend`."""
        from recon_carla_bridge.recon.render import choose_backend

        def external(env_fn: Callable[[], ReconDrivingEnv]) -> Callable[[], ReconDrivingEnv]:
            def build() -> ReconDrivingEnv:
                env = env_fn()
                if env.settings.observation != "camera":
                    raise InputError("env.observation: the batched camera vector needs 'camera', got "
                                     f"{env.settings.observation!r}")
                env.external_camera = True
                return env
            return build

        self.backend = choose_backend(backend)
        super().__init__([external(fn) for fn in env_fns], copy=copy, autoreset_mode=AUTORESET_MODE)
        settings = self.envs[0].settings
        self.camera_size = (settings.camera_width, settings.camera_height, settings.camera_fov)
        self._renderers: dict[str, BatchedSplatRenderer] = {}
        self.timings = {"env_step_s": 0.0, "gather_s": 0.0, "render_s": 0.0, "frames": 0, "render_calls": 0}

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset the envs (as SyncVectorEnv), then render every reset env's first image in one batch."""
        mask = (options or {}).get("reset_mask")
        targets = list(range(self.num_envs)) if mask is None else [int(i) for i in np.flatnonzero(mask)]
        _, infos = super().reset(seed=seed, options=options)
        images = self._render([self.envs[i] for i in targets])
        for i, image in zip(targets, images):
            self._env_obs[i]["camera"] = image
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return (deepcopy(self._observations) if self.copy else self._observations), infos

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env; an ended episode's final observation goes to info['final_obs'] and the env resets at once
        (same-step autoreset); then every camera image of this step (final ones too) renders in one batch."""
        started = time.perf_counter()
        infos: dict[str, Any] = {}
        final_views: list[tuple[dict[str, np.ndarray], CameraView, ReconDrivingEnv]] = []
        for i, action in enumerate(iterate(self.action_space, actions)):
            env = self.envs[i]
            (self._env_obs[i], self._rewards[i], self._terminations[i], self._truncations[i], env_info) = env.step(action)
            if self._terminations[i] or self._truncations[i]:
                gathered = time.perf_counter()
                final_views.append((self._env_obs[i], camera_view(env), env))
                self.timings["gather_s"] += time.perf_counter() - gathered
                infos = self._add_info(infos, {"final_obs": self._env_obs[i], "final_info": env_info}, i)
                self._env_obs[i], env_info = env.reset()
            infos = self._add_info(infos, env_info, i)
        self.timings["env_step_s"] += time.perf_counter() - started
        extra = [(view, env) for _, view, env in final_views]
        images = self._render(self.envs, extra)
        for i, image in enumerate(images[:self.num_envs]):
            self._env_obs[i]["camera"] = image
        for (final_obs, _, _), image in zip(final_views, images[self.num_envs:]):
            final_obs["camera"] = image
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return ((deepcopy(self._observations) if self.copy else self._observations), np.copy(self._rewards),
                np.copy(self._terminations), np.copy(self._truncations), infos)

    # ---- rendering ------------------------------------------------------------------------------------------
    def renderer_for(self, env: ReconDrivingEnv) -> BatchedSplatRenderer:
        """The batched renderer of `env`'s current scene (built once per scene file)."""
        device = "cuda" if self.backend == "gsplat" else "cpu"
        key, gaussians = scene_gaussians(env.runner.world, device)
        if key not in self._renderers:
            width, height, fov = self.camera_size
            self._renderers[key] = BatchedSplatRenderer(gaussians, width, height, fov, self.backend)
        return self._renderers[key]

    def _render(self, envs: Sequence[ReconDrivingEnv],
                extra: Sequence[tuple[CameraView, ReconDrivingEnv]] = ()) -> list[np.ndarray]:
        """One image per env of `envs` (its view now), then one per (view, env) of `extra`, in one batch per scene."""
        gathered = time.perf_counter()
        jobs = [(camera_view(env), env) for env in envs] + list(extra)
        by_scene: dict[int, tuple[BatchedSplatRenderer, list[int]]] = {}
        for index, (_, env) in enumerate(jobs):
            renderer = self.renderer_for(env)
            by_scene.setdefault(id(renderer), (renderer, []))[1].append(index)
        self.timings["gather_s"] += time.perf_counter() - gathered
        images: list[np.ndarray] = [np.empty(0)] * len(jobs)
        for renderer, indices in by_scene.values():
            started = time.perf_counter()
            rendered = renderer.render([jobs[i][0] for i in indices])
            self.timings["render_s"] += time.perf_counter() - started
            self.timings["frames"] += len(indices)
            self.timings["render_calls"] += 1
            for slot, index in enumerate(indices):
                images[index] = rendered[slot]
        return images


def batched_camera_vector_env(config: RLConfig, num_envs: int, split: str = "train", seed: int = 0,
                              indices: list[int] | None = None, backend: str = "auto") -> BatchedCameraVectorEnv:
    """`num_envs` camera-observation envs (env i seeded `seed + i`, or the envs `indices` of a larger set) whose
    templates are all reconstructed scenes; InputError naming a template that is not."""
    from recon_carla_bridge.scene.scene_world import is_scene

    towns = [t.name or t.scene for t in config.env.templates if not is_scene(t.scene)]
    if towns:
        raise InputError(f"env.templates: batched camera rendering needs reconstructed scenes; not one: {', '.join(towns)}")

    def builder(index: int) -> Callable[[], ReconDrivingEnv]:
        return lambda: ReconDrivingEnv(config, split=split, seed=seed + index)

    chosen = list(range(num_envs)) if indices is None else list(indices)
    return BatchedCameraVectorEnv([builder(i) for i in chosen], backend=backend)
