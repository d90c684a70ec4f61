"""Progressive data update: restored renders of shifted and forward-moved cameras become weighted training views."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recon_carla_bridge.ingest.scenelog import load_scene_log
from recon_carla_bridge.recon.init_scene import InitConfig
from recon_carla_bridge.recon.train import TrainConfig, train
from recon_carla_bridge.restore import Restorer
from recon_carla_bridge.restore.config import RestorerConfig
from recon_carla_bridge.restore.pairs import log_views
from recon_carla_bridge.restore.progressive import ProgressiveConfig, pseudo_views

from tests.recon.synthetic import write_synthetic_log

TINY_INIT = InitConfig(column_fill_stride=0, voxel_size=0.5, actor_voxel_size=0.25)


@pytest.fixture(scope="module")
def synthetic_log(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("progressive") / "log"
    write_synthetic_log(root, width=32, height=24)
    return load_scene_log(root)


def test_pseudo_views_are_restored_novel_views_and_train(synthetic_log) -> None:
    config = TrainConfig(iterations=3, device="cpu", init=TINY_INIT)
    first = train(synthetic_log, config, progress=False).scene
    restorer = Restorer(RestorerConfig(32, 24, block_out_channels=(8, 16), norm_num_groups=4))
    with torch.no_grad():
        restorer.unet.conv_out.bias.fill_(0.2)  # brightens: the pseudo image is the restorer's, not the raw render
    views = log_views(synthetic_log, list(range(len(synthetic_log.frames))), 32)
    settings = ProgressiveConfig(lateral_m=(1.5,), frame_stride=4, forward_count=2, forward_step_m=2.0, weight=0.3)
    pseudo = pseudo_views(first, views, restorer, settings)
    lateral_frames = [v.view.frame_index for v in views if v.view.frame_index % 4 == 0]
    assert len(pseudo) == len(lateral_frames) + 2
    assert all(weight == 0.3 for _, weight in pseudo)
    view, _ = pseudo[0]
    original = next(v for v in views if v.view.frame_index == view.view.frame_index)
    shift = (torch.linalg.inv(original.world_from_camera) @ view.world_from_camera)[:3, 3]
    assert torch.allclose(shift, torch.tensor([1.5, 0.0, 0.0]), atol=1e-4)  # 1.5 m to the camera's right
    assert view.image.dtype == torch.uint8 and view.image.shape == (24, 32, 3) and view.depth_pixels.numel() == 0
    assert float(view.image.float().mean()) > 0.4 * 255 * 0.2  # not a black or empty image
    forward, _ = pseudo[-1]
    last = max(views, key=lambda v: v.view.frame_index)
    ahead = (torch.linalg.inv(last.world_from_camera) @ forward.world_from_camera)[:3, 3]
    assert torch.allclose(ahead, torch.tensor([0.0, 0.0, 4.0]), atol=1e-4)  # 2 x 2 m along the camera axis
    second = train(synthetic_log, config, progress=False, scene=first, pseudo_views=pseudo)
    assert np.isfinite(second.metrics["psnr"]) and second.scene.gaussian_count() > 0


def test_progressive_flags_need_a_restorer(synthetic_log, tmp_path: Path) -> None:
    from recon_carla_bridge.cli import main
    from recon_carla_bridge.errors import InputError

    with pytest.raises(InputError, match="--restorer"):
        main([
            "reconstruct", str(synthetic_log.root), "--out", str(tmp_path / "s.gs"), "--device", "cpu", "--iters", "1",
            "--progressive-from", str(tmp_path / "nothing.gs")])


def test_render_passes_pair_real_frames_with_renders_and_refuse_evaluation_frames(synthetic_log, tmp_path: Path) -> None:
    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.recon.scene_file import save_scene
    from recon_carla_bridge.restore.pairs import PairSet, RenderPass

    scene = train(synthetic_log, TrainConfig(iterations=2, device="cpu", init=TINY_INIT), progress=False).scene
    save_scene(scene, tmp_path / "s.gs")
    passes = [RenderPass(str(synthetic_log.root), str(tmp_path / "s.gs"), "0-3", width=32),
              RenderPass(str(synthetic_log.root), str(tmp_path / "s.gs"), "0-3", kind="pruned", prune_fraction=0.9, width=32)]
    pairs = PairSet.build(passes, progress=False)
    assert pairs.size == (32, 24) and len(pairs.frame) == 8 and list(pairs.sequence) == [0] * 4 + [1] * 4
    real = log_views(synthetic_log, [0], 32)[0].image.numpy()
    assert np.array_equal(pairs.target[0], real)
    assert not np.array_equal(pairs.degraded[0], pairs.degraded[4])  # pruning changed the render
    assert pairs.alpha[4].mean() < pairs.alpha[0].mean()  # and left holes
    with pytest.raises(InputError, match="reserved for evaluation"):
        PairSet.build(passes[:1], forbidden={synthetic_log.name: "3"}, progress=False)
