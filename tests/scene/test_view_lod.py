"""Per-view levels of detail of the background (`scene.view_lod`) in the batched renderer: fewer Gaussians per view,
the same image where only culling applies, 28 dB+ against the full scene where levels apply, images independent of
the batch."""
from __future__ import annotations

import importlib

import carla
import numpy as np
import pytest
import torch

from recon_carla_bridge.recon.camera import CameraBatch, carla_to_opencv_world_from_camera, intrinsics_from_fov
from recon_carla_bridge.recon.gaussians import GaussianSet
from recon_carla_bridge.recon.metrics import psnr
from recon_carla_bridge.scene.batched_splat import BatchedSplatRenderer, CameraView
from recon_carla_bridge.scene.scene_world import open_scene_world
from recon_carla_bridge.scene.view_lod import ViewLod

render = importlib.import_module("recon_carla_bridge.recon.render").render

# (x, yaw) of 64 x 32 cameras 1.6 m above kitti_0013's road (CARLA frame): along the street, at its end, looking back
POSES = [(0.0, 0.0), (45.0, 0.0), (100.0, 0.0), (130.0, 0.0), (45.0, 180.0), (90.0, 180.0), (30.0, 20.0)]


def carla_pose(x: float, yaw: float, y: float = 0.0, z: float = 1.6) -> np.ndarray:
    """CARLA world_from_camera of a camera at (x, y, z) looking along yaw (degrees)."""
    return np.array(carla.Transform(carla.Location(x=x, y=y, z=z), carla.Rotation(yaw=yaw)).get_matrix())


@pytest.fixture(scope="module")
def street():
    """kitti_0013's world (CPU Gaussians) after one tick, and its logged vehicles as a camera there draws them."""
    world = open_scene_world("kitti_0013", render_backend="cpu")
    world.tick()
    backend = world.simulation.camera_backend
    instances = backend.actor_instances(world.simulation.render_snapshot())
    return world, backend, instances


@pytest.fixture(scope="module")
def renderers(street):
    """64 x 32 batched renderers of the street: without per-view levels, culling only, the default rule."""
    scene = street[0].gaussian_scene
    return (BatchedSplatRenderer(scene, 64, 32, 90.0, "cpu"),
            BatchedSplatRenderer(scene, 64, 32, 90.0, "cpu", view_lod=True, pixel_share=0.0),
            BatchedSplatRenderer(scene, 64, 32, 90.0, "cpu", view_lod=True))


def test_cells_behind_and_far_are_dropped_or_merged() -> None:
    near = torch.tensor([[2.0, 0.0, 0.0]]) + 0.01 * torch.arange(40.0)[:, None] * torch.tensor([[0.0, 1.0, 0.0]])
    far = torch.tensor([[80.0, 0.0, 0.0]]) + 0.01 * torch.arange(40.0)[:, None] * torch.tensor([[0.0, 1.0, 0.0]])
    behind = torch.tensor([[-20.0, 0.0, 0.0]]) + 0.01 * torch.arange(40.0)[:, None] * torch.tensor([[0.0, 1.0, 0.0]])
    means = torch.cat([near, far, behind])
    n = means.shape[0]
    gaussians = GaussianSet(means, torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1), torch.log(torch.full((n, 3), 0.004)),
                            torch.zeros(n), torch.rand(n, 4, 3) - 0.5, torch.full((n,), 7))
    lod = ViewLod(gaussians, torch.zeros(n, dtype=torch.int64), None)
    # a camera at the origin looking along world +x (OpenCV axes: z forward = world x, x right = world -y, y down)
    pose = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    cameras = CameraBatch.from_numpy(pose[None], intrinsics_from_fov(64, 32, 90.0), 64, 32)
    selection = lod.select(cameras)
    drawn = lod.pool.means[selection.index[0, :selection.lengths[0]]]
    assert bool((drawn[:, 0] > 0).all())  # nothing behind the camera
    assert int((drawn[:, 0] < 10).sum()) == 40  # the near row as it is (2 m: a 0.1 m voxel would span 1.6 px)
    assert 0 < int((drawn[:, 0] > 70).sum()) < 10  # the far row merged (80 m: a pixel spans 2.5 m)
    exact = lod.select(cameras, pixel_share=0.0)
    assert exact.lengths[0] == 80  # culling only: near and far rows whole, the row behind dropped


def test_culling_alone_keeps_the_images_with_fewer_gaussians(street, renderers) -> None:
    _, _, instances = street
    off, culled, _ = renderers
    views = [CameraView(carla_pose(x, yaw), instances) for x, yaw in POSES]
    np.testing.assert_array_equal(culled.render(views), off.render(views))  # byte-equal: only unseen cells dropped
    fewer = np.array(culled.gaussians_per_view(views)) / np.array(off.gaussians_per_view(views))
    assert fewer.max() <= 1.0 and fewer.min() < 0.3, fewer  # at the street's end little of it is in view


def test_levels_cut_the_gaussians_and_stay_close_to_the_full_scene(street, renderers) -> None:
    world, backend, instances = street
    off, _, levels = renderers
    views = [CameraView(carla_pose(x, yaw), instances) for x, yaw in POSES]
    images = levels.render(views)
    scores = []
    for view, image in zip(views, images):
        cameras = CameraBatch.from_numpy(carla_to_opencv_world_from_camera(view.world_from_camera)[None],
                                         intrinsics_from_fov(64, 32, 90.0)[None], 64, 32)
        full = render(world.gaussian_scene, cameras, instances, backend="cpu", ground=backend.ground).rgb[0]
        scores.append(float(psnr(torch.from_numpy(image).float() / 255.0, full.float())))
    assert min(scores) >= 28.0, scores  # dB against the full scene (every Gaussian, no level)
    drawn = np.array(levels.gaussians_per_view(views))
    assert drawn.mean() < 0.35 * np.mean(off.gaussians_per_view(views)), drawn


def test_a_views_image_does_not_depend_on_its_batch(street, renderers) -> None:
    _, _, instances = street
    levels = renderers[2]
    views = [CameraView(carla_pose(x, yaw), instances[: k + 1]) for k, (x, yaw) in enumerate(POSES[:3])]
    together = levels.render(views)
    for view, image in zip(views, together):
        np.testing.assert_array_equal(levels.render([view])[0], image)
    np.testing.assert_array_equal(levels.render(views[::-1])[::-1], together)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat's batched rasterization needs CUDA")
def test_gsplat_levels_stay_close_and_do_not_depend_on_the_batch(street) -> None:
    from recon_carla_bridge.rl.batched_camera import scene_gaussians

    world, _, instances = street
    scene = scene_gaussians(str(world.scene_bundle.scene_file.resolve()), "cuda")
    full = BatchedSplatRenderer(scene, 64, 32, 90.0, "gsplat", tile_size=8)
    levels = BatchedSplatRenderer(scene, 64, 32, 90.0, "gsplat", tile_size=8, view_lod=True)
    views = [CameraView(carla_pose(x, yaw), instances) for x, yaw in POSES]
    together, reference = levels.render(views), full.render(views)
    scores = [float(psnr(torch.from_numpy(a).float() / 255.0, torch.from_numpy(b).float() / 255.0))
              for a, b in zip(together, reference)]
    assert min(scores) >= 28.0, scores
    np.testing.assert_array_equal(np.concatenate([levels.render(views[:3]), levels.render(views[3:])]), together)
    assert np.mean(levels.gaussians_per_view(views)) < 0.35 * np.mean(full.gaussians_per_view(views))
