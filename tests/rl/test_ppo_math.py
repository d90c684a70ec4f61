"""PPO's maths: GAE against a hand-computed case, ratio clipping, and the decoupled advantages."""
from __future__ import annotations

import pytest
import torch

from recon_carla_bridge.rl.ppo import clipped_surrogate, gae, soft_labels


def test_gae_matches_a_hand_computed_case():
    gamma, lam = 0.9, 0.8
    rewards = torch.tensor([[1.0], [0.0], [2.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    terminated = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends after step 1; step 2 starts a new one
    next_value = torch.tensor([2.0])
    d2 = 2.0 + 0.9 * 2.0 - 1.5  # 2.3
    d1 = 0.0 - 1.0  # no bootstrap past the end
    d0 = 1.0 + 0.9 * 1.0 - 0.5  # 1.4
    a2, a1 = d2, d1
    a0 = d0 + gamma * lam * a1
    advantages, returns = gae(rewards, values, terminated, next_value, gamma, lam)
    assert advantages[:, 0].tolist() == pytest.approx([a0, a1, a2])
    assert returns[:, 0].tolist() == pytest.approx([a0 + 0.5, a1 + 1.0, a2 + 1.5])


def test_clipping_caps_the_ratio_in_the_advantages_direction():
    old = torch.zeros(4)
    new = torch.log(torch.tensor([2.0, 2.0, 0.5, 0.5]))
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss, clipped = clipped_surrogate(new, old, advantages, clip=0.2)
    # max(-A r, -A clip(r)): [-1.2, 2.0, -0.5, 0.8] -> mean 0.275
    assert float(loss) == pytest.approx((-1.2 + 2.0 - 0.5 + 0.8) / 4)
    assert float(clipped) == 1.0


def test_decoupled_advantages_keep_their_rewards_apart():
    """A collision (longitudinal reward) moves the longitudinal advantage only; a deviation the lateral one."""
    values = torch.zeros(3, 1)
    terminated = torch.tensor([[0.0], [0.0], [1.0]])
    lateral_rewards = torch.zeros(3, 1)
    longitudinal_rewards = torch.tensor([[0.0], [0.0], [-1.0]])
    lateral, _ = gae(lateral_rewards, values, terminated, torch.zeros(1), 0.9, 0.9)
    longitudinal, _ = gae(longitudinal_rewards, values, terminated, torch.zeros(1), 0.9, 0.9)
    assert torch.all(lateral == 0)
    assert torch.all(longitudinal < 0)


def test_soft_labels_peak_at_the_target():
    labels = soft_labels(torch.tensor([3, 0]), 7, 1.0)
    assert labels.sum(dim=1).tolist() == pytest.approx([1.0, 1.0])
    assert labels.argmax(dim=1).tolist() == [3, 0]


def test_advantage_floor_keeps_a_quiet_head_quiet():
    from recon_carla_bridge.rl.ppo import normalise

    quiet = torch.tensor([1e-4, -2e-4, 3e-4, 0.0])  # value noise of a head whose reward never occurred
    assert normalise(quiet).abs().max() > 1.0  # plain normalisation blows the noise up to unit scale
    assert normalise(quiet, std_floor=0.05).abs().max() < 0.01
    loud = torch.tensor([1.0, -1.0, 2.0, -2.0])
    assert torch.allclose(normalise(loud, std_floor=0.05), normalise(loud))


def test_anchor_signs_split_slowing_from_speeding():
    from recon_carla_bridge.rl.ppo import longitudinal_signs

    metres = torch.linspace(0.0, 15.0, 61)  # the anchors' displacement over 0.5 s
    signs = longitudinal_signs(metres, torch.tensor([8.0, 0.0]), 0.5)
    assert signs[0, 0] == -1 and signs[0, -1] == 1 and signs[0, 16] == 0  # 4 m = coasting at 8 m/s
    assert (signs[1, 2:] == 1).all() and (signs[1, :2] == 0).all()  # standing still: nothing slows down further


def test_collision_auxiliary_moves_probability_to_slowing_only_before_collisions():
    from recon_carla_bridge.rl.ppo import collision_auxiliary, longitudinal_signs

    torch.manual_seed(0)
    logits = torch.zeros(2, 61, requires_grad=True)
    mask = torch.ones(2, 61, 61, dtype=torch.bool)
    signs = longitudinal_signs(torch.linspace(0.0, 15.0, 61), torch.tensor([8.0, 8.0]), 0.5)
    advantage = torch.tensor([-1.0, 0.0])  # row 0 led into a collision, row 1 did not
    collision_auxiliary(logits, mask, signs, advantage).backward()
    step = -logits.grad  # the direction gradient descent moves the logits
    assert (step[0, signs[0] < 0] > 0).all() and (step[0, signs[0] > 0] < 0).all()
    assert torch.count_nonzero(logits.grad[1]) == 0
