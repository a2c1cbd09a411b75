import numpy as np
import pytest
import torch
from torch import nn

from tfnas.network import build_network
from tfnas.space import Arch, parse_arch

MIXED = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
         "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")


def test_output_shape_for_each_dataset_geometry():
    for classes, side in ((10, 32), (100, 32), (120, 16)):
        net = build_network(MIXED, classes, seed=0)
        assert net(torch.randn(2, 3, side, side)).shape == (2, classes)


def test_same_seed_gives_bit_identical_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_network(MIXED, 10, seed=7).state_dict()
    assert torch.equal(torch.rand(1), before)  # the caller's RNG stream is untouched
    build_network("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", 10, seed=3)
    b = build_network(MIXED, 10, seed=7).state_dict()
    c = build_network(MIXED, 10, seed=8).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["stem.0.weight"], c["stem.0.weight"])


def test_cell_wiring_matches_the_dag_definition():
    # skip on 0→1 and 1→3 only, all else none: node3 = node1 = x, so each cell is the identity.
    arch = Arch(("skip_connect", "none", "none", "none", "skip_connect", "none"))
    net = build_network(arch, 10, seed=0)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(net.cells[0](x), x)
    # node2 = pool(x) (edge 2←0), node3 = node2 (edge 3←2): the cell is one 3×3 average pool
    arch = Arch(("none", "avg_pool_3x3", "none", "none", "none", "skip_connect"))
    cell = build_network(arch, 10, seed=0).cells[0]
    expected = nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x)
    torch.testing.assert_close(cell(x), expected)
    # corner of count_include_pad=False averages only the 4 real pixels
    torch.testing.assert_close(expected[0, 0, 0, 0], x[0, 0, :2, :2].mean())


def test_structure_counts():
    net = build_network(parse_arch(MIXED), 10, seed=0)
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    # per cell 2 conv ops (1 ReLU each) × 15 cells + 2 per reduction × 2 + lastact
    assert len(relus) == 2 * 15 + 4 + 1
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 1 + 2 * 15 + 2 * 2 + 1
    assert all(m.bias is None for m in net.modules() if isinstance(m, nn.Conv2d))
    no_bn = build_network(parse_arch(MIXED), 10, seed=0, bn=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in no_bn.modules())


@pytest.mark.parametrize("bad", ["|conv~0|", "nor_conv_3x3"])
def test_bad_arch_string_is_rejected(bad):
    with pytest.raises(ValueError, match="expected"):
        build_network(bad, 10)


def test_reduction_halves_resolution():
    net = build_network(MIXED, 10, seed=0)
    shapes = []
    net.cells.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    net(torch.randn(1, 3, 32, 32))
    assert shapes == [(1, 64, 8, 8)]
    assert np.prod(shapes[0]) == 64 * 64
