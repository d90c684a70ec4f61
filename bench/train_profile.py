"""Where a reconstruction training step spends its time (torch.profiler over a short run).

Usage: python bench/train_profile.py SCENE_DIR [--steps 150] [--rows 30]
Prints steps/s of the short run and the top CUDA kernels and CPU operators by self time, so the
training loop's hot spots are measured, not guessed. Needs CUDA and gsplat.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    """Run `train` for a few steps under torch.profiler and print the tables."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.train import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene_dir")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rows", type=int, default=30)
    args = parser.parse_args()
    log = load_scene_log(args.scene_dir)
    train(log, TrainConfig(iterations=20), progress=False, on_eval=lambda _: None)  # warm-up: kernels, JIT
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        start = time.perf_counter()
        result = train(log, TrainConfig(iterations=args.steps, refine_start=50, refine_every=50), progress=False,
                       on_eval=lambda _: None)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    print(f"{args.steps} steps + setup + evaluation in {seconds:.1f} s; train_seconds {result.metrics['train_seconds']}")
    averages = prof.key_averages()
    try:
        print(averages.table(sort_by="self_device_time_total", row_limit=args.rows, max_name_column_width=60))
    except (KeyError, AttributeError):  # older torch names it after CUDA
        print(averages.table(sort_by="self_cuda_time_total", row_limit=args.rows, max_name_column_width=60))
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=60))


if __name__ == "__main__":
    main()
