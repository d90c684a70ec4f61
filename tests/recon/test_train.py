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
    code = main(["reconstruct", str(synthetic_log.root), "--out", str(out), "--iters", "2", "--device", "cpu", "--resolution-scale", "1",
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


def test_export_carries_the_refined_ego_trajectory_and_the_scene_is_scored_on_it(synthetic_log) -> None:
    from recon_carla_bridge.recon.log_views import list_views
    from recon_carla_bridge.recon.train import evaluate_scene
    from recon_carla_bridge.recon.train_data import load_view_tensors

    result = train(synthetic_log, TrainConfig(iterations=6, device="cpu", init=TINY_INIT, pose_refine_start=0,
                                              lr_camera_translation=2e-2, camera_drift_period=0), progress=False)
    refined = result.scene.ego_poses
    logged = torch.as_tensor(np.stack([f.world_from_ego for f in synthetic_log.frames]))
    assert refined.shape == logged.shape and refined.dtype == torch.float64
    moved = (refined[:, :3, 3] - logged[:, :3, 3]).norm(dim=1)
    assert float(moved.max()) > 1e-3 and float(moved.max()) < 0.5  # corrected, by a correction's size
    # a held-out frame (0, 8) takes its neighbours' corrections, like the in-training evaluation
    assert torch.allclose(refined[0], logged[0] @ torch.linalg.solve(logged[1], refined[1]), atol=1e-9)
    held_out = load_view_tensors(synthetic_log, [v for v in list_views(synthetic_log) if v.held_out])
    on_refined = evaluate_scene(result.scene, held_out, "cpu")["psnr"]
    import dataclasses

    on_logged = evaluate_scene(dataclasses.replace(result.scene, ego_poses=None), held_out, "cpu")["psnr"]
    assert on_refined != on_logged
    assert result.metrics["psnr_as_simulated"] == pytest.approx(on_refined)


def test_training_reports_camera_and_colour_corrections(synthetic_log) -> None:
    result = train(synthetic_log, TrainConfig(iterations=4, device="cpu", init=TINY_INIT, pose_refine_start=0), progress=False)
    for key in ("camera_correction_cm", "camera_correction_mrad", "colour_correction"):
        assert np.isfinite(result.metrics[key]) and result.metrics[key] >= 0.0
    off = train(synthetic_log, TrainConfig(iterations=4, device="cpu", init=TINY_INIT, pose_refine_start=0,
                                           lr_camera_translation=0.0, lr_colour=0.0), progress=False)
    assert off.metrics["camera_correction_cm"] == 0.0 and off.metrics["colour_correction"] == 0.0


def _with_extra(scene, background=None, actor=None):
    """`scene` with one more Gaussian in the background and/or in car0 (positions given, box frame for the car)."""
    from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet

    def plus(g, position, log_scale):
        extra = GaussianSet(torch.tensor([position], dtype=torch.float32), torch.tensor([[1.0, 0, 0, 0]]),
                            torch.full((1, 3), log_scale), torch.tensor([2.0]), g.sh[:1].clone(), g.semantic[:1].clone())
        return GaussianSet.concat([g, extra])

    bg = plus(scene.background, background, -1.0) if background is not None else scene.background
    actors = dict(scene.actors)
    if actor is not None:
        a = actors["car0"]
        actors["car0"] = ActorAsset(a.track_id, a.category, a.size, a.moving, plus(a.gaussians, actor, 1.0), a.frame_indices, a.world_from_box)
    return GaussianScene(bg, actors, scene.sky, dict(scene.metadata))


def test_background_hidden_behind_the_car_is_dropped_and_actors_stay_in_their_box(synthetic_log) -> None:
    initial = initial_scene(synthetic_log, TINY_INIT)
    hidden = (11.5, -1.5, 0.6)  # behind (and later inside) the car ahead, from every camera of the log
    start = _with_extra(initial, background=hidden, actor=(9.0, 0.0, 0.0))  # a car Gaussian 7 m off its box, 2.7 m wide
    config = TrainConfig(iterations=3, device="cpu", init=TINY_INIT, clear_boxes_every=1)
    result = train(synthetic_log, config, progress=False, scene=start)
    assert result.metrics["shadowed_background_dropped"] >= 1
    assert not bool((result.scene.background.means - torch.tensor(hidden)).norm(dim=1).lt(0.05).any())
    car = result.scene.actors["car0"]
    limit = car.size / 2 * config.actor_box_scale + config.actor_box_margin
    assert bool((car.gaussians.means.abs() <= limit).all())
    assert float(car.gaussians.log_scales.exp().max()) <= float(min(car.size[0], car.size[1])) * config.actor_max_scale + 1e-5
    kept = train(synthetic_log, TrainConfig(iterations=3, device="cpu", init=TINY_INIT, shadow_every=0, clear_boxes_every=0),
                 progress=False, scene=start)
    assert kept.metrics["shadowed_background_dropped"] == 0
    assert bool((kept.scene.background.means - torch.tensor(hidden)).norm(dim=1).lt(0.05).any())
    assert np.isfinite(result.metrics["psnr_as_simulated"])


def test_shadow_test_finds_points_behind_a_box_in_every_view() -> None:
    from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet, SkyModel
    from recon_carla_bridge.recon.shadows import always_behind_actors, shadow_views

    from .synthetic import FORWARD

    box_pose = torch.eye(4)
    box_pose[0, 3] = 10.0  # a 4 x 2 x 2 m box 10 m ahead of the cameras
    actor = ActorAsset("car", "vehicle", torch.tensor([4.0, 2.0, 2.0]), True, GaussianSet.empty(),
                       torch.tensor([0, 1]), box_pose.repeat(2, 1, 1))
    scene = GaussianScene(GaussianSet.empty(), {"car": actor}, SkyModel.uniform((0.5, 0.5, 0.5)), {})
    K = torch.tensor([[30.0, 0.0, 24.0], [0.0, 30.0, 16.0], [0.0, 0.0, 1.0]])
    cameras = [torch.as_tensor(FORWARD, dtype=torch.float32).clone() for _ in range(2)]
    cameras[1][1, 3] = 0.3  # the second camera 0.3 m to the left
    views = shadow_views(cameras, [K, K], [0, 1], 48, 32, scene)
    points = torch.tensor([[20.0, 0.0, 0.0], [20.0, 8.0, 0.0], [5.0, 0.0, 0.0], [-5.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    behind = always_behind_actors(points, views, chunk=2)
    assert behind.tolist() == [True, False, False, False, True]  # behind; beside; in front; never framed; inside
    cameras[1][1, 3] = 6.0  # a camera far to the side sees past the box
    assert not bool(always_behind_actors(points[:1], shadow_views(cameras, [K, K], [0, 1], 48, 32, scene))[0])


def test_camera_corrections_lose_their_slow_part() -> None:
    from recon_carla_bridge.recon.train import drift_remover

    trained = np.ones(40, dtype=bool)
    trained[::8] = False  # held-out frames carry no correction and are left alone
    remover = drift_remover(trained, 16.0)
    torch.testing.assert_close(remover @ remover, remover, atol=1e-5, rtol=0)  # a projection: repeating it is a no-op
    frames = torch.arange(40, dtype=torch.float32)
    drift = torch.zeros(40, 6)
    drift[torch.from_numpy(trained)] = 0.01 + 0.002 * frames[torch.from_numpy(trained), None]  # slow: a gauge, not an error
    assert float((remover @ drift).abs().max()) < 0.03 * float(drift.abs().max())  # a ramp is nearly all slow cosines
    jitter = torch.zeros(40, 6)
    jitter[torch.from_numpy(trained), 0] = torch.tensor([0.01, -0.01]).repeat(20)[: int(trained.sum())]
    kept = remover @ jitter
    assert float((kept - jitter).abs().max()) < 0.004  # frame-to-frame jitter stays
    assert float(kept[torch.from_numpy(~trained)].abs().max()) == 0.0
    torch.testing.assert_close(drift_remover(trained, 0.0), torch.eye(40))


def test_baked_colour_transform_renders_as_the_transformed_render() -> None:
    from recon_carla_bridge.recon.render import render
    from recon_carla_bridge.recon.train import bake_colour

    from .synthetic import forward_camera, random_scene

    from recon_carla_bridge.recon.gaussians import ActorAsset, GaussianScene, GaussianSet, rgb_to_sh_dc

    def positive(g: GaussianSet) -> GaussianSet:  # colours in (0.2, 0.8) in every direction: eval_sh's clamp stays idle
        sh = g.sh.clone() * 0.05
        sh[:, 0] = rgb_to_sh_dc(torch.rand(g.count, 3, generator=torch.Generator().manual_seed(1)) * 0.6 + 0.2)
        return GaussianSet(g.means, g.quats, g.log_scales, g.opacity_logits, sh, g.semantic)

    raw = random_scene()
    car = raw.actors["car0"]
    scene = GaussianScene(positive(raw.background), {"car0": ActorAsset(car.track_id, car.category, car.size, car.moving,
                          positive(car.gaussians), car.frame_indices, car.world_from_box)}, raw.sky, raw.metadata)
    transform = torch.tensor([[0.9, 0.05, 0.0, 0.03], [0.0, 1.1, 0.0, -0.02], [0.02, 0.0, 0.8, 0.05]])
    camera = forward_camera()
    poses = {"car0": torch.eye(4)}
    plain = render(scene, camera, poses, backend="cpu").rgb[0]
    baked = render(bake_colour(scene, transform), camera, poses, backend="cpu").rgb[0]
    expected = plain @ transform[:, :3].T + transform[:, 3]
    inside = ((expected > 0.02) & (expected < 0.98) & (plain > 0.02) & (plain < 0.98)).all(dim=-1)
    assert int(inside.sum()) > 100
    error = (baked - expected)[inside].abs()
    assert float(error.max()) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat training needs CUDA")
def test_cuda_training_densifies_by_group_and_matches_torch_relocation(synthetic_log) -> None:
    pytest.importorskip("gsplat")
    from gsplat.relocation import compute_relocation

    from recon_carla_bridge.recon.densify import GroupedMCMC, relocation_torch

    binoms = GroupedMCMC(10, {}).binoms.cuda()
    opacities = torch.rand(500, device="cuda") * 0.98 + 0.01
    scales = torch.rand(500, 3, device="cuda") + 0.01
    ratios = torch.randint(1, 12, (500,), device="cuda")
    kernel = compute_relocation(opacities, scales, ratios.clone(), binoms)
    ours = relocation_torch(opacities, scales, ratios, binoms)
    torch.testing.assert_close(ours[0], kernel[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours[1], kernel[1], rtol=1e-3, atol=1e-5)

    config = TrainConfig(iterations=260, device="cuda", init=TINY_INIT, refine_start=50, refine_every=50, cap_max=3000,
                         pose_refine_start=0)
    result = train(synthetic_log, config, progress=False)
    metrics = result.metrics
    assert metrics["psnr"] > 20.0 and np.isfinite(metrics["psnr_as_simulated"])
    assert metrics["gaussians"] > initial_scene(synthetic_log, TINY_INIT).gaussian_count()  # it grew
    assert metrics["background_gaussians"] >= 0.4 * metrics["gaussians"]


def test_views_loaded_without_lidar_carry_no_depth(synthetic_log) -> None:
    from recon_carla_bridge.recon.train_data import load_view_tensors

    with_lidar = load_view_tensors(synthetic_log)
    without = load_view_tensors(synthetic_log, lidar=False)
    assert any(v.depth_pixels.numel() for v in with_lidar)
    assert all(v.depth_pixels.numel() == 0 and v.actor_pixels.numel() == 0 for v in without)
    assert all(torch.equal(a.image, b.image) and torch.equal(a.world_from_camera, b.world_from_camera)
               for a, b in zip(with_lidar, without))


def test_reconstruct_without_cuda_trains_on_the_cpu_at_the_chosen_resolution(synthetic_log, tmp_path: Path, capsys,
                                                                              monkeypatch) -> None:
    import json

    from recon_carla_bridge.cli import main
    from recon_carla_bridge.recon.render import render
    from tests.recon.synthetic import forward_camera

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out, metrics_path = tmp_path / "scene.gs", tmp_path / "metrics.json"
    code = main(["reconstruct", str(synthetic_log.root), "--out", str(out), "--iters", "30", "--resolution-scale", "0.75",
                 "--metrics-json", str(metrics_path), "--set", "pose_refine_start=0"])
    assert code == 0
    console = capsys.readouterr().out
    assert "no CUDA device" in console and "numba CPU rasterizer at 24x18" in console
    metrics = json.loads(metrics_path.read_text())
    assert metrics["backend"] == "cpu" and metrics["resolution"] == "24x18" and metrics["steps_per_second"] > 0
    assert metrics["loss_last"] < 0.8 * metrics["loss_first"]
    scene = load_scene(out)
    assert scene.metadata["train_resolution"] == "24x18"
    image = render(scene, forward_camera(24, 18, focal=22.5, position=(0.0, 0.0, 1.5)), {}, backend="cpu")
    assert bool(torch.isfinite(image.rgb).all()) and float(image.alpha.max()) > 0.9  # the trained street is drawn


def test_train_frames_hold_out_the_rest_and_report_their_distance(synthetic_log) -> None:
    result = train(synthetic_log, TrainConfig(iterations=2, device="cpu", init=TINY_INIT, train_frames="0-5"), progress=False)
    assert result.metrics["held_out_frames"] == [6, 7, 8]
    distances = result.metrics["held_out_distance_m"]  # the ego creeps 0.2 m per frame
    assert distances == pytest.approx([0.2, 0.4, 0.6], abs=1e-6)
    assert len(result.metrics["ssim_per_view"]) == 3


@pytest.mark.parametrize("holdout, train_frames, held", [
    ("auto", "", [0, 8]),
    ("every:4", "", [0, 4, 8]),
    ("frames:2-3,7", "", [2, 3, 7]),
    ("auto", "0-6", [7, 8]),
    ("every:4", "1-8", [0, 4, 8]),
])
def test_held_out_split(holdout: str, train_frames: str, held: list[int]) -> None:
    from recon_carla_bridge.recon.log_views import held_out_split

    assert np.nonzero(held_out_split(9, holdout, train_frames))[0].tolist() == held


@pytest.mark.parametrize("holdout, train_frames, message", [
    ("every:1", "", "expected every:N"),
    ("sometimes", "", "expected every:N"),
    ("auto", "0-20", "not within frames 0-8"),
    ("auto", "3-x", "expected frame ranges"),
    ("frames:0-8", "", "every frame is held out"),
])
def test_bad_held_out_split_names_the_option(holdout: str, train_frames: str, message: str) -> None:
    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.recon.log_views import held_out_split

    with pytest.raises(InputError, match=message):
        held_out_split(9, holdout, train_frames)


def test_scaled_view_resizes_image_and_intrinsics(synthetic_log) -> None:
    from recon_carla_bridge.recon.log_views import list_views, load_view_image, scaled_size, scaled_view

    view = list_views(synthetic_log)[0]
    small = scaled_view(view, *scaled_size(view.width, view.height, target_width=16))
    assert (small.width, small.height) == (16, 12) and small.K[0, 0] == pytest.approx(view.K[0, 0] / 2)
    image = load_view_image(small)
    full = load_view_image(view)
    assert image.shape == (12, 16, 3)
    assert np.allclose(image[3, 5], full[6:8, 10:12].reshape(-1, 3).mean(axis=0), atol=2 / 255)  # area average
