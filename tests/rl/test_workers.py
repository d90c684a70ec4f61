"""Rollout workers: the same seed gives the same batch in-process and with 2 Ray workers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recon_carla_bridge.rl.checkpoint import interface_of, policy_for
from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.workers import ARRAYS, WorkerPool


def _batch(config, workers: int) -> dict:
    torch.manual_seed(0)
    weights = policy_for(interface_of(ReconDrivingEnv(config)), config.train.hidden).state_dict()
    pool = WorkerPool(config, seed=11, workers=workers)
    try:
        return pool.rollout(weights, 6)
    finally:
        pool.close()


def test_in_process_rollouts_repeat(tiny_config):
    first, second = _batch(tiny_config, 0), _batch(tiny_config, 0)
    for key in ARRAYS:
        np.testing.assert_allclose(first[key], second[key], rtol=1e-6, atol=1e-6, err_msg=key)
    assert np.abs(first["observations"]["state"][-1] - first["observations"]["state"][0]).max() > 0


def test_two_ray_workers_give_the_same_batch_as_one(tiny_config):
    ray = pytest.importorskip("ray")
    from recon_carla_bridge.rl.workers import check_ray_starts

    try:
        check_ray_starts()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except Exception as error:  # noqa: BLE001 — Ray's own start-up, not the code under test
        pytest.skip(f"a local Ray does not start here: {str(error).splitlines()[0]}")
    local = _batch(tiny_config, 0)
    try:
        remote = _batch(tiny_config, 2)
    finally:
        ray.shutdown()
    for key in ARRAYS:
        np.testing.assert_allclose(local[key], remote[key], rtol=1e-5, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(local["observations"]["state"], remote["observations"]["state"], atol=1e-5)
    assert [e["env"] for e in local["episodes"]] == [e["env"] for e in remote["episodes"]]
