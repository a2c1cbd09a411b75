"""TE-NAS's linear-region count (tfnas/proxies/tenas_lr.py) against brute force: every input's
sign pattern recomputed in numpy through a one-channel cell and collected into a Python set;
the crops against explicit slicing."""

import numpy as np
import torch

from tfnas.datasets import DATASETS, Batch
from tfnas.proxies import ScoringRun, get
from tfnas.proxies.tenas_lr import linear_regions, random_crops, thin_network
from tfnas.space import parse_arch


def test_crops_are_windows_of_one_channel_of_one_image():
    images = torch.arange(2 * 3 * 5 * 5, dtype=torch.float64).reshape(2, 3, 5, 5)
    crops = random_crops(images, 50, torch.Generator().manual_seed(0))
    assert crops.shape == (50, 1, 3, 3)
    for crop in crops[:, 0]:
        corner = int(crop[0, 0].item())
        n, c, i, j = np.unravel_index(corner, images.shape)
        assert torch.equal(crop, images[n, c, i:i + 3, j:j + 3])
    assert len({int(c[0, 0, 0]) for c in crops}) > 20  # many windows, not one


def brute_force(arch: str, batches: list[torch.Tensor], seed: int) -> int:
    """The cell '|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+...' written out: node1 =
    BN(w1·relu(x)), node2 = x + BN(w2·relu(node1)), node3 = node2 (skip) + others none; then
    the final BN and ReLU. Patterns: relu(x), relu(node1), final ReLU."""
    net = thin_network(parse_arch(arch), seed).double()
    w1 = net[0].edges[0][1].weight.item()
    w3 = net[0].edges[2][1].weight.item()
    patterns = set()

    def bn(v):
        return (v - v.mean()) / np.sqrt(v.var() + 1e-5)

    for batch in batches:
        x = batch.numpy()[:, 0]
        a = np.maximum(x, 0)
        node1 = bn(w1 * a)
        b = np.maximum(node1, 0)
        node2 = x + bn(w3 * b)
        out = np.maximum(bn(node2), 0)
        for k in range(len(x)):
            patterns.add(tuple((a[k] > 0).ravel()) + tuple((b[k] > 0).ravel())
                         + tuple((out[k] > 0).ravel()))
    return len(patterns)


def test_regions_equal_the_brute_force_count():
    arch = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"
    generator = torch.Generator().manual_seed(4)
    batches = [torch.randn(200, 1, 3, 3, generator=generator, dtype=torch.float64)
               for _ in range(2)]
    network = thin_network(parse_arch(arch), 7).double().train()
    count = linear_regions(network, batches)
    assert count == brute_force(arch, batches, 7)
    assert 50 < count <= 400


def test_a_cell_of_zeros_has_one_region_and_more_convolutions_more():
    images = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    run = ScoringRun(DATASETS["ImageNet16-120"], 0, "cpu", Batch(images, torch.zeros(4), "t"))
    score = get("tenas_lr").score
    zero = score(parse_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), run)
    skip = score(parse_arch("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"), run)
    convs = score(parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
                             "nor_conv_3x3~1|nor_conv_3x3~2|"), run)
    assert zero == 1.0
    assert 1 < skip <= 2 ** 9  # the final ReLU alone: 9 bits
    assert convs > skip
