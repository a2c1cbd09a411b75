"""MeCo (tfnas/proxies/meco.py) against numpy: the correlation spectrum of each module output
computed with np.corrcoef / np.linalg.eigvalsh from outputs recomputed layer by layer, and the
reference's count of hooked outputs for the NAS-Bench-201 network worked out by hand."""

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.network import build_network
from tfnas.proxies.meco import hook_counts, meco_score, min_correlation_eigenvalue
from tfnas.space import parse_arch


def numpy_lambda_min(feature: np.ndarray) -> float:
    rows = feature.reshape(len(feature), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.nan_to_num(np.corrcoef(rows), nan=0.0)
    return float(np.linalg.eigvalsh(correlation)[0])


def test_smallest_eigenvalue_matches_numpy_and_a_constant_channel_gives_zero():
    generator = torch.Generator().manual_seed(0)
    feature = torch.randn(5, 4, 4, generator=generator, dtype=torch.float64)
    value = min_correlation_eigenvalue(feature)
    assert value == pytest.approx(numpy_lambda_min(feature.numpy()), abs=1e-12)
    assert 0 < value < 1  # 5 channels over 16 positions: full rank, below the mean eigenvalue
    feature[2] = 3.0  # a constant channel: its NaN row and column are zeroed
    assert min_correlation_eigenvalue(feature) == pytest.approx(0.0, abs=1e-12)
    assert numpy_lambda_min(feature.numpy()) == pytest.approx(0.0, abs=1e-12)
    assert min_correlation_eigenvalue(torch.ones(7, 1, 1, dtype=torch.float64)) == 0.0


def test_score_sums_every_module_output_of_one_image():
    torch.manual_seed(0)
    conv, bn, relu = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()
    network = nn.Sequential(conv, bn, relu).double()
    image = torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # recomputed by hand: conv, BN with the one image's statistics, ReLU, and the Sequential
    with torch.no_grad():
        c = conv(image.unsqueeze(0))[0].numpy()
    b = (c - c.mean(axis=(1, 2), keepdims=True)) / np.sqrt(c.var(axis=(1, 2), keepdims=True)
                                                           + bn.eps)
    r = np.maximum(b, 0)
    expected = sum(numpy_lambda_min(f) for f in (c, b, r, r))
    assert meco_score(network, image) == pytest.approx(expected, abs=1e-9)
    counts = {network: 0, conv: 2, bn: 1, relu: 1}
    assert meco_score(network, image, counts) == pytest.approx(
        2 * numpy_lambda_min(c) + numpy_lambda_min(b) + numpy_lambda_min(r), abs=1e-9)


@pytest.mark.parametrize("arch, conv, pool, other", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|",
     3, 1, 2),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", 0, 0, 6),
])
def test_counts_reproduce_the_reference_module_tree(arch, conv, pool, other):
    """The reference (MeCo's foresight NAS201Model) hooks: a conv op's ReLU, Conv and BN output
    (BN, op Sequential, ReLUConvBN: 3) = 5 outputs, a pooling op 2, skip/none 1, each cell 1,
    each stage's Sequential 1, the stem conv 1 + BN 3, a reduction 1 + conv_a 5 + conv_b 5 +
    its shortcut Sequential, AvgPool, Conv 3, the final BN 1 and ReLU 2 (ReLU, Sequential);
    the pooled features, logits, ``top`` and the model itself are not feature maps."""
    network = build_network(arch, 10, seed=0)
    counts = hook_counts(network)
    called = {m for m in network.modules() if not isinstance(m, nn.ModuleList)}
    feature_maps = called - {network, network.global_pooling, network.classifier}
    cell = 1 + 5 * conv + 2 * pool + other
    expected = (1 + 3) + 15 * cell + 3 + 2 * (1 + 5 + 5 + 3) + (1 + 2)
    assert sum(counts[m] for m in feature_maps) == expected
    assert counts[network.cells] == 0
    assert [counts[c] for c in network.cells] == ([1] * 4 + [2] + [1]) * 2 + [1] * 4 + [2]


def test_the_image_is_read_at_32_pixels_whatever_the_dataset():
    from tfnas.datasets import DATASETS, Batch
    from tfnas.proxies import ScoringRun, get

    generator = torch.Generator().manual_seed(3)
    arch = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|"
                      "nor_conv_1x1~1|nor_conv_3x3~2|")
    images = torch.randn(2, 3, 16, 16, generator=generator)
    run = ScoringRun(DATASETS["ImageNet16-120"], 0, "cpu", Batch(images, torch.zeros(2), "t"))
    network = build_network(arch, 120, seed=0).double()
    upsampled = nn.functional.interpolate(images[:1].double(), size=32, mode="bilinear")[0]
    expected = meco_score(network, upsampled, hook_counts(network))
    assert get("meco").score(arch, run) == pytest.approx(expected, abs=1e-12)
    assert meco_score(network, images[0].double(), hook_counts(network)) != pytest.approx(
        expected, rel=1e-3)
