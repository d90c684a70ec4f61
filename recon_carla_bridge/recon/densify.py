"""MCMC densification with a budget per group of Gaussians (background vs actors).

gsplat's `MCMCStrategy` relocates dead Gaussians onto, and adds new ones at, live Gaussians drawn in
proportion to their opacity over the whole set. In a street scene the actor Gaussians are denser and
more opaque than the background (they are initialised opaque and pushed to stay so, so moving an actor
leaves no ghost), and the plain strategy ends up spending most of the budget on a few cars: the bundled
KITTI scene had 100k actor Gaussians against 60k for the whole street. Here a dead Gaussian is reborn
inside its own group, and new Gaussians go to the group that is below its share of the total.

The relocation arithmetic (MCMC paper, eq. 9) is gsplat's `compute_relocation` on CUDA; the sampling
plans are plain torch so they are tested on the CPU.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

RelocationFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _sample(weights: torch.Tensor, count: int, generator: torch.Generator | None) -> torch.Tensor:
    """`count` indices drawn with replacement in proportion to `weights` (uniformly if they sum to 0)."""
    if count <= 0 or weights.numel() == 0:
        return torch.zeros(0, dtype=torch.int64, device=weights.device)
    weights = weights.float()
    if not bool(weights.sum() > 0):
        weights = torch.ones_like(weights)
    return torch.multinomial(weights, count, replacement=True, generator=generator)


def plan_relocation(opacities: torch.Tensor, group: torch.Tensor, dead: torch.Tensor,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair each dead Gaussian with a live one of the same group (drawn by opacity).

    Args:
        opacities: [N] opacities in (0, 1).
        group: [N] int group of each Gaussian.
        dead: [N] bool.
    Returns:
        (dead indices [D], source indices [D]); a group with no live member borrows from all live ones,
        and with nothing alive at all nothing is relocated.
    """
    dead_all, sources_all = [], []
    alive = ~dead
    if not bool(alive.any()):
        empty = torch.zeros(0, dtype=torch.int64, device=opacities.device)
        return empty, empty
    for g in torch.unique(group[dead]).tolist():
        dead_g = (dead & (group == g)).nonzero().squeeze(1)
        pool = (alive & (group == g)).nonzero().squeeze(1)
        if pool.numel() == 0:
            pool = alive.nonzero().squeeze(1)
        dead_all.append(dead_g)
        sources_all.append(pool[_sample(opacities[pool], dead_g.numel(), generator)])
    if not dead_all:
        empty = torch.zeros(0, dtype=torch.int64, device=opacities.device)
        return empty, empty
    return torch.cat(dead_all), torch.cat(sources_all)


def plan_addition(opacities: torch.Tensor, group: torch.Tensor, count: int, shares: dict[int, float],
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Sources [count] of new Gaussians: each group with a target share gets what brings it towards
    share x (N + count), the rest go to the other groups by opacity.

    Args:
        opacities: [N] opacities.
        group: [N] int group of each Gaussian.
        count: how many Gaussians to add.
        shares: group -> wanted fraction of all Gaussians (groups not named share what is left).
    """
    if count <= 0:
        return torch.zeros(0, dtype=torch.int64, device=opacities.device)
    total = group.numel() + count
    sources, left = [], count
    for g, share in shares.items():
        members = (group == g).nonzero().squeeze(1)
        if members.numel() == 0:
            continue
        wanted = min(left, max(0, math.ceil(share * total) - members.numel()))
        sources.append(members[_sample(opacities[members], wanted, generator)])
        left -= wanted
    if left > 0:
        others = torch.ones_like(group, dtype=torch.bool)
        for g in shares:
            others &= group != g
        pool = others.nonzero().squeeze(1)
        if pool.numel() == 0:
            pool = torch.arange(group.numel(), device=group.device)
        sources.append(pool[_sample(opacities[pool], left, generator)])
    return torch.cat(sources) if sources else torch.zeros(0, dtype=torch.int64, device=opacities.device)


def relocation_torch(opacities: torch.Tensor, scales: torch.Tensor, ratios: torch.Tensor,
                     binoms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MCMC's relocation (eq. 9 of Kheradmand et al. 2024) in torch, with gsplat's `compute_relocation`
    signature: a Gaussian split `ratio` ways keeps its rendered footprint. Used where gsplat's kernel is
    not available (CPU).

    new_opacity = 1 - (1 - o)^(1/n); new_scale = scale * o / sum_{k<n} C(n, k+1) (-1)^k new_o^(k+1) / sqrt(k+1)
    (gsplat's double sum over i <= n, k < i collapsed by the hockey-stick identity).
    """
    n_max = binoms.shape[0]
    n = ratios.long().clamp(1, n_max)
    new_opacity = 1.0 - torch.pow(1.0 - opacities, 1.0 / n.to(opacities.dtype))
    k = torch.arange(n_max, device=opacities.device)  # k = 0 .. n_max-1, k+1 <= n
    choose = torch.tensor([[math.comb(int(a), int(b) + 1) for b in range(n_max)] for a in range(n_max + 1)],
                          dtype=opacities.dtype, device=opacities.device)[n]  # [N, n_max]: C(n, k+1)
    signs = torch.where(k % 2 == 0, 1.0, -1.0).to(opacities.dtype) / torch.sqrt((k + 1).to(opacities.dtype))
    terms = choose * signs * torch.pow(new_opacity[:, None], (k + 1).to(opacities.dtype))
    denom = torch.where(k[None] < n[:, None], terms, torch.zeros_like(terms)).sum(dim=1)
    return new_opacity, scales * (opacities / denom)[:, None]


def _replace(params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer],
             edit: Callable[[str, torch.Tensor], torch.Tensor], edit_state: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Swap every parameter for `edit(name, tensor)` and carry each Adam moment through `edit_state`."""
    for name in list(params.keys()):
        old = params[name]
        new = torch.nn.Parameter(edit(name, old.data), requires_grad=old.requires_grad)
        params[name] = new
        optimizer = optimizers.get(name)
        if optimizer is None:
            continue
        state = optimizer.state.pop(old, {})
        for key, value in list(state.items()):
            if key != "step" and isinstance(value, torch.Tensor) and value.shape[:1] == old.shape[:1]:
                state[key] = edit_state(value)
        optimizer.state[new] = state
        for group in optimizer.param_groups:
            group["params"] = [new if p is old else p for p in group["params"]]


def _split_sources(name: str, value: torch.Tensor, sources: torch.Tensor, logit: torch.Tensor,
                   log_scale: torch.Tensor) -> torch.Tensor:
    """Parameter `name` with the source Gaussians given their split opacity logit and log scale (the
    other parameters unchanged): each source and its copies keep the source's rendered footprint."""
    if name == "opacities":
        value[sources] = logit
    elif name == "scales":
        value[sources] = log_scale
    return value


@dataclass
class GroupedMCMC:
    """gsplat's MCMC densification, with dead Gaussians reborn in their own group and growth split by share.

    Attributes:
        cap_max: most Gaussians in total.
        shares: group -> wanted fraction of cap (e.g. {0: 0.6} keeps 60 % for group 0, the background).
        noise_lr: position-noise scale (times the means' learning rate), as gsplat's MCMC.
        refine_start, refine_stop, refine_every: relocation happens every `refine_every` steps in
            (refine_start, refine_stop).
        grow_stop: growth stops at this step (None: at refine_stop). Relocating past it keeps the grown
            budget in use: Gaussians that die late (opacity regularisation, containment) are reborn
            instead of being lost at export.
        min_opacity: Gaussians at or below this opacity are dead.
        grow_factor: at most this many times the current count after a growth step.
    """

    cap_max: int
    shares: dict[int, float]
    noise_lr: float = 5e5
    refine_start: int = 500
    refine_stop: int = 25_000
    refine_every: int = 100
    min_opacity: float = 0.005
    grow_factor: float = 1.05
    grow_stop: int | None = None

    def __post_init__(self) -> None:
        n_max = 51  # gsplat's table size: a Gaussian is split at most 50 ways per step
        self.binoms = torch.tensor([[math.comb(n, k) if k <= n else 0 for k in range(n_max)] for n in range(n_max)],
                                   dtype=torch.float32)

    def due(self, step: int) -> bool:
        """Whether `step` relocates and grows (the caller need only build `group` then)."""
        return self.refine_start < step < self.refine_stop and step % self.refine_every == 0

    def step(self, params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer],
             group: torch.Tensor | None, step: int, lr: float, relocation: RelocationFn | None = None) -> tuple[int, int]:
        """After the optimiser step: relocate and grow when due, then perturb positions by MCMC's noise.

        `group`: [N] group of each Gaussian (recomputed by the caller from its own labels after growth; only
        needed when `due(step)`);
        `relocation`: gsplat's `compute_relocation` (the default on CUDA), `relocation_torch` (the default
        elsewhere) or a stand-in with their signature. Position noise is gsplat's (CUDA only). Returns (relocated, added)."""
        relocated = added = 0
        if self.due(step):
            if group is None:
                raise ValueError(f"GroupedMCMC.step: step {step} relocates, so it needs each Gaussian's group")
            if relocation is None and params["means"].is_cuda:
                from gsplat.relocation import compute_relocation as relocation
            elif relocation is None:
                relocation = relocation_torch
            relocated = self._relocate(params, optimizers, group, relocation)
            if step < (self.refine_stop if self.grow_stop is None else self.grow_stop):
                added = self._grow(params, optimizers, group, relocation)
        if self.noise_lr > 0 and params["means"].is_cuda:
            from gsplat.strategy.ops import inject_noise_to_position

            inject_noise_to_position(params=params, optimizers=optimizers, state={}, scaler=lr * self.noise_lr)
        return relocated, added

    @torch.no_grad()
    def _new_values(self, params: torch.nn.ParameterDict, sources: torch.Tensor, relocation: RelocationFn) -> tuple[torch.Tensor, torch.Tensor]:
        opacities = torch.sigmoid(params["opacities"].data)
        ratios = torch.bincount(sources, minlength=opacities.numel())[sources] + 1
        new_opacity, new_scale = relocation(opacities[sources], torch.exp(params["scales"].data)[sources],
                                            ratios.to(torch.int32), self.binoms.to(opacities.device))
        eps = torch.finfo(torch.float32).eps
        return torch.logit(new_opacity.clamp(self.min_opacity, 1.0 - eps)), torch.log(new_scale)

    @torch.no_grad()
    def _relocate(self, params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer],
                  group: torch.Tensor, relocation: RelocationFn) -> int:
        opacities = torch.sigmoid(params["opacities"].data)
        dead, sources = plan_relocation(opacities, group, opacities <= self.min_opacity)
        if dead.numel() == 0:
            return 0
        logit, log_scale = self._new_values(params, sources, relocation)

        def edit(name: str, value: torch.Tensor) -> torch.Tensor:
            value = _split_sources(name, value, sources, logit, log_scale)
            value[dead] = value[sources]
            return value

        def edit_state(moment: torch.Tensor) -> torch.Tensor:
            moment[sources] = 0
            moment[dead] = 0
            return moment

        _replace(params, optimizers, edit, edit_state)
        return int(dead.numel())

    @torch.no_grad()
    def _grow(self, params: torch.nn.ParameterDict, optimizers: dict[str, torch.optim.Optimizer],
              group: torch.Tensor, relocation: RelocationFn) -> int:
        current = params["means"].shape[0]
        count = max(0, min(self.cap_max, int(self.grow_factor * current)) - current)
        if count == 0:
            return 0
        sources = plan_addition(torch.sigmoid(params["opacities"].data), group, count, self.shares)
        logit, log_scale = self._new_values(params, sources, relocation)

        def edit(name: str, value: torch.Tensor) -> torch.Tensor:
            value = _split_sources(name, value, sources, logit, log_scale)
            return torch.cat([value, value[sources]])

        def edit_state(moment: torch.Tensor) -> torch.Tensor:
            return torch.cat([moment, torch.zeros((sources.numel(), *moment.shape[1:]), dtype=moment.dtype, device=moment.device)])

        _replace(params, optimizers, edit, edit_state)
        return int(sources.numel())
