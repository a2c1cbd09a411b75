"""The fast path of NASWOT and Synflow (tfnas/proxies/_engine.py) against the proxies on
built networks: same weights, same scores, alone or grouped."""

import math

import pytest
import torch

from tfnas.init_weights import InitStream, layers
from tfnas.network import build_network
from tfnas.proxies._engine import Group, live_cell, naswot_kernels, synflow_sums
from tfnas.proxies.naswot import kernel_logdet, naswot_kernel
from tfnas.proxies.synflow import synflow_sum
from tfnas.space import Arch

ARCHS = [
    # every op, several convs reading node 0 (codes counted with multiplicity)
    Arch(("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect",
          "nor_conv_1x1")),
    # node 1 is exactly zero: the convs 1→2 and 1→3 read zeros (all-0 codes)
    Arch(("none", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "nor_conv_1x1", "skip_connect")),
    # node 3 only reads zero nodes: every cell outputs 0, everything after cell 0 is 0
    Arch(("none", "nor_conv_3x3", "none", "none", "nor_conv_3x3", "none")),
    Arch(("skip_connect", "avg_pool_3x3", "nor_conv_1x1", "skip_connect", "none",
          "nor_conv_3x3")),
    Arch(("none",) * 6),
]


def _batch(n: int = 12, side: int = 8) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def _close(a: float, b: float, rel: float) -> bool:
    return a == b if math.isinf(a) or math.isinf(b) else abs(a - b) <= rel * abs(b)


@pytest.mark.parametrize(("seed", "classes"), [(0, 10), (7, 120)])
def test_init_stream_gives_build_networks_weights(seed, classes):
    stream = InitStream(seed, classes)
    for arch in ARCHS[:4]:
        net = build_network(arch, classes, seed=seed)
        drawn = [t for name, t in net.state_dict().items()
                 if t.dim() == 4 or name.startswith("classifier")]
        mine = [stream.weight(layer) for layer in layers(arch, classes).values()]
        assert [t.shape for t in mine] == [t.shape for t in drawn]
        assert all(torch.equal(a, b) for a, b in zip(mine, drawn, strict=True))
        assert all(torch.equal(stream.abs64(layer), stream.weight(layer).abs().double())
                   for layer in layers(arch, classes).values())


def test_live_cell_drops_reads_of_zero_nodes():
    ops, dead, zero = live_cell(ARCHS[1].ops, input_is_zero=False)
    assert ops == ("none", "nor_conv_1x1", "none", "avg_pool_3x3", "none", "skip_connect")
    assert dead == [0, 2, 0] and not zero
    ops, dead, zero = live_cell(ARCHS[2].ops, input_is_zero=False)
    assert ops == ("none", "nor_conv_3x3") + ("none",) * 4 and dead == [0, 1, 0] and zero
    ops, dead, zero = live_cell(ARCHS[2].ops, input_is_zero=True)
    assert ops == ("none",) * 6 and dead == [1, 1, 0] and zero


@pytest.mark.parametrize("group_size", [1, 3, 5])
def test_engine_matches_proxies_on_the_built_network(group_size):
    batch, stream = _batch(), InitStream(0, 10)
    for start in range(0, len(ARCHS), group_size):
        archs = ARCHS[start:start + group_size]
        kernels = naswot_kernels(Group(archs, 10), batch, stream)
        sums = synflow_sums(Group(archs, 10), (3, 8, 8), stream)
        for arch, kernel, total in zip(archs, kernels, sums, strict=True):
            net = build_network(arch, 10, seed=0)
            reference = naswot_kernel(net, batch)
            # the number of ReLU units (diagonal) is structural: exact
            assert torch.equal(kernel.diagonal(), reference.diagonal())
            assert _close(kernel_logdet(kernel), kernel_logdet(reference), 1e-6)
            assert _close(total.item(), synflow_sum(net, (3, 8, 8)), 1e-9)
