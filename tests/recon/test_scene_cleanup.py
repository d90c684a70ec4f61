"""Clean-ups applied when a reconstructed scene opens as a world, and the road plane behind gaps."""
from __future__ import annotations

import math

import numpy as np
import torch

from recon_carla_bridge.recon.camera import CameraBatch
from recon_carla_bridge.recon.gaussians import (ActorAsset, GaussianScene, GaussianSet, SkyModel, prune_actor_outliers,
                                                prune_background_in_actor_boxes, rgb_to_sh_dc)
from recon_carla_bridge.recon.render import render
from recon_carla_bridge.recon.render import ground_plane


def _points(points: list[list[float]], tag: int, rgb=(0.4, 0.4, 0.4)) -> GaussianSet:
    n = len(points)
    return GaussianSet(torch.tensor(points, dtype=torch.float32), torch.tensor([1.0, 0, 0, 0]).repeat(n, 1),
                       torch.full((n, 3), math.log(0.2)), torch.full((n,), 4.0),
                       rgb_to_sh_dc(torch.tensor(rgb)).reshape(1, 1, 3).repeat(n, 1, 1), torch.full((n,), tag))


def _scene(actor_points: list[list[float]], background_points: list[list[float]], tags: list[int]) -> GaussianScene:
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([10.0, 0.0, 0.75])
    actor = ActorAsset("car", "vehicle", torch.tensor([4.0, 2.0, 1.5]), True, _points(actor_points, 14),
                       torch.tensor([0]), pose[None])
    background = GaussianSet.concat([_points([p], t) for p, t in zip(background_points, tags)])
    return GaussianScene(background, {"car": actor}, SkyModel.uniform((0.2, 0.4, 0.9), 8, 16))


def test_actor_gaussians_outside_their_box_are_dropped() -> None:
    scene = _scene([[0.0, 0.0, 0.0], [1.9, 0.9, 0.7], [30.0, 0.0, 0.0], [0.0, -12.0, 0.0]], [[0.0, 0.0, 0.0]], [1])
    cleaned, dropped = prune_actor_outliers(scene)
    assert dropped == 2
    assert cleaned.actors["car"].gaussians.count == 2


def test_the_shadow_skirt_keeps_road_level_gaussians_around_the_box_only() -> None:
    from recon_carla_bridge.recon.gaussians import outside_actor_box

    size = torch.tensor([4.0, 2.0, 1.5])  # box frame: floor at z = -0.75
    means = torch.tensor([
        [0.0, 0.0, 0.0],  # inside
        [3.0, 0.0, -0.7],  # 1 m behind the box, on the road: the car's shadow
        [0.0, 2.1, -0.8],  # 1.1 m beside it, on the road
        [0.0, 2.1, 0.5],  # beside it but 1.25 m above the road: not a shadow
        [4.0, 0.0, -0.75],  # 2 m behind: beyond the skirt
    ])
    assert outside_actor_box(means, size, 1.1, 0.1).tolist() == [False, True, True, True, True]
    assert outside_actor_box(means, size, 1.1, 0.1, skirt=1.2).tolist() == [False, False, False, True, True]
    scene = _scene(means.tolist(), [[0.0, 0.0, 0.0]], [1])
    assert prune_actor_outliers(scene, skirt=1.2)[1] == 2


def test_an_actors_shadow_skirt_is_tagged_as_road_on_export() -> None:
    from recon_carla_bridge.recon.train import _shadow_as_road

    actor = _points([[0.0, 0.0, 0.0], [3.0, 0.0, -0.7]], 14)
    tagged = _shadow_as_road(actor, torch.tensor([4.0, 2.0, 1.5]), (1.1, 0.1))
    assert tagged.semantic.tolist() == [14, 1]  # the car stays Car, its shadow is Roads


def test_background_copies_of_an_actor_are_dropped_but_the_road_under_it_stays() -> None:
    background = [[10.0, 0.0, 0.8], [10.5, 0.5, 1.2], [10.0, 0.0, 0.02], [30.0, 0.0, 0.8]]
    scene = _scene([[0.0, 0.0, 0.0]], background, [3, 3, 1, 3])
    cleaned, dropped = prune_background_in_actor_boxes(scene)
    assert dropped == 2
    kept = cleaned.background.means.tolist()
    assert [10.0, 0.0, 0.02] in [[round(v, 2) for v in p] for p in kept] and len(kept) == 2


def test_gaps_below_the_horizon_show_the_road_plane() -> None:
    road = [[x, y, 0.0] for x in np.arange(0.0, 6.0, 0.5) for y in np.arange(-3.0, 3.0, 0.5)]
    scene = _scene([[0.0, 0.0, 0.0]], road, [1] * len(road))
    height, colour = ground_plane(scene)
    assert abs(height) < 1e-6 and np.allclose(colour, 0.4, atol=0.01)
    pose = np.array([[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]])
    cameras = CameraBatch.from_numpy(pose, np.array([[20.0, 0, 24], [0, 20.0, 16], [0, 0, 1]]), 48, 32)
    output = render(scene, cameras, {}, backend="reference")
    filled = render(scene, cameras, {}, backend="reference", ground=(height, colour))
    bottom, top = filled.rgb[0, -1, 24].numpy(), filled.rgb[0, 0, 24].numpy()
    assert np.allclose(bottom, 0.4, atol=0.05)  # road colour under the camera (Gaussians or plane)
    assert top[2] > 0.8  # the sky above is untouched
    row = 18  # 12 m ahead, beyond the splatted road (which ends at 6 m): only the plane is there
    assert int(filled.semantic[0, row, 24]) == 1
    expected = 1.5 * 20.0 / (row + 0.5 - 16)  # depth of the plane along the optical axis
    assert int(output.semantic[0, row, 24]) == 11  # before filling, that pixel saw the sky model
    assert abs(float(filled.depth[0, row, 24]) - expected) < 0.5


def test_the_measured_road_plane_is_the_rendered_road_and_is_kept_in_the_metadata() -> None:
    import pytest

    from recon_carla_bridge.errors import InputError
    from recon_carla_bridge.recon.render import GROUND_PLANE_KEY, measure_ground_plane

    road = [[x, y, 0.0] for x in np.arange(0.0, 6.0, 0.25) for y in np.arange(-3.0, 3.0, 0.25)]
    scene = _scene([[0.0, 0.0, 0.0]], road, [1] * len(road))
    pose = np.array([[0.0, 0.0, 1.0, -1.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]])
    cameras = CameraBatch.from_numpy(pose, np.array([[20.0, 0, 24], [0, 20.0, 16], [0, 0, 1]]), 48, 32)
    measured = measure_ground_plane(scene, [(cameras, {})], backend="reference")
    height, r, g, b = (float(v) for v in measured.split())
    assert abs(height) < 1e-6 and np.allclose([r, g, b], 0.4, atol=0.03)  # the colour the splats draw
    scene.metadata[GROUND_PLANE_KEY] = "0.25 0.1 0.2 0.3"
    measured_height, colour = ground_plane(scene)  # the metadata wins over the Gaussians' own colours
    assert measured_height == 0.25 and np.allclose(colour, [0.1, 0.2, 0.3])
    scene.metadata[GROUND_PLANE_KEY] = "0.25 grey"
    with pytest.raises(InputError, match="'ground_plane': expected 'height r g b'"):
        ground_plane(scene)


def test_device_encoding_matches_the_reference_encoders() -> None:
    from recon_carla_bridge.recon.render import RenderOutput
    from recon_carla_bridge.sensors.camera_encoding import encode_depth, encode_semantic, rgb_to_bgra
    from recon_carla_bridge.scene.splat_backend import encode_on_device

    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(2, 5, 7, 3, generator=generator)
    rgb[0, 0, 0] = float("nan")
    depth = torch.rand(2, 5, 7, generator=generator) * 1200.0
    semantic = torch.randint(0, 29, (2, 5, 7), generator=generator)
    output = RenderOutput(rgb, depth, torch.ones(2, 5, 7), semantic)
    assert np.array_equal(encode_on_device(output, "rgb", [1])[0].numpy(), rgb_to_bgra(rgb[1].numpy()))
    assert np.array_equal(encode_on_device(output, "depth", [0])[0].numpy(), encode_depth(depth[0].numpy()))
    assert np.array_equal(encode_on_device(output, "semantic", [0, 1])[1].numpy(), encode_semantic(semantic[1].numpy()))
    assert np.array_equal(encode_on_device(output, "rgb", [0])[0].numpy(), rgb_to_bgra(rgb[0].numpy()))
    three = RenderOutput(torch.cat([rgb, rgb[:1]]), torch.cat([depth, depth[:1]]), torch.ones(3, 5, 7),
                         torch.cat([semantic, semantic[:1]]))
    picked = encode_on_device(three, "rgb", [0, 2]).numpy()  # not a run of slots: gathered by index
    assert np.array_equal(picked[1], rgb_to_bgra(rgb[0].numpy())) and np.array_equal(picked[0], picked[1])


def test_to_device_keeps_a_tensor_that_is_there_already() -> None:
    from recon_carla_bridge.recon.transfer import to_device

    tensor = torch.arange(4.0)
    assert to_device(tensor, "cpu") is tensor
    if torch.cuda.is_available():  # the GPU path: pinned staging, no stream synchronisation
        moved = to_device(tensor, "cuda")
        assert moved.is_cuda and torch.equal(moved.cpu(), tensor)
