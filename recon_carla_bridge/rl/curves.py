"""Learning curves as PNG from a run's learning_curve.jsonl (one row per PPO update)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PANELS = (("return", "mean episode return"), ("collision_rate", "collision rate (episodes ended)"),
          ("deviation_rate", "deviation rate"), ("progress_m", "progress (m)"),
          ("loss/imitation", "imitation loss"), ("loss/entropy", "entropy (both heads)"))


def plot_curves(curve_files: str | os.PathLike[str] | list[str | os.PathLike[str]], png: str | os.PathLike[str],
                smooth: int = 5, labels: list[str] | None = None) -> Path:
    """Plot every panel against environment decisions, one colour per run (a running mean over `smooth` updates in
    bold); `labels` name the runs in the legend (default: each file's folder)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = [Path(f) for f in ([curve_files] if isinstance(curve_files, (str, os.PathLike)) else curve_files)]
    names = labels or [f.parent.name for f in files]
    figure, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    for run, (curve_file, name) in enumerate(zip(files, names)):
        colour = f"C{run}"
        rows = [json.loads(line) for line in curve_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        for axis, (key, title) in zip(axes.ravel(), PANELS):
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                steps, values = (np.array(v) for v in zip(*points))
                axis.plot(steps, values, alpha=0.25, color=colour)
                if len(values) >= smooth:
                    kernel = np.ones(smooth) / smooth
                    axis.plot(steps[smooth - 1:], np.convolve(values, kernel, mode="valid"), color=colour, lw=2,
                              label=name)
            axis.set_title(title)
            axis.set_xlabel("env decisions (PPO)")
            axis.grid(alpha=0.3)
    if len(files) > 1:
        axes.ravel()[1].legend()
    figure.suptitle(f"PPO with decoupled heads + interleaved IL: {', '.join(names)}")
    figure.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=90)
    plt.close(figure)
    return Path(png)


if __name__ == "__main__":  # python -m recon_carla_bridge.rl.curves [NAME=]RUN/learning_curve.jsonl [...] OUT.png
    runs = [argument.split("=", 1) if "=" in argument else (None, argument) for argument in sys.argv[1:-1]]
    print(plot_curves([path for _, path in runs], sys.argv[-1],
                      labels=[name or Path(path).parent.name for name, path in runs]))
