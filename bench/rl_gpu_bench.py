"""Env steps/s of camera-observation RL with batched rendering (`rl.batched_camera`): N envs in a reconstructed
scene, one front camera each, all images of a step rendered in one call (one gsplat rasterization on CUDA, a loop of
the CPU rasterizer otherwise). An env step is one decision (`anchor_horizon` × `frame_rate` = 5 world ticks).

Per (N, image size, mode) one JSON line: env steps/s of the whole loop (policy on the render device, vector step,
rendering), the shares of wall time of simulation (the envs' steps and resets, their Python and the gathering of
camera views included; with --processes, the wait for the worker processes), rendering and the policy; and frames/s
of the batched render call alone (the same N views rendered again and again: composition of each world's actors,
rasterization, sky, bytes to the host), with the GPU memory it peaked at and the Gaussians per view. A mode is
(--view-lod off|on: each view draws the background and the vehicles at levels of detail of its own,
`scene.view_lod`; --pipeline-chunks K: each step renders in K batches, each while the workers step the next); the
modes run in turn over the same envs, so one run compares them (before/after) on one machine.
The issue's goal: >= 2000 env steps/s with one camera per env on one GPU.

CPU smoke test (a CI-like machine, a minute):
    PYTHONPATH=. python bench/rl_gpu_bench.py --scene kitti --envs 2 --sizes 32x16 --steps 2 --render-repeats 1
GPU (the device machine, its python3 3.12 with CUDA torch). Here, once, into the git-ignored .whl/ (carried with
`carry: [".whl"]`; the carla wheel is repacked with xz and gsplat without glm's docs, or the tree passes 64 MiB):
    pip download --no-deps carla==0.9.16 shapely==2.2.0 ephem==4.2.1 --python-version 3.12 --only-binary=:all: \
        --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d /tmp/w
    pip download --no-deps gymnasium==1.4.0 farama-notifications==0.0.6 py_trees==0.8.3 carla-scenario-runner==0.9.11 \
        pydot gsplat==1.5.3 -d /tmp/w
    (cd /tmp/c && unzip -q /tmp/w/carla-*.whl && tar cf - . | xz -9e > $REPO/.whl/carla.tar.xz)
    (cd /tmp/g && unzip -q /tmp/w/gsplat-*.whl && rm -r gsplat/cuda/csrc/third_party/glm/{doc,test} && \
        tar cf - . | xz -9 > $REPO/.whl/gsplat.tar.xz)
    cp /tmp/w/*.whl $REPO/.whl/ && rm $REPO/.whl/carla-0*.whl $REPO/.whl/gsplat-*.whl
there (the run in docs/figures/gpu/rl_gpu_bench_kitti_0013_h100.txt):
    mkdir -p /tmp/site && tar xJf .whl/carla.tar.xz -C /tmp/site && tar xJf .whl/gsplat.tar.xz -C /tmp/site && \
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && \
    export PYTHONPATH=/tmp/site:$PWD TORCH_EXTENSIONS_DIR=/tmp/torch_ext MAX_JOBS=16 PYTHONUNBUFFERED=1 && \
    python3 bench/rl_gpu_bench.py --envs 1024 --processes 15 --tile-size 8 --sizes 64x32 --render-sizes 224x128 \
        --steps 6 --render-repeats 3
Before/after per-view levels of detail and pipelining in one run (carry [".whl", ".devdata"]: the carla wheel
repacked for python 3.12 as .devdata/carla312.tar.xz, gsplat as .whl/gsplat.tar.xz as above; ~6 min):
    mkdir -p /tmp/site && tar xJf .devdata/carla312.tar.xz -C /tmp/site && tar xJf .whl/gsplat.tar.xz -C /tmp/site && \
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && \
    export PYTHONPATH=/tmp/site:$PWD TORCH_EXTENSIONS_DIR=/tmp/torch_ext MAX_JOBS=16 PYTHONUNBUFFERED=1 && \
    python3 bench/rl_gpu_bench.py --envs 1024 --processes 15 --tile-size 8 --sizes 64x32 --render-sizes 224x128 \
        --steps 6 --render-repeats 3 --view-lod off on --pipeline-chunks 1 4
(gsplat builds its CUDA extension on the first call of a fresh machine, ~70 s; 15 worker processes take ~60 s to
start and build their worlds.)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import numpy as np
import torch

from recon_carla_bridge.rl.batched_camera import batched_camera_vector_env, scene_gaussians
from recon_carla_bridge.rl.checkpoint import interface_of, policy_for
from recon_carla_bridge.rl.config import RLConfig, config_from_mapping, load_rl_config
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.scene.batched_splat import BatchedSplatRenderer


def bench_config(scene: str, width: int, height: int, base: RLConfig | None) -> RLConfig:
    """Camera observations of `width` × `height` in `scene` (a log-only template: the ego starts at the scene's
    origin among the logged vehicles), or `base`'s templates when a config file was given."""
    if base is not None:
        return dataclasses.replace(base, env=dataclasses.replace(base.env, observation="camera", camera_width=width,
                                                                camera_height=height))
    mapping = {"env": {"templates": [{"name": f"{scene}_log", "scene": scene, "ego": [0.0, 0.0, 0.0], "speed": 3.0}],
                       "observation": "camera", "camera_width": width, "camera_height": height, "max_steps": 30}}
    return config_from_mapping(mapping, "rl_gpu_bench")


def synchronize() -> None:
    """Wait for the GPU (timings of asynchronous work)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def render_alone(renderer: BatchedSplatRenderer, views: list, repeats: int) -> tuple[float, float]:
    """(seconds per batched render call of `views`, peak GPU memory GiB) after one warm-up call."""
    renderer.render(views)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        renderer.render(views)
    synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0
    return (time.perf_counter() - started) / repeats, peak


def measure(config: RLConfig, num_envs: int, processes: int, steps: int, warmup: int, repeats: int, backend: str,
            render_sizes: list[tuple[int, int]], tile_size: int, modes: list[tuple[bool, int]]) -> list[dict]:
    """One setting: per mode (view_lod, pipeline_chunks) in turn over the same vector of envs (which keep stepping),
    the vector loop's env steps/s and shares; then per view-LOD mode the batched render call's frames/s over one
    and the same set of views (at the loop's image size, then at each of `render_sizes`) and the Gaussians per view."""
    built = time.perf_counter()
    envs = batched_camera_vector_env(config, num_envs, seed=0, backend=backend, processes=processes, tile_size=tile_size,
                                     view_lod=modes[0][0])
    device = torch.device("cuda" if envs.backend == "gsplat" else "cpu")
    policy = policy_for(interface_of(ReconDrivingEnv(config)), config.train.hidden).to(device)
    observation, _ = envs.reset(seed=0)
    setup_s = time.perf_counter() - built
    loops = []
    for view_lod, chunks in modes:
        envs.use_view_lod(view_lod)
        envs.pipeline_chunks = chunks
        renderer_built = time.perf_counter()
        envs.renderer_for(envs.view_jobs()[0][0])  # its level of detail built before the clock runs
        renderer_s = time.perf_counter() - renderer_built
        policy_s, began = 0.0, 0.0
        for step in range(warmup + steps):
            if step == warmup:  # the timed part starts
                synchronize()
                for key in envs.timings:
                    envs.timings[key] = 0
                policy_s, began = 0.0, time.perf_counter()
            started = time.perf_counter()
            masks = torch.as_tensor(np.stack(envs.call("action_masks")), device=device)
            obs = {key: torch.as_tensor(value, device=device) for key, value in observation.items()}
            with torch.no_grad():
                lateral, longitudinal = policy.act(obs, masks)
            action = torch.stack([lateral, longitudinal], 1).cpu().numpy()
            policy_s += time.perf_counter() - started
            observation, *_ = envs.step(action)
        loops.append((view_lod, chunks, time.perf_counter() - began, dict(envs.timings), policy_s, renderer_s))
    # the batched render call alone, over the views of the envs' current states, in each mode
    jobs = envs.view_jobs()
    views = [view for _, view in jobs]
    scene = scene_gaussians(jobs[0][0], "cuda" if envs.backend == "gsplat" else "cpu")
    results, alone = [], {}
    for view_lod, chunks, wall, timings, policy_s, renderer_s in loops:
        envs.use_view_lod(view_lod)
        renderer = envs.renderer_for(jobs[0][0])
        fresh = view_lod not in alone
        if fresh:
            alone[view_lod] = (renderer.gaussians_per_view(views), *render_alone(renderer, views, repeats))
        counts, render_alone_s, peak = alone[view_lod]
        decisions = num_envs * steps
        rest = wall - timings["simulation_s"] - timings["render_s"] - policy_s
        results.append({
            "envs": num_envs, "processes": processes, "image": f"{config.env.camera_width}x{config.env.camera_height}",
            "backend": envs.backend, "tile_size": tile_size, "view_lod": view_lod, "pipeline_chunks": chunks,
            "timed_steps": steps, "env_steps_per_s": decisions / wall,
            "world_ticks_per_s": decisions * round(config.env.anchor_horizon * config.env.frame_rate) / wall,
            "share_simulation": timings["simulation_s"] / wall,
            "share_rendering": timings["render_s"] / wall, "share_policy": policy_s / wall,
            "share_rest": max(0.0, rest / wall), "render_calls_per_step": timings["render_calls"] / steps,
            "frames_per_step": timings["frames"] / steps,
            "batched_render_frames_per_s": num_envs / render_alone_s, "batched_render_ms": 1000 * render_alone_s,
            "render_peak_gib": round(peak, 2), "gaussians_per_view_mean": float(np.mean(counts)),
            "gaussians_per_view_max": int(max(counts)), "setup_s": setup_s, "renderer_setup_s": renderer_s})
        for width, height in render_sizes if fresh else []:
            other = BatchedSplatRenderer(scene, width, height, config.env.camera_fov, envs.backend, tile_size,
                                         view_lod=view_lod)
            seconds, other_peak = render_alone(other, views, repeats)
            results.append({"envs": num_envs, "image": f"{width}x{height}", "backend": envs.backend,
                            "tile_size": tile_size, "view_lod": view_lod, "render_only": True,
                            "batched_render_frames_per_s": num_envs / seconds, "batched_render_ms": 1000 * seconds,
                            "render_peak_gib": round(other_peak, 2),
                            "gaussians_per_view_mean": float(np.mean(other.gaussians_per_view(views)))})
    envs.close()
    return results


def main() -> None:
    """Print one JSON line per (envs, image size), after one line naming the machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="kitti_0013", help="a reconstructed scene (catalogue name or folder)")
    parser.add_argument("--config", default=None, help="an RL config whose templates to use instead (all in scenes)")
    parser.add_argument("--envs", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--sizes", nargs="+", default=["64x32", "224x128"], help="camera images, WIDTHxHEIGHT")
    parser.add_argument("--render-sizes", nargs="*", default=[], help="further sizes of the render call alone")
    parser.add_argument("--processes", type=int, nargs="+", default=[0], help="worker processes of the worlds (0: here)")
    parser.add_argument("--tile-size", type=int, default=16, help="gsplat's tile side in pixels")
    parser.add_argument("--steps", type=int, default=20, help="timed env steps (decisions) per setting")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--render-repeats", type=int, default=10)
    parser.add_argument("--backend", default="auto", choices=["auto", "gsplat", "cpu"])
    parser.add_argument("--view-lod", nargs="+", default=["off", "on"], choices=["off", "on"],
                        help="per-view level of detail (scene.view_lod), each mode in turn")
    parser.add_argument("--pipeline-chunks", type=int, nargs="+", default=[1],
                        help="render batches per step, each while the workers step the next (1: one batch)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = load_rl_config(args.config) if args.config else None
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    print(json.dumps({"machine": device, "python": platform.python_version(), "torch": torch.__version__}), flush=True)
    render_sizes = [parse_size(size) for size in args.render_sizes]
    for size in args.sizes:
        config = bench_config(args.scene, *parse_size(size), base)
        for count in args.envs:
            for processes in args.processes:
                try:
                    results = measure(config, count, processes, args.steps, args.warmup, args.render_repeats, args.backend,
                                      render_sizes, args.tile_size,
                                      [(lod == "on", chunks) for lod in args.view_lod for chunks in args.pipeline_chunks])
                except torch.cuda.OutOfMemoryError as error:
                    results = [{"envs": count, "image": size, "error": f"out of GPU memory: {error}"[:200]}]
                    torch.cuda.empty_cache()
                for result in results:
                    print(json.dumps(result), flush=True)


def parse_size(size: str) -> tuple[int, int]:
    """(width, height) of 'WIDTHxHEIGHT'."""
    width, height = (int(v) for v in size.lower().split("x"))
    return width, height


if __name__ == "__main__":
    main()
