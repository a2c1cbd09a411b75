import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.network import build_network
from tfnas.proxies import naswot_score, synflow_score
from tfnas.proxies.naswot import naswot_kernel
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


def test_synflow_on_linear_chain_equals_closed_form():
    torch.manual_seed(0)
    widths = [5, 7, 4, 3]
    chain = nn.Sequential(
        nn.Linear(5, 7, bias=False), nn.BatchNorm1d(7), nn.ReLU(),
        nn.Linear(7, 4, bias=False), nn.ReLU(),
        nn.Linear(4, 3, bias=False),
    )
    ws = [np.abs(m.weight.detach().double().numpy()) for m in chain if isinstance(m, nn.Linear)]
    # R = 1ᵀ|W3||W2||W1|1; for layer l, Σ θ⊙∂R/∂θ = Σ_ij (1ᵀ…)_i |W_l|_ij (…1)_j = R.
    r = np.ones(widths[-1]) @ ws[2] @ ws[1] @ ws[0] @ np.ones(widths[0])
    assert synflow_score(chain, (5,)) == pytest.approx(math.log(3 * r), rel=1e-12)
    # the original module is untouched (BN still there, weights still signed)
    assert isinstance(chain[1], nn.BatchNorm1d)
    assert (chain[0].weight < 0).any()


def test_synflow_per_weight_term_by_hand():
    lin1 = nn.Linear(2, 2, bias=False)
    lin2 = nn.Linear(2, 1, bias=True)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        lin2.weight.copy_(torch.tensor([[-1.0, 2.0]]))
        lin2.bias.fill_(-4.0)
    # |W1|1 = [3, 3.5]; R = |W2|·[3, 3.5] + |b| = 3 + 7 + 4 = 14
    # layer 1: Σ |W1|_ij |W2|_i 1 = 1·3 + 2·3.5 = 10 ; layer 2: Σ |W2|_i h_i = 10 (bias excluded)
    assert synflow_score(nn.Sequential(lin1, lin2), (2,)) == pytest.approx(math.log(20.0))


def test_synflow_zero_flow_is_minus_inf_and_real_arch_is_finite():
    assert synflow_score(build_network(Arch(("none",) * 6), 10, seed=0), (3, 8, 8)) == -math.inf
    a = synflow_score(build_network(CONVS, 10, seed=0), (3, 32, 32))
    b = synflow_score(build_network(CONVS, 10, seed=0), (3, 32, 32))
    assert math.isfinite(a) and a == b
    # more conv edges → more paths → more flow, for the same seed
    assert synflow_score(build_network(Arch(("nor_conv_3x3",) * 6), 10, seed=0), (3, 32, 32)) > a


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
