"""GraSP (tfnas/proxies/grasp.py): −W ⊙ Hg against central finite differences of the gradient."""

import pytest
import torch
from _tiny import batch, softmax_gradient
from torch import nn

from tfnas.proxies.grasp import grasp_score


def test_equals_minus_w_times_a_finite_difference_hessian_vector_product():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3, bias=False))
    x, y = batch()
    w = net[0].weight.detach().double()
    g = softmax_gradient(w, x, y)
    eps = 1e-5  # Hg ≈ (∇L(W + εg) − ∇L(W − εg)) / 2ε
    hg = (softmax_gradient(w + eps * g, x, y) - softmax_gradient(w - eps * g, x, y)) / (2 * eps)
    expected = (-w * hg).sum().item()
    assert grasp_score(net, x, y) == pytest.approx(expected, rel=1e-6)


def test_two_layers_against_finite_differences_through_autograd_gradients():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 4, bias=False), nn.Tanh(), nn.Linear(4, 3, bias=False))
    x, y = batch(seed=2)
    weights = [net[0].weight, net[2].weight]

    def gradient(shift: float, direction: list[torch.Tensor]) -> list[torch.Tensor]:
        model = nn.Sequential(nn.Linear(6, 4, bias=False), nn.Tanh(),
                              nn.Linear(4, 3, bias=False)).double()
        with torch.no_grad():
            for target, w, d in zip((model[0].weight, model[2].weight), weights, direction,
                                    strict=True):
                target.copy_(w.double() + shift * d)
        loss = nn.functional.cross_entropy(model(x.double()), y)
        return list(torch.autograd.grad(loss, [model[0].weight, model[2].weight]))

    g = gradient(0.0, [torch.zeros_like(w, dtype=torch.float64) for w in weights])
    eps = 1e-5
    plus, minus = gradient(eps, g), gradient(-eps, g)
    expected = sum((-w.double() * (p - m) / (2 * eps)).sum().item()
                   for w, p, m in zip(weights, plus, minus, strict=True))
    assert grasp_score(net, x, y) == pytest.approx(expected, rel=1e-6)
