"""A forward-extrapolation split: the frames it scores lend the scene neither their images nor their LiDAR."""
from __future__ import annotations

from recon_carla_bridge.recon.init_scene import initial_scene
from recon_carla_bridge.recon.log_views import held_out_split, list_views
from tests.recon.synthetic import write_synthetic_log


def test_extrapolation_initialisation_ignores_the_lidar_of_the_scored_frames(tmp_path):
    log = write_synthetic_log(tmp_path, frames=9)
    views = list_views(log, held_out_split(len(log.frames), "auto", "0-2"))
    assert sorted({v.frame_index for v in views if not v.held_out}) == [0, 1, 2]
    everything = initial_scene(log, views=views)
    early_only = initial_scene(log, views=views, last_lidar_frame=2)
    assert early_only.gaussian_count() < everything.gaussian_count()
