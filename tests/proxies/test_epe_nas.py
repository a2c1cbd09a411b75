"""EPE-NAS (tfnas/proxies/epe_nas.py) against a direct numpy implementation of the formula."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.proxies.epe_nas import K, epe_nas_from, epe_nas_score


def energies(jacobian: np.ndarray, labels: np.ndarray, per_image: bool) -> list[float]:
    out = []
    for c in np.unique(labels):
        rows = jacobian[labels == c]
        corr = np.corrcoef(rows) if len(rows) > 1 else np.ones((1, 1))
        energy = float(np.sum(np.log(np.abs(corr) + K)))
        out.append(energy / len(rows) if per_image else energy)
    return out


def test_few_classes_sum_the_absolute_energies():
    rng = np.random.default_rng(0)
    jacobian, labels = rng.normal(size=(12, 9)), np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 5])
    expected = sum(abs(e) for e in energies(jacobian, labels, per_image=False))
    got = epe_nas_from(torch.tensor(jacobian), torch.tensor(labels), num_classes=10)
    assert got == pytest.approx(expected, rel=1e-9)
    # a class seen once contributes |log(1 + k)|
    one = epe_nas_from(torch.tensor(jacobian[:1]), torch.tensor(labels[:1]), num_classes=10)
    assert one == pytest.approx(math.log(1 + K))


def test_many_classes_take_mean_pairwise_differences_of_per_image_energies():
    rng = np.random.default_rng(1)
    jacobian, labels = rng.normal(size=(10, 7)), np.array([3, 3, 3, 40, 40, 7, 7, 7, 7, 99])
    e = energies(jacobian, labels, per_image=True)
    expected = sum(abs(a - b) for a in e for b in e) / len(e)
    got = epe_nas_from(torch.tensor(jacobian), torch.tensor(labels), num_classes=120)
    assert got == pytest.approx(expected, rel=1e-9)


def test_on_a_network_and_an_undefined_correlation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Tanh(), nn.Linear(6, 4))
    x = torch.randn(8, 3, 2, 2, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    rows = []
    for image in x.double():
        image = image[None].clone().requires_grad_(True)
        net.double()(image).sum().backward()
        rows.append(image.grad.flatten().numpy())
    net.float()
    expected = sum(abs(e) for e in energies(np.array(rows), labels.numpy(), per_image=False))
    assert epe_nas_score(net, x, labels, num_classes=4) == pytest.approx(expected, rel=1e-6)
    constant = torch.zeros(4, 5, dtype=torch.float64)
    assert epe_nas_from(constant, torch.tensor([0, 0, 1, 1]), 10) == -math.inf
