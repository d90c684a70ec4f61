"""The policy network with RAD's decoupled heads: one torso, a lateral and a longitudinal policy head (logits over the
anchor bins) and a lateral and a longitudinal value head.

Sampling respects the bicycle-model mask, which is joint over (lateral, longitudinal): the longitudinal bin is drawn
from the bins with any feasible anchor, then the lateral bin from those feasible with it. The log-probabilities of
the two heads stay apart, so PPO can clip and weigh each with its own advantage.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

NEG = -1e9


@dataclass
class HeadOutput:
    """Per-head log-probabilities and entropies of actions, and the two values."""

    log_prob_lateral: torch.Tensor
    log_prob_longitudinal: torch.Tensor
    entropy_lateral: torch.Tensor
    entropy_longitudinal: torch.Tensor
    value_lateral: torch.Tensor
    value_longitudinal: torch.Tensor


def _encoder(channels: int, size: tuple[int, int], out: int) -> nn.Module:
    conv = nn.Sequential(nn.Conv2d(channels, 16, 5, stride=2, padding=2), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((4, 4)),
                         nn.Flatten())
    return nn.Sequential(conv, nn.Linear(32 * 16, out), nn.ReLU())


class DecoupledPolicy(nn.Module):
    """Torso over the observation parts, two policy heads, two value heads (see the module docstring)."""

    def __init__(self, state_size: int, lateral_bins: int, longitudinal_bins: int, hidden: int = 128,
                 images: dict[str, tuple[int, int, int]] | None = None) -> None:
        """`images`: {observation key: (channels, height, width)} encoded by small CNNs next to the state."""
        super().__init__()
        self.images = dict(images or {})
        self.encoders = nn.ModuleDict({key: _encoder(c, (h, w), 64) for key, (c, h, w) in self.images.items()})
        width = state_size + 64 * len(self.images)
        self.torso = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.lateral = nn.Linear(hidden, lateral_bins)
        self.longitudinal = nn.Linear(hidden, longitudinal_bins)
        self.value_lateral = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.value_longitudinal = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        nn.init.zeros_(self.lateral.weight)
        nn.init.zeros_(self.longitudinal.weight)

    def features(self, observation: dict[str, torch.Tensor]) -> torch.Tensor:
        """The torso's input: the state and the encoded images."""
        parts = [observation["state"]]
        for key, encoder in self.encoders.items():
            image = observation[key].float() / 255.0
            if image.shape[-1] == 3:  # camera images come height × width × 3
                image = image.permute(0, 3, 1, 2)
            parts.append(encoder(image))
        return torch.cat(parts, dim=-1)

    def logits(self, observation: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(lateral logits, longitudinal logits, features)."""
        features = self.features(observation)
        hidden = self.torso(features)
        return self.lateral(hidden), self.longitudinal(hidden), features

    def values(self, observation: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(lateral value, longitudinal value), each (B,)."""
        features = self.features(observation)
        return self.value_lateral(features).squeeze(-1), self.value_longitudinal(features).squeeze(-1)

    def evaluate(self, observation: dict[str, torch.Tensor], mask: torch.Tensor, lateral: torch.Tensor,
                 longitudinal: torch.Tensor) -> HeadOutput:
        """Log-probabilities, entropies and values of given actions under the mask (B, lateral_bins, longitudinal_bins)."""
        lateral_logits, longitudinal_logits, features = self.logits(observation)
        longitudinal_dist = _masked(longitudinal_logits, mask.any(dim=1))
        row_mask = mask.gather(2, longitudinal.view(-1, 1, 1).expand(-1, mask.shape[1], 1)).squeeze(-1)
        lateral_dist = _masked(lateral_logits, row_mask)
        return HeadOutput(lateral_dist.log_prob(lateral), longitudinal_dist.log_prob(longitudinal),
                          lateral_dist.entropy(), longitudinal_dist.entropy(),
                          self.value_lateral(features).squeeze(-1), self.value_longitudinal(features).squeeze(-1))

    @torch.no_grad()
    def act(self, observation: dict[str, torch.Tensor], mask: torch.Tensor, deterministic: bool = False,
            generator: torch.Generator | list[torch.Generator] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(lateral index, longitudinal index), each (B,), drawn (or the modes) under the mask. `generator`: one for
        the batch, or one per row (then a row's draws do not depend on the other rows)."""
        lateral_logits, longitudinal_logits, _ = self.logits(observation)
        longitudinal_logits = longitudinal_logits.masked_fill(~mask.any(dim=1), NEG)
        longitudinal = _pick(longitudinal_logits, deterministic, generator)
        row_mask = mask.gather(2, longitudinal.view(-1, 1, 1).expand(-1, mask.shape[1], 1)).squeeze(-1)
        lateral = _pick(lateral_logits.masked_fill(~row_mask, NEG), deterministic, generator)
        return lateral, longitudinal


def _masked(logits: torch.Tensor, mask: torch.Tensor) -> torch.distributions.Categorical:
    return torch.distributions.Categorical(logits=logits.masked_fill(~mask, NEG))


def _pick(logits: torch.Tensor, deterministic: bool,
          generator: torch.Generator | list[torch.Generator] | None) -> torch.Tensor:
    if deterministic:
        return logits.argmax(dim=-1)
    probabilities = torch.softmax(logits, dim=-1)
    if isinstance(generator, list):
        return torch.cat([torch.multinomial(row, 1, generator=g) for row, g in zip(probabilities, generator)])
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)
