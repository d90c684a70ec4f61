"""A DAA cut-in in the reconstructed drive 0013 with its front camera rendered: the logged car on the ego's right is
taken over, moves into the ego's lane as a car (no step beyond what 20 Hz driving allows), and is drawn where it
ends up (the pixels of its box change when it is moved away; elsewhere the image stays)."""
from __future__ import annotations

import numpy as np
import pytest

from recon_carla_bridge.paths import REPO_ROOT

XML = REPO_ROOT / "scenarios" / "DAAKitti0013.xml"


@pytest.mark.slow  # loads the 236k-Gaussian scene and renders ~95 frames (~1-4 min on 2 shared cores)
def test_a_cut_in_in_kitti_0013_moves_the_logged_car_into_the_ego_lane_and_draws_it_there() -> None:
    from recon_carla_bridge.adversary.scene_video import record

    run = record(str(XML), "DAAKitti0013CutInRight_1", camera_scale=0.25)
    assert run.verdict == "accepted"
    assert run.adversary_role.startswith("log_vehicle_")
    first, last = run.ticks[0], run.ticks[-1]
    assert first["adversary_lane"] != first["ego_lane"] and last["adversary_lane"] == last["ego_lane"]
    adversary = np.array([row["adversary"] for row in run.ticks])
    assert np.linalg.norm(np.diff(adversary[:, :2], axis=0), axis=1).max() < 1.0  # <= 20 m/s at 20 Hz: no teleport
    assert len(run.frames) > 50 and run.frames[0].shape[2] == 3
    x0, y0, x1, y1 = run.adversary_box_pixels
    change = np.abs(run.with_adversary.astype(float) - run.without_adversary.astype(float)).mean(axis=2)
    inside = np.zeros(change.shape, bool)
    inside[y0:y1, x0:x1] = True
    assert change[inside].mean() > 20.0  # the car is drawn in its box
    assert change[~inside].mean() < 0.2 * change[inside].mean()  # and nowhere else
