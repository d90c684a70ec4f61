"""The compiled separating-axis kernels give what the numpy statement of the test gives."""
from __future__ import annotations

import numpy as np

from recon_carla_bridge.world.box_overlap import candidate_pairs, obb_overlap_pairs
from recon_carla_bridge.world.geometry import box_centres, obb_overlap_2d


def test_compiled_overlap_equals_the_numpy_reference_on_random_and_tied_boxes() -> None:
    rng = np.random.default_rng(0)
    n = 60
    centers = rng.uniform(-8.0, 8.0, (n, 2))
    halves = rng.uniform(0.3, 3.0, (n, 2))
    yaws = rng.uniform(-np.pi, np.pi, n)
    yaws[:10] = np.round(yaws[:10] / (np.pi / 2)) * (np.pi / 2)  # axis-aligned boxes: tied axes
    centers[:10] = np.round(centers[:10])
    halves[:10] = 1.0
    ia, ib = np.triu_indices(n, k=1)
    pairs = np.concatenate([np.stack([ia, ib], 1), np.stack([ib, ia], 1)])
    expected = obb_overlap_2d(centers, halves, yaws, pairs)
    compiled = obb_overlap_pairs(centers, halves, yaws, pairs)
    assert expected[0].sum() > 100 and (~expected[0]).sum() > 100  # both outcomes are exercised
    assert np.array_equal(compiled[0], expected[0])
    np.testing.assert_allclose(compiled[1], expected[1], atol=1e-9)
    np.testing.assert_allclose(compiled[2], expected[2], atol=1e-9)


def test_broad_phase_keeps_exactly_the_pairs_near_in_plan_and_height_of_other_families() -> None:
    rng = np.random.default_rng(1)
    n = 40
    centers = np.concatenate([rng.uniform(-10.0, 10.0, (n, 2)), rng.uniform(0.0, 3.0, (n, 1))], axis=1)
    halves = rng.uniform(0.3, 2.5, (n, 3))
    families = rng.integers(0, 30, n)
    radius = np.linalg.norm(halves[:, :2], axis=1)
    expected = [(i, j) for i in range(n) for j in range(i + 1, n)
                if np.linalg.norm(centers[j, :2] - centers[i, :2]) < radius[i] + radius[j]
                and abs(centers[j, 2] - centers[i, 2]) < halves[i, 2] + halves[j, 2] and families[i] != families[j]]
    assert len(expected) > 20
    assert [tuple(p) for p in candidate_pairs(centers, halves, families).tolist()] == expected
    assert candidate_pairs(centers[:1], halves[:1], families[:1]).shape == (0, 2)


def test_box_centres_rotate_the_box_offset_with_the_yaw() -> None:
    centres, yaws = box_centres(np.array([[10.0, 5.0, 0.0]]), np.array([90.0]), np.array([[1.0, 0.0, 0.8]]))
    np.testing.assert_allclose(centres, [[10.0, 6.0, 0.8]], atol=1e-12)
    np.testing.assert_allclose(yaws, [np.pi / 2])
