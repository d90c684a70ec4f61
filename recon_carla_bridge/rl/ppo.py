"""PPO's maths in the CleanRL manner, with RAD's decoupling: generalised advantage estimation per reward part, the
clipped surrogate per head (lateral with the lateral advantage, longitudinal with the longitudinal one), value
losses for both value heads, and the behaviour-cloning loss of the interleaved imitation steps."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from recon_carla_bridge.rl.policy import DecoupledPolicy


def gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor,
        gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), each (T, N), of rewards (T, N) with values (T, N) of the observations the actions were
    taken in; `terminated[t]` is 1 where the action at t ended its episode (no bootstrap past it), `next_value` (N,)
    the value of the observation after the last step. An episode that ends by truncation is handled by the caller
    (its reward carries gamma × the value of its final observation, and `terminated` is set)."""
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(next_value)
    for t in reversed(range(steps)):
        following = next_value if t == steps - 1 else values[t + 1]
        alive = 1.0 - terminated[t]
        delta = rewards[t] + gamma * following * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
    return advantages, advantages + values


def clipped_surrogate(log_prob: torch.Tensor, old_log_prob: torch.Tensor, advantages: torch.Tensor,
                      clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(PPO's clipped policy loss, share of clipped samples): mean of max(-A r, -A clip(r, 1-ε, 1+ε))."""
    ratio = torch.exp(log_prob - old_log_prob)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return torch.max(unclipped, clipped).mean(), ((ratio - 1.0).abs() > clip).float().mean()


def normalise(advantages: torch.Tensor, std_floor: float = 0.0) -> torch.Tensor:
    """Zero mean, unit standard deviation (a constant batch stays zero); the divisor is at least `std_floor`, so a
    batch of near-zero advantages (a reward part that did not occur) stays near zero instead of being blown up."""
    return (advantages - advantages.mean()) / max(float(advantages.std()) + 1e-8, std_floor)


@dataclass
class Batch:
    """A flat minibatch of the rollout."""

    observation: dict[str, torch.Tensor]
    mask: torch.Tensor  # (B, lateral_bins, longitudinal_bins) bool
    lateral: torch.Tensor  # (B,) long
    longitudinal: torch.Tensor
    log_prob_lateral: torch.Tensor
    log_prob_longitudinal: torch.Tensor
    advantage_lateral: torch.Tensor
    advantage_longitudinal: torch.Tensor
    return_lateral: torch.Tensor
    return_longitudinal: torch.Tensor
    advantage_collision: torch.Tensor | None = None  # (B,) discounted dynamic-collision penalties ahead (<= 0)
    longitudinal_sign: torch.Tensor | None = None  # (B, longitudinal_bins): -1 slows down, +1 speeds up, 0 keeps

    def select(self, index: torch.Tensor) -> "Batch":
        """The rows `index` of the batch."""
        def pick(value: torch.Tensor | None) -> torch.Tensor | None:
            return None if value is None else value[index]
        return Batch({k: v[index] for k, v in self.observation.items()}, self.mask[index], self.lateral[index],
                     self.longitudinal[index], self.log_prob_lateral[index], self.log_prob_longitudinal[index],
                     self.advantage_lateral[index], self.advantage_longitudinal[index], self.return_lateral[index],
                     self.return_longitudinal[index], pick(self.advantage_collision), pick(self.longitudinal_sign))


def longitudinal_signs(longitudinal_m: torch.Tensor, speed: torch.Tensor, horizon: float,
                       tolerance_m: float = 0.25) -> torch.Tensor:
    """(B, bins): -1 for the longitudinal anchors that slow the ego down from `speed` (B,) m/s over `horizon` s (their
    displacement is shorter than coasting by more than `tolerance_m`), +1 for those that speed it up, 0 otherwise."""
    coasting = (speed * horizon).unsqueeze(1)
    difference = longitudinal_m.unsqueeze(0) - coasting
    return torch.where(difference > tolerance_m, 1.0, torch.where(difference < -tolerance_m, -1.0, 0.0))


def collision_auxiliary(longitudinal_logits: torch.Tensor, mask: torch.Tensor, signs: torch.Tensor,
                        advantage_collision: torch.Tensor) -> torch.Tensor:
    """RAD's dynamic-collision auxiliary objective: mean of A_dc × (P(slow down) − P(speed up)) under the mask. With
    A_dc < 0 on the decisions that led into a collision, minimising it moves probability to the slowing anchors there
    (and does nothing where no collision followed, A_dc = 0)."""
    probabilities = torch.softmax(longitudinal_logits.masked_fill(~mask.any(dim=1), -1e9), dim=-1)
    slowing_minus_speeding = -(probabilities * signs).sum(dim=-1)
    return (advantage_collision * slowing_minus_speeding).mean()


def ppo_loss(policy: DecoupledPolicy, batch: Batch, clip: float, value_coef: float,
             entropy_coef: float, std_floor: float = 0.0,
             collision_coef: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """RAD's decoupled PPO loss of a minibatch and its parts (for the logs); `std_floor`: see `normalise`;
    `collision_coef` weighs `collision_auxiliary` (needs the batch's collision advantages and anchor signs)."""
    out = policy.evaluate(batch.observation, batch.mask, batch.lateral, batch.longitudinal)
    lateral_loss, lateral_clipped = clipped_surrogate(out.log_prob_lateral, batch.log_prob_lateral,
                                                      normalise(batch.advantage_lateral, std_floor), clip)
    longitudinal_loss, longitudinal_clipped = clipped_surrogate(out.log_prob_longitudinal, batch.log_prob_longitudinal,
                                                                normalise(batch.advantage_longitudinal, std_floor),
                                                                clip)
    value_loss = F.mse_loss(out.value_lateral, batch.return_lateral) + F.mse_loss(out.value_longitudinal,
                                                                                   batch.return_longitudinal)
    entropy = (out.entropy_lateral + out.entropy_longitudinal).mean()
    loss = lateral_loss + longitudinal_loss + value_coef * value_loss - entropy_coef * entropy
    auxiliary: dict[str, float] = {}
    if collision_coef > 0 and batch.advantage_collision is not None and batch.longitudinal_sign is not None:
        _, longitudinal_logits, _ = policy.logits(batch.observation)
        aux = collision_auxiliary(longitudinal_logits, batch.mask, batch.longitudinal_sign, batch.advantage_collision)
        loss = loss + collision_coef * aux
        auxiliary["loss/auxiliary_collision"] = float(aux.detach())
    return loss, {**auxiliary, "loss/policy_lateral": lateral_loss.item(), "loss/policy_longitudinal": longitudinal_loss.item(),
                  "loss/value": value_loss.item(), "loss/entropy": entropy.item(),
                  "ppo/clip_fraction_lateral": float(lateral_clipped),
                  "ppo/clip_fraction_longitudinal": float(longitudinal_clipped)}


def soft_labels(index: torch.Tensor, bins: int, sigma: float) -> torch.Tensor:
    """(B, bins) Gaussian soft labels around integer targets (sigma in bins; 0: one-hot)."""
    if sigma <= 0:
        return F.one_hot(index, bins).float()
    grid = torch.arange(bins, dtype=torch.float32).unsqueeze(0)
    weights = torch.exp(-0.5 * ((grid - index.unsqueeze(1).float()) / sigma) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def imitation_loss(policy: DecoupledPolicy, observation: dict[str, torch.Tensor], lateral: torch.Tensor,
                   longitudinal: torch.Tensor, sigma: float, lateral_weight: float = 1.0,
                   longitudinal_weight: float = 1.0) -> torch.Tensor:
    """Behaviour cloning: cross-entropy of each head against the expert's anchor (soft labels, unmasked logits), the
    heads weighted apart (RL may then move the longitudinal head further from the demonstrations than the lateral)."""
    lateral_logits, longitudinal_logits, _ = policy.logits(observation)
    lateral_target = soft_labels(lateral, lateral_logits.shape[-1], sigma)
    longitudinal_target = soft_labels(longitudinal, longitudinal_logits.shape[-1], sigma)
    return (-lateral_weight * (lateral_target * F.log_softmax(lateral_logits, -1)).sum(-1).mean()
            - longitudinal_weight * (longitudinal_target * F.log_softmax(longitudinal_logits, -1)).sum(-1).mean())
