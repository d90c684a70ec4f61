"""Learning curves as PNG from a run's learning_curve.jsonl (one row per PPO update)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PANELS = (("return", "mean episode return"), ("collision_rate", "collision rate (episodes ended)"),
          ("deviation_rate", "deviation rate"), ("progress_m", "progress (m)"),
          ("loss/imitation", "imitation loss"), ("loss/entropy", "entropy (both heads)"))


def plot_curves(curve_file: str | os.PathLike[str], png: str | os.PathLike[str], smooth: int = 5) -> Path:
    """Plot every panel against environment decisions (a running mean over `smooth` updates in bold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [json.loads(line) for line in Path(curve_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    figure, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for axis, (key, title) in zip(axes.ravel(), PANELS):
        points = [(r["step"], r[key]) for r in rows if key in r]
        if points:
            steps, values = (np.array(v) for v in zip(*points))
            axis.plot(steps, values, alpha=0.35, color="tab:blue")
            if len(values) >= smooth:
                kernel = np.ones(smooth) / smooth
                axis.plot(steps[smooth - 1:], np.convolve(values, kernel, mode="valid"), color="tab:blue", lw=2)
        axis.set_title(title)
        axis.set_xlabel("env decisions (PPO)")
        axis.grid(alpha=0.3)
    figure.suptitle(f"PPO with decoupled heads + interleaved IL: {Path(curve_file).parent.name}")
    figure.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=90)
    plt.close(figure)
    return Path(png)


if __name__ == "__main__":  # python -m recon_carla_bridge.rl.curves RUN/learning_curve.jsonl OUT.png
    print(plot_curves(sys.argv[1], sys.argv[2]))
