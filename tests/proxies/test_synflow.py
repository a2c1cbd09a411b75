"""Synflow (tfnas/proxies/synflow.py): closed forms on linear chains, −inf, the fast path."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.datasets import DATASETS
from tfnas.network import build_network
from tfnas.proxies import ScoringRun, get
from tfnas.proxies.synflow import synflow_score
from tfnas.space import Arch

CONVS = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+"
         "|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")


def test_synflow_on_linear_chain_equals_closed_form():
    torch.manual_seed(0)
    widths = [5, 7, 4, 3]
    chain = nn.Sequential(
        nn.Linear(5, 7, bias=False), nn.BatchNorm1d(7), nn.ReLU(),
        nn.Linear(7, 4, bias=False), nn.ReLU(),
        nn.Linear(4, 3, bias=False),
    )
    ws = [np.abs(m.weight.detach().double().numpy()) for m in chain if isinstance(m, nn.Linear)]
    # R = 1ᵀ|W3||W2||W1|1; for layer l, Σ θ⊙∂R/∂θ = Σ_ij (1ᵀ…)_i |W_l|_ij (…1)_j = R.
    r = np.ones(widths[-1]) @ ws[2] @ ws[1] @ ws[0] @ np.ones(widths[0])
    assert synflow_score(chain, (5,)) == pytest.approx(math.log(3 * r), rel=1e-12)
    # the original module is untouched (BN still there, weights still signed)
    assert isinstance(chain[1], nn.BatchNorm1d)
    assert (chain[0].weight < 0).any()


def test_synflow_per_weight_term_by_hand():
    lin1 = nn.Linear(2, 2, bias=False)
    lin2 = nn.Linear(2, 1, bias=True)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        lin2.weight.copy_(torch.tensor([[-1.0, 2.0]]))
        lin2.bias.fill_(-4.0)
    # |W1|1 = [3, 3.5]; R = |W2|·[3, 3.5] + |b| = 3 + 7 + 4 = 14
    # layer 1: Σ |W1|_ij |W2|_i 1 = 1·3 + 2·3.5 = 10 ; layer 2: Σ |W2|_i h_i = 10 (bias excluded)
    assert synflow_score(nn.Sequential(lin1, lin2), (2,)) == pytest.approx(math.log(20.0))


def test_synflow_zero_flow_is_minus_inf_and_real_arch_is_finite():
    assert synflow_score(build_network(Arch(("none",) * 6), 10, seed=0), (3, 8, 8)) == -math.inf
    a = synflow_score(build_network(CONVS, 10, seed=0), (3, 32, 32))
    b = synflow_score(build_network(CONVS, 10, seed=0), (3, 32, 32))
    assert math.isfinite(a) and a == b
    # more conv edges → more paths → more flow, for the same seed
    assert synflow_score(build_network(Arch(("nor_conv_3x3",) * 6), 10, seed=0), (3, 32, 32)) > a


@pytest.mark.parametrize("dataset", ["cifar100", "ImageNet16-120"])
def test_the_fast_path_is_the_built_network_s_score(dataset):
    spec = DATASETS[dataset]
    run = ScoringRun(spec, 5, "cpu", None)
    archs = [Arch.from_str(CONVS), Arch(("none",) * 6), Arch(("skip_connect",) * 6),
             Arch(("avg_pool_3x3", "nor_conv_1x1", "none", "skip_connect", "none",
                   "nor_conv_3x3"))]
    proxy = get("synflow")
    for arch, score in zip(archs, proxy.score_many(archs, run), strict=True):
        plain = proxy.score(arch, run)
        assert score == plain or abs(score - plain) <= 1e-9 * abs(plain)
        net = build_network(arch, spec.num_classes, seed=5)
        assert plain == synflow_score(net, run.input_shape)
