"""The CPU rasterizer against the brute-force reference, determinism, semantics, depth, actors, gsplat."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recon_carla_bridge.errors import InputError
from recon_carla_bridge.recon.gaussians import (
    ActorAsset,
    GaussianScene,
    GaussianSet,
    SkyModel,
    rgb_to_sh_dc,
)
from recon_carla_bridge.recon.render import SKY_DEPTH, render
from recon_carla_bridge.recon.semantics import CarlaTag

from .synthetic import forward_camera, random_scene


def _assert_close(a, b, rgb_tol: float = 2e-4) -> None:
    assert (a.rgb - b.rgb).abs().max() < rgb_tol
    assert (a.alpha - b.alpha).abs().max() < rgb_tol
    solid = a.alpha > 0.05
    assert ((a.depth - b.depth).abs()[solid] / a.depth[solid]).max() < 1e-3
    assert (a.semantic == b.semantic).float().mean() > 0.999


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cpu_rasterizer_matches_reference(seed: int) -> None:
    scene = random_scene(400, seed)
    camera = forward_camera(56, 40)
    poses = {"car0": torch.tensor([[1.0, 0, 0, 9.0], [0, 1, 0, 1.0], [0, 0, 1, 0.5], [0, 0, 0, 1]])}
    reference = render(scene, camera, poses, backend="reference")
    fast = render(scene, camera, poses, backend="cpu")
    assert reference.rgb.shape == (1, 40, 56, 3) and fast.semantic.dtype == torch.int64
    assert 0.05 < float(reference.alpha.mean()) < 0.95  # a case with both Gaussians and sky
    _assert_close(reference, fast)


def test_cpu_rasterizer_several_cameras_and_off_centre_principal_point() -> None:
    scene = random_scene(300, 5)
    camera = forward_camera(40, 30)
    batch = type(camera)(
        torch.cat([camera.world_from_camera, camera.world_from_camera @ torch.tensor(
            [[0.9950, 0, 0.0998, 0], [0, 1, 0, 0], [-0.0998, 0, 0.9950, 0], [0, 0, 0, 1]])]),
        torch.tensor([[[30.0, 0, 12.0], [0, 28.0, 20.0], [0, 0, 1]]]).repeat(2, 1, 1), 40, 30,
    )
    _assert_close(render(scene, batch, {}, backend="reference"), render(scene, batch, {}, backend="cpu"))


def test_cpu_render_is_deterministic() -> None:
    scene = random_scene(500, 3)
    camera = forward_camera(64, 48)
    first = render(scene, camera, {"car0": torch.eye(4)}, backend="cpu")
    second = render(scene, camera, {"car0": torch.eye(4)}, backend="cpu")
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def _wall(x: float, tag: int, rgb: tuple[float, float, float], n: int = 25) -> GaussianSet:
    """An opaque square wall of n x n Gaussians at world x, facing the camera at the origin."""
    ys, zs = torch.meshgrid(torch.linspace(-3, 3, n), torch.linspace(-2, 2, n), indexing="ij")
    means = torch.stack([torch.full_like(ys, x), ys, zs], -1).reshape(-1, 3)
    count = means.shape[0]
    return GaussianSet(
        means, torch.tensor([1.0, 0, 0, 0]).repeat(count, 1), torch.full((count, 3), float(np.log(0.2))),
        torch.full((count,), 6.0), rgb_to_sh_dc(torch.tensor(rgb)).repeat(count, 1)[:, None],
        torch.full((count,), tag),
    )


def test_depth_semantics_and_sky_of_simple_walls() -> None:
    scene = GaussianScene(_wall(10.0, int(CarlaTag.BUILDING), (0.2, 0.4, 0.6)), {}, SkyModel.uniform((0.9, 0.1, 0.1), 4, 8))
    out = render(scene, forward_camera(48, 32, focal=10.0), {}, backend="cpu")
    centre = (0, 16, 24)
    assert out.depth[centre] == pytest.approx(10.0, rel=1e-3)
    assert int(out.semantic[centre]) == CarlaTag.BUILDING
    torch.testing.assert_close(out.rgb[centre], torch.tensor([0.2, 0.4, 0.6]), atol=2e-3, rtol=0)
    corner = (0, 0, 0)  # wall spans ±17° vertically; the corner ray (±58°, ±47°) misses it
    assert int(out.semantic[corner]) == CarlaTag.SKY and float(out.depth[corner]) == SKY_DEPTH
    torch.testing.assert_close(out.rgb[corner], torch.tensor([0.9, 0.1, 0.1]), atol=1e-4, rtol=0)


def _car_actor() -> ActorAsset:
    wall = _wall(0.0, int(CarlaTag.CAR), (0.9, 0.9, 0.1), n=9)
    small = GaussianSet(wall.means * 0.3, wall.quats, wall.log_scales - 1.0, wall.opacity_logits, wall.sh, wall.semantic)
    return ActorAsset("car0", "vehicle", torch.tensor([4.0, 1.8, 1.5]), True, small, torch.tensor([0]), torch.eye(4)[None])


def test_actor_occludes_building_moves_without_ghost_and_is_hidden_when_not_given() -> None:
    background = _wall(20.0, int(CarlaTag.BUILDING), (0.2, 0.4, 0.6))
    scene = GaussianScene(background, {"car0": _car_actor()}, SkyModel.uniform((0.5, 0.5, 0.5), 4, 8))
    camera = forward_camera(48, 32, focal=20.0)
    at = torch.eye(4)
    at[0, 3] = 8.0
    moved = at.clone()
    moved[1, 3] = 3.0  # 3 m to the left (world +y)
    empty = render(scene, camera, {}, backend="cpu")
    logged = render(scene, camera, {"car0": at}, backend="cpu")
    shifted = render(scene, camera, {"car0": moved}, backend="cpu")
    assert int(logged.semantic[0, 16, 24]) == CarlaTag.CAR and logged.depth[0, 16, 24] == pytest.approx(8.0, rel=1e-2)
    assert int(empty.semantic[0, 16, 24]) == CarlaTag.BUILDING
    # after the move, the old place shows exactly the background: no ghost
    torch.testing.assert_close(shifted.rgb[0, 12:20, 22:28], empty.rgb[0, 12:20, 22:28], atol=1e-6, rtol=0)
    # and the car appears left of centre (world +y is image left), at u = 24 - 20 * 3 / 8 = 16.5
    assert int(shifted.semantic[0, 16, 16]) == CarlaTag.CAR
    with pytest.raises(InputError, match="unknown track"):
        render(scene, camera, {"truck9": at}, backend="cpu")


def test_actor_rotation_keeps_view_dependent_colour() -> None:
    """An actor turned by the simulator shows, from the matching direction, the colour it had before."""
    actor = random_scene(10, 7).actors["car0"]
    yaw = torch.tensor(0.7)
    pose = torch.eye(4)
    pose[:2, :2] = torch.tensor([[torch.cos(yaw), -torch.sin(yaw)], [torch.sin(yaw), torch.cos(yaw)]])
    world = actor.gaussians.transformed(pose)
    from recon_carla_bridge.recon.gaussians import eval_sh

    direction = torch.tensor([[0.3, -0.8, 0.52]]).expand(world.count, 3)
    before = eval_sh(actor.gaussians.sh, direction)
    after = eval_sh(world.sh, direction @ pose[:3, :3].T)
    torch.testing.assert_close(before, after, atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat needs CUDA")
def test_gsplat_backend_matches_reference() -> None:
    pytest.importorskip("gsplat")
    scene = random_scene(400, 11)
    camera = forward_camera(56, 40)
    poses = {"car0": torch.tensor([[1.0, 0, 0, 9.0], [0, 1, 0, 1.0], [0, 0, 1, 0.5], [0, 0, 0, 1]])}
    reference = render(scene, camera, poses, backend="reference")
    gpu = render(scene, camera, poses, backend="gsplat")
    gpu = type(gpu)(*(t.cpu() for t in gpu))
    _assert_close(reference, gpu, rgb_tol=2e-3)


def test_degree_zero_colours_come_back_one_per_direction() -> None:
    """Batched renders evaluate colours for [C, N] directions; degree-0 SH must give [C, N, 3] too."""
    from recon_carla_bridge.recon.gaussians import eval_sh

    sh = torch.randn(5, 1, 3)
    directions = torch.randn(2, 5, 3)
    colours = eval_sh(sh, directions)
    assert colours.shape == (2, 5, 3)
    torch.testing.assert_close(colours[0], colours[1])


def test_front_to_back_order_is_depth_then_index() -> None:
    """The CPU rasterizer's blending order: nearest first, equal depths in Gaussian order (deterministic)."""
    from recon_carla_bridge.recon.raster_cpu import front_to_back

    rng = np.random.default_rng(3)
    depths = rng.choice(np.array([0.2, 1.0, 1.0, 7.5, 80.0, 1e4], dtype=np.float32), size=500)
    index = np.sort(rng.choice(500, size=300, replace=False))
    expected = index[np.argsort(depths[index], kind="stable")]
    assert np.array_equal(front_to_back(index, depths), expected)
