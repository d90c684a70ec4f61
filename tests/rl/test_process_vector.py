"""Envs over worker processes: the same seed gives what the in-process vector gives, autoresets included."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recon_carla_bridge.rl.vector import make_vector_env
from recon_carla_bridge.rl.workers import ARRAYS

from tests.rl.test_workers import _batch


def _run(config, processes: int, steps: int) -> list[tuple]:
    envs = make_vector_env(config, 2, seed=5, processes=processes)
    try:
        observation, info = envs.reset(seed=5)
        results = [(observation, info)]
        rng = np.random.default_rng(0)
        for _ in range(steps):
            actions = []
            for mask in envs.call("action_masks"):
                rows, cols = np.nonzero(mask)
                pick = int(rng.integers(len(rows)))
                actions.append([rows[pick], cols[pick]])
            results.append(envs.step(np.array(actions)))
        if processes > 1:
            with pytest.raises(RuntimeError, match="no_such_method"):  # a worker's failure comes back named
                envs.call("no_such_method")
        return results
    finally:
        envs.close()


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)) or (isinstance(a, np.ndarray) and a.dtype == object):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, where


def test_two_processes_give_what_one_gives(tiny_config):
    config = dataclasses.replace(tiny_config, env=dataclasses.replace(tiny_config.env, max_steps=3))
    steps = 6
    local, spread = _run(config, 1, steps), _run(config, 2, steps)
    _assert_same(local, spread, "results")
    ended = sum(int(np.sum(result[2] | result[3])) for result in local[1:])
    assert ended >= 2 and any("final_obs" in result[4] for result in local[1:])  # autoresets happened


def test_rollout_over_two_env_processes_is_the_in_process_batch(tiny_config):
    spread_config = dataclasses.replace(tiny_config, train=dataclasses.replace(tiny_config.train, env_processes=2))
    local, spread = _batch(tiny_config, 0), _batch(spread_config, 0)
    for key in ARRAYS:
        np.testing.assert_array_equal(local[key], spread[key], err_msg=key)
    np.testing.assert_array_equal(local["observations"]["state"], spread["observations"]["state"])
    assert local["episodes"] == spread["episodes"]
