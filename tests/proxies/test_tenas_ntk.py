"""TE-NAS's NTK condition number (tfnas/proxies/tenas_ntk.py) against closed forms: for logits
W x the Jacobian of Σ_c logit_c with respect to W is 1 xᵀ, so Θ = C · X Xᵀ; for a two-layer
ReLU network the Jacobian is checked against finite differences."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.network import build_network
from tfnas.proxies.tenas_ntk import DEPTH, SAMPLES, WIDTH, ntk_condition_number


def test_linear_logits_give_the_condition_number_of_the_gram_matrix():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(6, 3)).double()  # the bias is not a 'weight': left out
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gram = 3 * x.numpy() @ x.numpy().T
    eigenvalues = np.linalg.eigvalsh(gram)
    assert ntk_condition_number(network, x) == pytest.approx(eigenvalues[-1] / eigenvalues[0],
                                                             rel=1e-9)
    assert ntk_condition_number(network, torch.cat([x, x[:1]])) == math.inf  # rank-deficient


def test_a_relu_network_matches_finite_differences():
    torch.manual_seed(0)
    network = nn.Sequential(nn.Linear(3, 5, bias=False), nn.ReLU(),
                            nn.Linear(5, 2, bias=False)).double()
    x = torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    params = torch.nn.utils.parameters_to_vector(network.parameters()).detach()
    rows = []
    for i in range(len(x)):
        def summed(v, i=i):
            torch.nn.utils.vector_to_parameters(v, network.parameters())
            return network(x[i:i + 1]).sum().item()
        step, row = 1e-6, []
        for k in range(len(params)):
            e = torch.zeros_like(params)
            e[k] = step
            row.append((summed(params + e) - summed(params - e)) / (2 * step))
        rows.append(row)
    torch.nn.utils.vector_to_parameters(params, network.parameters())
    jacobian = np.array(rows)
    eigenvalues = np.linalg.eigvalsh(jacobian @ jacobian.T)
    assert ntk_condition_number(network, x) == pytest.approx(eigenvalues[-1] / eigenvalues[0],
                                                             rel=1e-5)


def test_the_scored_network_is_tenas_narrow_copy():
    network = build_network("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
                            10, width=WIDTH, depth=DEPTH)
    assert (WIDTH, DEPTH, SAMPLES) == (3, 1, 72)
    assert network.stem[0].out_channels == 3 and network.classifier.in_features == 12
    assert len(network.cells) == 3 + 2  # one cell per stage and the two reductions
