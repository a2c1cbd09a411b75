"""l2_norm (tfnas/proxies/l2_norm.py): Σ ‖W‖_F of the conv/linear weights, nothing else."""

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.datasets import DATASETS
from tfnas.network import build_network
from tfnas.proxies import ScoringRun, get
from tfnas.proxies.l2_norm import l2_norm_score
from tfnas.space import Arch


def test_sums_the_frobenius_norms_of_conv_and_linear_weights_only():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    expected = sum(np.linalg.norm(m.weight.detach().numpy().ravel())
                   for m in (net[0], net[3]))  # biases and BN weights excluded
    assert l2_norm_score(net) == pytest.approx(expected, rel=1e-6)


def test_is_data_free_and_grows_with_conv_edges():
    run = ScoringRun(DATASETS["cifar10"], seed=3)
    small = get("l2_norm").score(Arch(("skip_connect",) * 6), run)
    large = get("l2_norm").score(Arch(("nor_conv_3x3",) * 6), run)
    assert large > small > 0
    assert small == l2_norm_score(build_network(Arch(("skip_connect",) * 6), 10, seed=3))
