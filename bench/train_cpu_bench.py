"""CPU training benchmark: steps/s of `recon.train` on the numba rasterizer at a reduced resolution.

    python bench/train_cpu_bench.py SCENE_DIR [--width 414] [--steps 60] [--threads 2] [--torch-threads 1]
        [--cap-max 220000] [--profile]

Runs a warm-up of 3 steps (numba kernels loaded from their cache), then `--steps` steps, and prints the
loop's steps/s (setup and evaluation excluded), the number of Gaussians, the peak memory and, with
--profile, where a step's time goes (torch.profiler's CPU operators; the numba kernels show up inside
the autograd Function `_CompositeCpu`). Densification starts after step 500 (as in a real run), so a short
bench measures the initial scene's size; pass --cap-max to see how a capped run scales.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    """Train a few steps on the CPU and print steps/s."""
    import torch

    from recon_carla_bridge.ingest.scenelog import load_scene_log
    from recon_carla_bridge.recon.raster_cpu import set_threads
    from recon_carla_bridge.recon.train import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene_dir")
    parser.add_argument("--width", type=int, default=414, help="training image width (aspect kept)")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2, help="numba threads")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--profile", action="store_true", help="print torch.profiler's top CPU operators")
    args = parser.parse_args()
    set_threads(args.threads)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    log = load_scene_log(args.scene_dir)
    config = TrainConfig(iterations=3, device="cpu", width=args.width, shadow_every=0)
    train(log, config, progress=False, on_eval=lambda _: None)  # warm-up: numba cache, torch allocations
    config = TrainConfig(iterations=args.steps, device="cpu", width=args.width, shadow_every=0)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            result = train(log, config, progress=False, on_eval=lambda _: None)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=50))
    else:
        start = time.perf_counter()
        result = train(log, config, progress=False, on_eval=lambda _: None)
        print(f"whole run (setup, {args.steps} steps, evaluation, export): {time.perf_counter() - start:.1f} s")
    m = result.metrics
    print(f"CPU training at {m['resolution']}, numba threads {args.threads}, torch threads {torch.get_num_threads()}: "
          f"{m['steps_per_second']:.2f} steps/s over {m['iterations']} steps, {m['gaussians_trained']} Gaussians, "
          f"setup {m['setup_seconds']} s, peak RSS {m['peak_rss_mib']:.0f} MiB; loss {m['loss_first']:.4f} -> "
          f"{m['loss_last']:.4f}; held-out PSNR {m['psnr']:.2f} dB")


if __name__ == "__main__":
    main()
