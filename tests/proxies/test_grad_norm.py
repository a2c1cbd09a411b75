"""grad_norm (tfnas/proxies/grad_norm.py) against the closed-form softmax-regression gradient."""

import pytest
import torch
from _tiny import batch, linear_classifier, softmax_gradient
from torch import nn

from tfnas.proxies.grad_norm import grad_norm_score


def test_equals_the_norm_of_the_closed_form_gradient():
    net, (x, y) = linear_classifier(), batch()
    expected = torch.linalg.vector_norm(softmax_gradient(net[0].weight, x, y)).item()
    assert grad_norm_score(net, x, y) == pytest.approx(expected, rel=1e-5)  # float32 pass


def test_is_a_sum_of_per_layer_norms_not_the_norm_of_the_whole_gradient():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5, bias=False), nn.Linear(5, 3, bias=False))
    x, y = batch()
    net.double()
    loss = nn.functional.cross_entropy(net(x.double()), y)
    grads = torch.autograd.grad(loss, [net[0].weight, net[1].weight])
    per_layer = sum(torch.linalg.vector_norm(g).item() for g in grads)
    whole = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item()
    assert grad_norm_score(net, x, y) == pytest.approx(per_layer, rel=1e-5)
    assert per_layer > whole * 1.01
