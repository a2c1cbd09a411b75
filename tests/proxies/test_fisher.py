"""Fisher (tfnas/proxies/fisher.py) against explicit autograd on each layer's output."""

import pytest
import torch
from _tiny import batch
from torch import nn

from tfnas.proxies.fisher import fisher_score


def test_equals_fan_in_times_half_mean_squared_channel_saliency():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 4, bias=False), nn.ReLU(), nn.Linear(4, 3, bias=False))
    x, y = batch(n=10)
    w1, w2 = (net[i].weight.detach().double() for i in (0, 2))
    a1 = (x.double() @ w1.T).requires_grad_(True)  # the first layer's output
    a2 = torch.relu(a1) @ w2.T  # the logits
    loss = nn.functional.cross_entropy(a2, y)
    g1, g2 = torch.autograd.grad(loss, [a1, a2])
    expected = 6 * (0.5 * (a1 * g1).pow(2).mean(0)).sum() + 4 * (0.5 * (a2 * g2).pow(2).mean(0)
                                                                  ).sum()
    assert fisher_score(net, x, y) == pytest.approx(expected.item(), rel=1e-4)  # float32 pass


def test_a_conv_layer_sums_its_saliency_over_positions():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.Flatten(),
                        nn.Linear(3 * 4 * 4, 5, bias=False))
    generator = torch.Generator().manual_seed(2)
    x, y = torch.randn(6, 2, 4, 4, generator=generator), torch.randint(0, 5, (6,),
                                                                       generator=generator)
    conv = net[0].double()
    a = conv(x.double()).detach().requires_grad_(True)
    logits = nn.Flatten()(a) @ net[2].weight.detach().double().T
    g, g_logits = torch.autograd.grad(nn.functional.cross_entropy(logits, y), [a, logits])
    s = (a * g).sum((2, 3))
    expected = 2 * 3 * 3 * (0.5 * s.pow(2).mean(0)).sum() + 48 * (
        0.5 * (logits * g_logits).pow(2).mean(0)).sum()
    net.float()
    assert fisher_score(net, x, y) == pytest.approx(expected.item(), rel=1e-4)
