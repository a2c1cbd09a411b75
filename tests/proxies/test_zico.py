"""ZiCo (tfnas/proxies/zico.py) against the closed-form softmax-regression gradients of each
half batch, with the reference's statistics written out in numpy."""

import math

import numpy as np
import pytest
import torch
from _tiny import batch, linear_classifier, softmax_gradient
from torch import nn

from tfnas.proxies.zico import zico_score


def reference(per_batch_gradients: list[np.ndarray]) -> float:
    """log Σ mean|g| / std(g) over the weights whose std (ddof 0) across batches is not 0."""
    g = np.stack([grad.ravel() for grad in per_batch_gradients])
    std = g.std(axis=0)
    keep = std != 0
    return math.log((np.abs(g).mean(axis=0)[keep] / std[keep]).sum())


def test_equals_the_statistics_of_the_two_half_batch_gradients():
    net, (x, y) = linear_classifier(), batch(n=10)
    w = net[0].weight.detach()
    halves = [softmax_gradient(w, x[:5], y[:5]).numpy(), softmax_gradient(w, x[5:], y[5:]).numpy()]
    assert zico_score(net, x, y) == pytest.approx(reference(halves), rel=1e-9)
    # with two batches, mean|g| / std g = (|a| + |b|) / |a − b| per weight
    a, b = halves
    assert zico_score(net, x, y) == pytest.approx(
        math.log(((np.abs(a) + np.abs(b)) / np.abs(a - b)).sum()), rel=1e-9)


def test_weights_whose_gradient_does_not_vary_are_left_out():
    net, (x, y) = linear_classifier(seed=2), batch(n=8, seed=3)
    x[:, 0] = 0.0  # feature 0 is zero everywhere: its weights' gradients are 0 in both halves
    w = net[0].weight.detach()
    halves = [softmax_gradient(w, x[:4], y[:4]).numpy(), softmax_gradient(w, x[4:], y[4:]).numpy()]
    assert (halves[0][:, 0] == 0).all() and (halves[1][:, 0] == 0).all()
    score = zico_score(net, x, y)
    assert math.isfinite(score) and score == pytest.approx(reference(halves), rel=1e-9)


class WithUnusedLayer(nn.Module):
    """A classifier beside a Linear the loss never reaches (its gradient is 0 in every batch)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.used, self.unused = nn.Linear(6, 3, bias=False), nn.Linear(6, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_a_layer_the_loss_never_reaches_adds_nothing_instead_of_minus_infinity():
    net, (x, y) = WithUnusedLayer(), batch(n=8, seed=6)
    w = net.used.weight.detach()
    halves = [softmax_gradient(w, x[:4], y[:4]).numpy(), softmax_gradient(w, x[4:], y[4:]).numpy()]
    assert zico_score(net, x, y) == pytest.approx(reference(halves), rel=1e-9)


def test_no_varying_gradient_at_all_is_minus_infinity():
    """A cell whose output is cut off from its input (every edge into node 3 is none): the
    classifier sees the same features for every image, so no gradient varies between batches
    (the reference code returns 0 here: the same place in a ranking, the lowest)."""
    from tfnas.datasets import DATASETS
    from tfnas.network import build_network
    from tfnas.space import Arch

    spec = DATASETS["ImageNet16-120"]
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(7))
    y = torch.arange(8)
    cut = Arch(("nor_conv_3x3", "avg_pool_3x3", "avg_pool_3x3", "none", "none", "none"))
    assert zico_score(build_network(cut, spec.num_classes, seed=0), x, y) == -math.inf
    linked = Arch(("nor_conv_3x3", "avg_pool_3x3", "avg_pool_3x3", "none", "none", "skip_connect"))
    assert math.isfinite(zico_score(build_network(linked, spec.num_classes, seed=0), x, y))


def test_a_single_image_cannot_be_split_into_two_batches():
    net, (x, y) = linear_classifier(), batch(n=1)
    with pytest.raises(ValueError, match="zico splits the batch into 2 batches: it needs at "
                                         "least 2 images, got 1; raise --batch-size"):
        zico_score(net, x, y)
