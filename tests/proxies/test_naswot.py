"""NASWOT (tfnas/proxies/naswot.py): the kernel by brute force, −inf cases, the fast path."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.datasets import DATASETS, Batch
from tfnas.network import build_network
from tfnas.proxies import ScoringRun, get
from tfnas.proxies.naswot import naswot_kernel, naswot_score
from tfnas.space import Arch

MIXED = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
         "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
CONVS = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+"
         "|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")


def _batch(n: int = 10, side: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(seed))


def _brute_force_naswot(net: nn.Module, batch: torch.Tensor) -> float:
    """Concatenate every ReLU input's sign pattern, then N_A − Hamming, pair by pair."""
    codes = []
    hooks = [m.register_forward_hook(lambda m, i, o: codes.append(i[0].flatten(1) > 0))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()
    with torch.no_grad():
        net(batch)
    for h in hooks:
        h.remove()
    c = torch.cat(codes, dim=1).numpy()
    n, units = c.shape
    k = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            k[i, j] = units - np.count_nonzero(c[i] != c[j])
    sign, logdet = np.linalg.slogdet(k)
    assert sign > 0
    return logdet


def test_naswot_matches_brute_force_hamming_kernel():
    net = build_network(CONVS, 10, seed=0)
    batch = _batch()
    assert naswot_score(net, batch) == pytest.approx(_brute_force_naswot(net, batch), rel=1e-10)


def test_naswot_kernel_diagonal_counts_relu_units():
    net = build_network(MIXED, 10, seed=0)
    kernel = naswot_kernel(net, _batch(4, 8))
    # ReLU inputs on an 8×8 image: 15 cells × 2 conv ops at 16·8², 32·4², 64·2² (5 each),
    # reductions: conv_a reads 16·8² / 32·4², conv_b 32·4² / 64·2², lastact 64·2².
    units = 2 * 5 * (16 * 64 + 32 * 16 + 64 * 4) + (16 * 64 + 32 * 16) + (32 * 16 + 64 * 4) + 64 * 4
    assert torch.all(kernel.diagonal() == units)
    assert torch.equal(kernel, kernel.T)


def test_naswot_singular_kernel_is_minus_inf():
    # All-none cells zero every feature map: every image gets the same code.
    assert naswot_score(build_network(Arch(("none",) * 6), 10, seed=0), _batch()) == -math.inf
    # Two identical images → two identical rows of K.
    batch = _batch()
    batch[1] = batch[0]
    assert naswot_score(build_network(CONVS, 10, seed=0), batch) == -math.inf


def test_naswot_is_deterministic_per_seed_and_differs_across_seeds():
    batch = _batch(16, 16)
    a = naswot_score(build_network(CONVS, 10, seed=0), batch)
    b = naswot_score(build_network(CONVS, 10, seed=0), batch)
    c = naswot_score(build_network(CONVS, 10, seed=1), batch)
    assert a == b
    assert a != c
    assert math.isfinite(a) and math.isfinite(c)


def test_naswot_rejects_non_finite_batches():
    batch = _batch()
    batch[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        naswot_score(build_network(CONVS, 10, seed=0), batch)


def test_naswot_kernel_reuses_codes_only_for_the_same_unmodified_tensor():
    class TwoReads(nn.Module):
        """Two ReLUs read x; then x changes in place and a third ReLU reads it."""

        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.ReLU(), nn.ReLU(), nn.ReLU()

        def forward(self, x):
            x = x.clone()
            self.a(x), self.b(x)
            x.add_(0.5)
            return self.c(x)

    batch = _batch(6, 4)
    codes = (batch.flatten(1) > 0).double()
    shifted = (batch.flatten(1) + 0.5 > 0).double()

    def k(c):
        return c @ c.T + (1 - c) @ (1 - c).T

    assert torch.equal(naswot_kernel(TwoReads(), batch), 2 * k(codes) + k(shifted))
    assert not torch.equal(k(codes), k(shifted))


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_the_fast_path_is_the_built_network_s_score(dataset):
    spec = DATASETS[dataset]
    side = spec.image_size
    images = _batch(12, side, seed=4)
    run = ScoringRun(spec, 2, "cpu", Batch(images, torch.zeros(12, dtype=torch.long), "t"))
    archs = [Arch.from_str(MIXED), Arch.from_str(CONVS), Arch(("none",) * 6),
             Arch(("none", "nor_conv_3x3", "none", "none", "nor_conv_3x3", "none"))]
    proxy = get("naswot")
    fast = proxy.score_many(archs, run)
    for arch, score in zip(archs, fast, strict=True):
        plain = proxy.score(arch, run)
        assert score == plain or abs(score - plain) <= 1e-6 * abs(plain)
        assert plain == naswot_score(build_network(arch, spec.num_classes, seed=2), images)
