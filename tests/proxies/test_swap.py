"""SWAP (tfnas/proxies/swap.py) against activation patterns enumerated by brute force: a
network of 1×1 convolutions and train-mode BN written out in numpy, every neuron's bits over
the images collected into a Python set."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.proxies._reinit import gaussian_weights
from tfnas.proxies.swap import activation_patterns, swap_score


def tiny_network(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 5, 1, bias=False), nn.BatchNorm2d(5), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(5, 3), nn.ReLU(),  # 2-D: not counted
    ).double().train()


def images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, 3, 2, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def brute_force(network: nn.Sequential, x: torch.Tensor) -> int:
    """Every pattern of the two feature-map ReLUs, computed in numpy and counted as a set."""
    h = x.numpy().transpose(0, 2, 3, 1)  # N, H, W, C
    patterns = set()
    for conv, bn in ((network[0], network[1]), (network[3], network[4])):
        h = h @ conv.weight.detach().numpy()[:, :, 0, 0].T
        mean, var = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))  # train mode: batch stats
        h = (h - mean) / np.sqrt(var + bn.eps) * bn.weight.detach().numpy() \
            + bn.bias.detach().numpy()
        h = np.maximum(h, 0)
        bits = (h > 0).reshape(len(x), -1)  # one column per neuron (position, channel)
        patterns |= {tuple(column) for column in bits.T}
    return len(patterns)


@pytest.mark.parametrize("n", [5, 16, 24])  # 24 > 20: counted by torch.unique, not a table
def test_patterns_equal_the_brute_force_count(n):
    net, x = tiny_network(), images(n)
    assert activation_patterns(net, x) == brute_force(net, x)
    assert 1 < brute_force(net, x) <= 2 * 3 * (4 + 5)  # distinct, at most one per neuron


def test_score_is_the_mean_over_gaussian_redraws():
    net, x = tiny_network(), images(16)
    generator, counts = torch.Generator().manual_seed(7), []
    replica = copy.deepcopy(net)
    for _ in range(3):
        gaussian_weights(replica, generator)
        assert replica[0].weight.std().item() == pytest.approx(1.0, abs=0.6)  # N(0, 1)
        assert (replica[1].weight == 1).all() and (replica[8].bias == 0).all()
        counts.append(brute_force(replica, x))
    assert swap_score(net, x, seed=7, repeats=3) == pytest.approx(np.mean(counts), abs=1e-12)
    assert len(set(counts)) > 1  # the redraws differ


def test_only_the_first_sixteen_images_count():
    net, x = tiny_network(), images(20)
    changed = x.clone()
    changed[16:] = torch.randn(4, 3, 3, 2, dtype=torch.float64)
    assert swap_score(net, x, repeats=2) == swap_score(net, changed, repeats=2)
    changed[0] = -changed[0]
    assert swap_score(net, x, repeats=2) != swap_score(net, changed, repeats=2)


def test_silent_network_has_one_pattern_and_too_many_images_are_refused():
    net = tiny_network()
    with torch.no_grad():
        net[4].bias.fill_(-100.0)  # every neuron of the second ReLU off
        net[1].bias.fill_(-100.0)
    assert activation_patterns(net, images(8)) == 1
    with pytest.raises(ValueError, match="63 bits; got 63 images"):
        activation_patterns(net, images(63))
