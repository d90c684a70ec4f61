"""Grouped MCMC densification: sampling plans, eq. 9 of the MCMC paper in torch, and a CPU step."""
from __future__ import annotations

import math

import pytest
import torch

from recon_carla_bridge.recon.densify import GroupedMCMC, plan_addition, plan_relocation, relocation_torch


def _double_sum_relocation(opacity: float, scale: float, n: int) -> tuple[float, float]:
    """gsplat's kernel, literally: the double sum over i <= n and k < i."""
    new = 1.0 - (1.0 - opacity) ** (1.0 / n)
    denom = sum(math.comb(i - 1, k) * (-1) ** k / math.sqrt(k + 1) * new ** (k + 1) for i in range(1, n + 1) for k in range(i))
    return new, scale * opacity / denom


@pytest.mark.parametrize("opacity,n", [(0.3, 1), (0.9, 2), (0.5, 5), (0.99, 12), (0.7, 51)])
def test_relocation_in_torch_matches_the_papers_double_sum(opacity: float, n: int) -> None:
    binoms = GroupedMCMC(10, {}).binoms
    new_o, new_s = relocation_torch(torch.tensor([opacity]), torch.full((1, 3), 0.2), torch.tensor([n]), binoms)
    want_o, want_s = _double_sum_relocation(opacity, 0.2, n)
    assert float(new_o[0]) == pytest.approx(want_o, rel=1e-4)
    assert float(new_s[0, 0]) == pytest.approx(want_s, rel=1e-3)
    if n == 1:  # a Gaussian not split keeps its opacity and size
        assert float(new_o[0]) == pytest.approx(opacity) and float(new_s[0, 1]) == pytest.approx(0.2)


def test_dead_gaussians_are_reborn_in_their_own_group() -> None:
    group = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    opacity = torch.tensor([0.001, 0.5, 0.2, 0.001, 0.001, 0.9, 0.1])
    generator = torch.Generator().manual_seed(0)
    dead, sources = plan_relocation(opacity, group, opacity <= 0.005, generator)
    assert sorted(dead.tolist()) == [0, 3, 4]
    for d, s in zip(dead.tolist(), sources.tolist()):
        assert group[d] == group[s] and opacity[s] > 0.005
    lonely = torch.tensor([0, 1, 1])  # group 0 has no live member: it borrows from the live ones
    dead, sources = plan_relocation(torch.tensor([0.001, 0.4, 0.5]), lonely, torch.tensor([True, False, False]), generator)
    assert dead.tolist() == [0] and sources.tolist()[0] in (1, 2)


def test_new_gaussians_go_to_the_group_below_its_share() -> None:
    group = torch.tensor([0] * 20 + [1] * 80)  # background holds 20 % and wants 60 %
    opacity = torch.cat([torch.full((20,), 0.1), torch.full((80,), 0.9)])
    sources = plan_addition(opacity, group, 30, {0: 0.6}, torch.Generator().manual_seed(0))
    assert sources.numel() == 30 and bool((group[sources] == 0).all())
    balanced = torch.tensor([0] * 70 + [1] * 30)  # background already above its share: growth goes to actors
    sources = plan_addition(torch.full((100,), 0.5), balanced, 10, {0: 0.6}, torch.Generator().manual_seed(0))
    assert bool((balanced[sources] == 1).all())


def _gaussian_params(n: int) -> torch.nn.ParameterDict:
    """n live Gaussians (opacity 0.5) with random centres and orientations."""
    return torch.nn.ParameterDict({
        "means": torch.nn.Parameter(torch.randn(n, 3)),
        "scales": torch.nn.Parameter(torch.full((n, 3), -2.0)),
        "quats": torch.nn.Parameter(torch.nn.functional.normalize(torch.randn(n, 4), dim=1)),
        "opacities": torch.nn.Parameter(torch.full((n,), 0.0)),
    })


def test_a_grouped_mcmc_step_relocates_and_grows_with_the_optimiser_state() -> None:
    torch.manual_seed(0)
    params = _gaussian_params(40)
    params["owner"] = torch.nn.Parameter(torch.tensor([0] * 10 + [1] * 30), requires_grad=False)
    params["opacities"].data[:5] = -10.0  # five dead background Gaussians
    optimizers = {k: torch.optim.Adam([params[k]], lr=1e-3) for k in ("means", "scales", "quats", "opacities")}
    sum(p.sum() for k, p in params.items() if k != "owner").backward()
    for opt in optimizers.values():
        opt.step()
    densifier = GroupedMCMC(cap_max=50, shares={0: 0.6}, noise_lr=0.0, refine_start=0, refine_stop=100, refine_every=10)
    group = (params["owner"] == 1).long()
    relocated, added = densifier.step(params, optimizers, group, step=10, lr=1e-3)
    assert relocated == 5 and added == 2  # 5 % growth of 40
    assert params["means"].shape == (42, 3) and params["owner"].shape == (42,)
    assert bool((torch.sigmoid(params["opacities"]) > 0.005).all())
    assert bool((params["owner"][:5] == 0).all()) and bool((params["owner"][40:] == 0).all())  # grown: background first
    for name, opt in optimizers.items():
        assert opt.param_groups[0]["params"][0] is params[name]
        assert opt.state[params[name]]["exp_avg"].shape[0] == 42
    assert densifier.step(params, optimizers, (params["owner"] == 1).long(), step=11, lr=1e-3) == (0, 0)  # not due


def test_relocation_goes_on_after_growth_stops() -> None:
    """Past `grow_stop` dead Gaussians are still reborn (the budget stays in use) but nothing is added."""
    n = 20
    params = _gaussian_params(n)
    params["opacities"].data[:4] = -10.0
    optimizers = {k: torch.optim.Adam([params[k]], lr=1e-3) for k in params}
    densifier = GroupedMCMC(cap_max=100, shares={0: 1.0}, noise_lr=0.0, refine_start=0, refine_stop=100,
                            refine_every=10, grow_stop=50)
    group = torch.zeros(n, dtype=torch.long)
    assert densifier.step(params, optimizers, group, step=60, lr=1e-3) == (4, 0)
    assert params["means"].shape[0] == n and bool((torch.sigmoid(params["opacities"]) > 0.005).all())
    params["opacities"].data[:3] = -10.0
    assert densifier.step(params, optimizers, group, step=40, lr=1e-3) == (3, 1)  # before grow_stop: 5 % growth
    assert not densifier.due(100)  # relocation ends at refine_stop
