"""The environment: gymnasium's checker, seeded reproducibility, the mask in use, RAD's penalties, the vector."""
from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium.utils.env_checker import check_env

from recon_carla_bridge.rl.env import ReconDrivingEnv
from recon_carla_bridge.rl.expert import expert_anchor
from recon_carla_bridge.rl.vector import make_vector_env


def test_env_passes_gymnasiums_checker(tiny_config):
    env = ReconDrivingEnv(tiny_config)
    check_env(env, skip_render_check=True)
    env.close()


def test_continuous_env_passes_the_checker(tiny_config):
    config = dataclasses.replace(tiny_config, env=dataclasses.replace(tiny_config.env, action="continuous"))
    env = ReconDrivingEnv(config)
    check_env(env, skip_render_check=True)
    env.close()


def _first_rollout(config, seed: int) -> list[np.ndarray]:
    env = ReconDrivingEnv(config)
    observation, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    states = [observation["state"]]
    for _ in range(6):
        rows, cols = np.nonzero(env.action_masks())
        pick = int(rng.integers(len(rows)))
        observation, *_ = env.step(np.array([rows[pick], cols[pick]]))
        states.append(observation["state"])
    env.close()
    return states


def test_same_seed_same_first_rollout(tiny_config):
    first, second = _first_rollout(tiny_config, 3), _first_rollout(tiny_config, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[-1], first[0])  # the ego moved


def test_the_mask_follows_the_speed_and_infeasible_anchors_are_projected(tiny_config):
    env = ReconDrivingEnv(tiny_config)
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert mask.shape == (21, 31) and not mask[:, 0].any()  # at 8 m/s the ego cannot stop within 0.5 s
    _, _, _, _, info = env.step(np.array([10, 0]))
    assert info["projected"] and env.ego_state.speed > 3.0
    env.close()


def test_running_into_the_brake_checking_car_is_penalised_and_ends_the_episode(tiny_config):
    env = ReconDrivingEnv(tiny_config)
    env.reset(seed=0)
    full_speed = env.grid.longitudinal_bins - 1
    for _ in range(tiny_config.env.max_steps):
        _, reward, terminated, truncated, info = env.step(np.array([10, full_speed]))
        if terminated or truncated:
            break
    assert terminated and "dynamic_collision" in info["events"]
    assert reward <= tiny_config.reward.dynamic_collision + 0.5 and info["reward_longitudinal"] < 0
    assert info["reward_lateral"] == 0.0
    env.close()


def test_steering_off_the_path_is_a_lateral_deviation(tiny_config):
    env = ReconDrivingEnv(tiny_config)
    env.reset(seed=0)
    for _ in range(tiny_config.env.max_steps):
        rows, cols = np.nonzero(env.action_masks())
        right = rows.max()
        keep_speed = np.abs(env.grid.longitudinal[cols[rows == right]] - env.ego_state.speed * env.grid.horizon)
        _, _, terminated, truncated, info = env.step(np.array([right, cols[rows == right][np.argmin(keep_speed)]]))
        if terminated or truncated:
            break
    assert any("deviation" in e for e in info["events"]) and info["reward_lateral"] < 0
    env.close()


def test_expert_keeps_its_lane(tiny_config):
    env = ReconDrivingEnv(tiny_config)
    env.reset(seed=0)
    for _ in range(4):
        _, _, terminated, _, info = env.step(np.array(expert_anchor(env)))
        assert abs(info["offset"]) < 0.5 and not terminated
    env.close()


def test_vector_of_two_steps_and_autoresets(tiny_config):
    envs = make_vector_env(tiny_config, 2, seed=0)
    observation, _ = envs.reset(seed=0)
    assert observation["state"].shape[0] == 2
    ended = 0
    for _ in range(tiny_config.env.max_steps + 1):
        masks = np.stack(envs.call("action_masks"))
        actions = np.array([[m.shape[0] // 2, int(np.nonzero(m[m.shape[0] // 2])[0][0])] for m in masks])
        observation, _, terminated, truncated, info = envs.step(actions)
        ended += int(np.sum(terminated | truncated))
    assert ended >= 2 and "final_obs" in info or ended >= 2
    envs.close()


def test_camera_observation_renders_once_per_decision(tiny_config):
    config = dataclasses.replace(tiny_config, env=dataclasses.replace(tiny_config.env, observation="camera",
                                                                      camera_width=32, camera_height=16))
    env = ReconDrivingEnv(config)
    check_env(env, skip_render_check=True)
    observation, _ = env.reset(seed=0)
    first_frame, rendered = env.camera.frame, env.camera.deliveries
    observation, *_ = env.step(np.array([10, 8]))
    assert env.camera.deliveries - rendered == 1  # the decision's ticks rendered one image, not one per tick
    assert observation["camera"].shape == (16, 32, 3) and observation["camera"].std() > 0
    assert env.camera.frame - first_frame == env.ticks_per_decision  # one image per decision, of its last tick
    env.close()
