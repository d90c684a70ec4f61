"""LiDAR initialisation, the CPU training loop and the `reconstruct` command on a tiny synthetic log."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recon_carla_bridge.ingest.scenelog import load_scene_log
from recon_carla_bridge.recon.init_scene import InitConfig, initial_scene
from recon_carla_bridge.recon.scene_file import load_scene
from recon_carla_bridge.recon.semantics import CarlaTag
from recon_carla_bridge.recon.train import TrainConfig, train

from .synthetic import write_synthetic_log

TINY_INIT = InitConfig(column_fill_stride=0, voxel_size=0.5, actor_voxel_size=0.25)


@pytest.fixture(scope="module")
def synthetic_log(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("recon") / "log"
    write_synthetic_log(root, width=32, height=24)
    return load_scene_log(root)


def test_initialisation_puts_car_points_in_the_actor_and_tags_ground(synthetic_log) -> None:
    scene = initial_scene(synthetic_log, TINY_INIT)
    car = scene.actors["car0"].gaussians
    assert car.count > 20
    assert bool((car.semantic == int(CarlaTag.CAR)).all())
    assert float(car.means.abs().max()) < 2.6  # in the box frame (box 4 x 1.8 x 1.5 m + margin)
    tags = scene.background.semantic
    assert int((tags == int(CarlaTag.ROADS)).sum()) > 0 and int((tags == int(CarlaTag.BUILDING)).sum()) > 0
    # no background Gaussian inside the car's box in any frame
    box = scene.actors["car0"].world_from_box
    local = torch.einsum("fji,fnj->fni", box[:, :3, :3], scene.background.means[None] - box[:, None, :3, 3])
    inside = (local.abs() < torch.tensor([1.9, 0.8, 0.6])).all(-1)
    assert not bool(inside.any())


def test_cpu_training_improves_held_out_psnr(synthetic_log) -> None:
    untrained = train(synthetic_log, TrainConfig(iterations=1, device="cpu", init=TINY_INIT), progress=False)
    trained = train(
        synthetic_log, TrainConfig(iterations=25, device="cpu", init=TINY_INIT, pose_refine_start=0), progress=False
    )
    assert trained.metrics["held_out_frames"] == [0, 8]
    assert trained.metrics["psnr"] > untrained.metrics["psnr"] + 3.0
    poses = trained.scene.actors["car0"].world_from_box
    assert poses.shape == (9, 4, 4) and bool(torch.isfinite(poses).all())


def test_reconstruct_command_writes_a_loadable_scene(synthetic_log, tmp_path: Path, capsys) -> None:
    from recon_carla_bridge.cli import main

    out = tmp_path / "scene.gs"
    code = main(["reconstruct", str(synthetic_log.root), "--out", str(out), "--iters", "2", "--device", "cpu",
                 "--metrics-json", str(tmp_path / "m.json")])
    assert code == 0
    assert "held-out PSNR" in capsys.readouterr().out
    scene = load_scene(out)
    assert "car0" in scene.actors and scene.metadata["iterations"] == "2"


def test_held_out_corrections_are_interpolated_from_training_frames() -> None:
    from recon_carla_bridge.recon.train import _interpolated

    values = torch.arange(10, dtype=torch.float32)[:, None] * torch.tensor([1.0, -2.0])
    usable = np.ones(10, dtype=bool)
    usable[[0, 4, 8]] = False
    assert torch.allclose(_interpolated(values, usable, 4), values[4])  # halfway between frames 3 and 5
    assert torch.allclose(_interpolated(values, usable, 0), values[1])  # nearest at the start
    usable[9] = False
    assert torch.allclose(_interpolated(values, usable, 9), values[7])  # nearest at the end
    assert _interpolated(values, np.zeros(10, dtype=bool), 3) is None


def test_training_reports_camera_and_colour_corrections(synthetic_log) -> None:
    result = train(synthetic_log, TrainConfig(iterations=4, device="cpu", init=TINY_INIT, pose_refine_start=0), progress=False)
    for key in ("camera_correction_cm", "camera_correction_mrad", "colour_correction"):
        assert np.isfinite(result.metrics[key]) and result.metrics[key] >= 0.0
    off = train(synthetic_log, TrainConfig(iterations=4, device="cpu", init=TINY_INIT, pose_refine_start=0,
                                           lr_camera_translation=0.0, lr_colour=0.0), progress=False)
    assert off.metrics["camera_correction_cm"] == 0.0 and off.metrics["colour_correction"] == 0.0
