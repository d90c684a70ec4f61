"""Held-out splits of a SceneLog: interpolation (every N-th frame) and forward extrapolation (after frame K)."""
from __future__ import annotations

import pytest

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.init_scene import initial_scene
from recon_carla_bridge.recon.log_views import list_views, parse_holdout
from tests.recon.synthetic import write_synthetic_log


def test_every_split_holds_out_every_nth_frame(tmp_path):
    log = write_synthetic_log(tmp_path, frames=9)
    held = sorted({v.frame_index for v in list_views(log, "every:4") if v.held_out})
    assert held == [0, 4, 8]
    assert sorted({v.frame_index for v in list_views(log) if v.held_out}) == [0, 8]


def test_after_split_trains_on_the_first_frames_and_scores_the_rest(tmp_path):
    log = write_synthetic_log(tmp_path, frames=9)
    views = list_views(log, "after:5")
    assert sorted({v.frame_index for v in views if not v.held_out}) == [0, 1, 2, 3, 4, 5]
    assert sorted({v.frame_index for v in views if v.held_out}) == [6, 7, 8]


def test_extrapolation_initialisation_ignores_later_lidar(tmp_path):
    log = write_synthetic_log(tmp_path, frames=9)
    everything = initial_scene(log, views=list_views(log, "after:2"))
    early_only = initial_scene(log, views=list_views(log, "after:2"), last_lidar_frame=2)
    assert early_only.gaussian_count() < everything.gaussian_count()


@pytest.mark.parametrize("text", ["every:1", "every:x", "after:-1", "last:3", "every", ""])
def test_bad_split_is_a_clear_error(text):
    with pytest.raises(InputError, match="holdout"):
        parse_holdout(text)


def test_a_split_that_holds_out_everything_is_refused(tmp_path):
    log = write_synthetic_log(tmp_path, frames=1)
    with pytest.raises(InputError, match="no frame to train on"):
        list_views(log, "every:2")
