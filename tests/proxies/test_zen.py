"""Zen-score (tfnas/proxies/zen.py): the feature change of a linear network in closed form,
and the BN term from the running variances two train-mode passes leave."""

import math

import pytest
import torch
from torch import nn

from tfnas.datasets import DATASETS
from tfnas.proxies import ScoringRun, get
from tfnas.proxies.zen import MIXUP_GAMMA, zen_score
from tfnas.space import Arch


class Linear(nn.Module):
    """A 1×1 conv then the global pool zen reads at: F(x) = W x, linear."""

    def __init__(self, bn: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1, bias=False)
        self.bn = nn.BatchNorm2d(4) if bn else nn.Identity()
        self.global_pooling = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.global_pooling(self.bn(self.conv(x)))


def draws(seed: int, batch: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """The documented order: conv weight N(0, 1), then x, then ε, from one generator."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn((4, 3, 1, 1), generator=generator, dtype=torch.float64)
    x = torch.randn((batch, *shape), generator=generator, dtype=torch.float64)
    eps = torch.randn((batch, *shape), generator=generator, dtype=torch.float64)
    return weight, x, eps


def test_a_linear_network_moves_by_gamma_times_w_epsilon():
    weight, _, eps = draws(5, 6, (3, 2, 2))
    moved = torch.einsum("oi,nihw->nohw", weight[:, :, 0, 0], MIXUP_GAMMA * eps)
    expected = math.log(moved.abs().flatten(1).sum(1).mean().item())  # no BN: no BN term
    assert zen_score(Linear(), 6, (3, 2, 2), seed=5) == pytest.approx(expected, rel=1e-12)


def test_the_bn_term_uses_the_running_variance_of_two_train_mode_passes():
    weight, x, eps = draws(2, 8, (3, 3, 3))
    pre = [torch.einsum("oi,nihw->nohw", weight[:, :, 0, 0], v) for v in (x, x + 0.01 * eps)]
    running = torch.ones(4, dtype=torch.float64)
    for a in pre:  # momentum 0.1, unbiased batch variance
        running = 0.9 * running + 0.1 * a.transpose(0, 1).flatten(1).var(1, unbiased=True)
    normalised = [(a - a.mean((0, 2, 3), keepdim=True))
                  / torch.sqrt(a.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5) for a in pre]
    delta = (normalised[0] - normalised[1]).abs().flatten(1).sum(1).mean().item()
    expected = math.log(delta) + math.log(math.sqrt(running.mean().item()))
    assert zen_score(Linear(bn=True), 8, (3, 3, 3), seed=2) == pytest.approx(expected, rel=1e-9)


def test_a_cell_cut_off_from_its_input_scores_minus_inf():
    run = ScoringRun(DATASETS["ImageNet16-120"], seed=0, batch_size=4)
    assert get("zen").score(Arch(("none",) * 6), run) == -math.inf
    assert math.isfinite(get("zen").score(Arch(("nor_conv_3x3",) * 6), run))
