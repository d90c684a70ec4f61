"""Learning curves: each run's rows are drawn in its own colour."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from recon_carla_bridge.rl.curves import plot_curves


def _run(path, collision_rates):
    path.parent.mkdir(parents=True)
    rows = [{"update": i + 1, "step": 512 * (i + 1), "collision_rate": rate, "return": -rate}
            for i, rate in enumerate(collision_rates)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def _has_colour(image: np.ndarray, rgb: tuple[int, int, int]) -> bool:
    return bool((np.abs(image[..., :3].astype(int) - rgb).sum(axis=-1) < 30).any())


def test_two_runs_are_drawn_in_two_colours(tmp_path):
    first = _run(tmp_path / "a" / "learning_curve.jsonl", np.linspace(0.4, 0.1, 20))
    second = _run(tmp_path / "b" / "learning_curve.jsonl", np.linspace(0.3, 0.0, 20))
    one = np.asarray(Image.open(plot_curves(first, tmp_path / "one.png")))
    both = np.asarray(Image.open(plot_curves([first, second], tmp_path / "both.png", labels=["seed 0", "seed 1"])))
    blue, orange = (31, 119, 180), (255, 127, 14)  # matplotlib's C0 and C1
    assert _has_colour(one, blue) and not _has_colour(one, orange)
    assert _has_colour(both, blue) and _has_colour(both, orange)
