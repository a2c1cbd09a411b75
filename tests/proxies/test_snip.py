"""SNIP (tfnas/proxies/snip.py) against the closed-form gradient and the mask definition."""

import pytest
import torch
from _tiny import batch, linear_classifier, softmax_gradient

from tfnas.proxies.snip import snip_score


def test_equals_the_closed_form_connection_sensitivity():
    net, (x, y) = linear_classifier(), batch()
    w = net[0].weight.detach().double()
    expected = (w * softmax_gradient(w, x, y)).abs().sum().item()
    assert snip_score(net, x, y) == pytest.approx(expected, rel=1e-5)


def test_equals_the_gradient_of_a_mask_of_ones():
    """Lee et al. define SNIP through a mask M = 1 on every weight: |∂L/∂M|."""
    net, (x, y) = linear_classifier(seed=3), batch(seed=4)
    w = net[0].weight.detach().double()
    mask = torch.ones_like(w, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(x.double() @ (w * mask).T, y)
    (dmask,) = torch.autograd.grad(loss, mask)
    assert snip_score(net, x, y) == pytest.approx(dmask.abs().sum().item(), rel=1e-5)
