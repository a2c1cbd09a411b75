"""jacov (tfnas/proxies/jacov.py): closed forms of the eigenvalue score, and brute-force
per-image Jacobians."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.proxies.jacov import K, jacov_from, jacov_score


def eigen_score(jacobian: np.ndarray) -> float:
    """−Σ [log(λ + k) + 1/(λ + k)] with numpy's corrcoef and eigvalsh (independent)."""
    lam = np.linalg.eigvalsh(np.corrcoef(jacobian))
    return float(-np.sum(np.log(lam + K) + 1 / (lam + K)))


def test_uncorrelated_rows_score_the_maximum_and_identical_rows_the_minimum():
    n = 6
    eye = np.eye(n, 8) - np.eye(n, 8).mean(1, keepdims=True)  # rows with zero correlation
    assert jacov_from(torch.tensor(eye)) == pytest.approx(eigen_score(eye), rel=1e-9)
    # corr = I: λ = 1 n times
    orthogonal = np.linalg.qr(np.random.default_rng(0).normal(size=(20, n)))[0].T
    centred = orthogonal - orthogonal.mean(1, keepdims=True)
    expected = -sum(math.log(lam + K) + 1 / (lam + K)
                    for lam in np.linalg.eigvalsh(np.corrcoef(centred)))
    assert jacov_from(torch.tensor(centred)) == pytest.approx(expected, rel=1e-9)
    # identical rows: corr = all ones, λ = n once and 0 n−1 times
    same = np.tile(np.arange(8.0), (n, 1))
    closed = -(math.log(n + K) + 1 / (n + K) + (n - 1) * (math.log(K) + 1 / K))
    assert jacov_from(torch.tensor(same)) == pytest.approx(closed, rel=1e-6)
    assert jacov_from(torch.zeros(n, 8, dtype=torch.float64)) == -math.inf  # constant rows


def test_the_jacobian_is_the_per_image_input_gradient_of_the_summed_logits():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.randn(7, 3, 2, 2, generator=torch.Generator().manual_seed(3))
    rows = []
    for image in x.double():  # no BN: images are independent, one at a time
        image = image[None].clone().requires_grad_(True)
        net.double()(image).sum().backward()
        rows.append(image.grad.flatten().numpy())
    net.float()
    assert jacov_score(net, x) == pytest.approx(eigen_score(np.array(rows)), rel=1e-6)
