"""AZ-NAS's components (tfnas/proxies/_az_nas.py, read by az_expressivity, az_progressivity and
az_trainability) against numpy: the covariance spectrum and its entropy, and the singular value
of the gradients' cross-covariance written out position by position (the reference's
"straight-forward way"), on maps whose Jacobian is known in closed form."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from tfnas.datasets import DATASETS
from tfnas.network import build_network
from tfnas.proxies import ScoringRun, get
from tfnas.proxies._az_nas import (
    az_nas_components,
    cell_features,
    layer_trainability,
    spectral_entropy,
)
from tfnas.proxies._reinit import kaiming_weights
from tfnas.space import parse_arch

BEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "nor_conv_3x3~2|")
IDENTITY = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def numpy_entropy(feature: np.ndarray) -> float:
    channels = feature.transpose(0, 2, 3, 1).reshape(-1, feature.shape[1])
    spectrum = np.linalg.eigvalsh(np.cov(channels, rowvar=False, bias=True))
    p = spectrum / spectrum.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def test_spectral_entropy_matches_numpy_and_is_largest_for_isotropic_features():
    generator = torch.Generator().manual_seed(0)
    feature = torch.randn(4, 3, 5, 5, generator=generator, dtype=torch.float64)
    assert spectral_entropy(feature) == pytest.approx(numpy_entropy(feature.numpy()), abs=1e-12)
    assert spectral_entropy(feature) == pytest.approx(math.log(3), abs=0.05)  # ~isotropic
    squashed = feature.clone()
    squashed[:, 1] = squashed[:, 0] * 2  # two channels collinear: one direction lost
    assert spectral_entropy(squashed) < spectral_entropy(feature) - 0.3


def straightforward_trainability(g_in: np.ndarray, g_out: np.ndarray) -> float:
    """The reference's commented-out form: the mean over positions of the outer product."""
    b, c_out, h, w = g_out.shape
    total = np.zeros((g_in.shape[1], c_out))
    for n in range(b):
        for i in range(h):
            for j in range(w):
                total += np.outer(g_in[n, :, i, j], g_out[n, :, i, j])
    sigma = np.linalg.svd(total / (b * h * w), compute_uv=False).max()
    return float(-sigma - 1 / (sigma + 1e-6) + 2)


def test_trainability_of_a_linear_map_equals_the_closed_form():
    generator = torch.Generator().manual_seed(1)
    f_in = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    conv = nn.Conv2d(3, 5, 1, bias=False).double()
    f_out = conv(f_in)
    value = layer_trainability(f_in, f_out, torch.Generator().manual_seed(1))
    g_out = (torch.randint(0, 2, f_out.shape, generator=generator, dtype=torch.float64) * 2 - 1)
    g_in = torch.einsum("oi,nohw->nihw", conv.weight[:, :, 0, 0].detach(), g_out)  # Wᵀ g
    assert value == pytest.approx(straightforward_trainability(g_in.numpy(), g_out.numpy()),
                                  abs=1e-12)
    assert value < 0


def test_a_reduction_is_compared_on_its_output_grid_and_identity_is_minus_inf():
    f_in = torch.randn(2, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    f_out = nn.functional.avg_pool2d(f_in, 2) * 3.0
    generator = torch.Generator().manual_seed(2)
    value = layer_trainability(f_in, f_out, generator)
    g_out = torch.randint(0, 2, f_out.shape, generator=torch.Generator().manual_seed(2),
                          dtype=torch.float64) * 2 - 1
    g_in = (g_out * 3.0 / 4).repeat_interleave(2, 2).repeat_interleave(2, 3)
    unshuffled = nn.functional.pixel_unshuffle(g_in, 2)  # channel c*4 + (di*2 + dj)
    assert unshuffled[0, 3, 1, 0] == g_in[0, 0, 3, 1]
    assert value == pytest.approx(
        straightforward_trainability(unshuffled.numpy(), g_out.numpy()), abs=1e-12)
    same = f_in * 1.0
    assert layer_trainability(f_in, same + 0.0 * same, generator) == -math.inf


def test_components_of_a_network_recomputed_from_its_features():
    network = build_network(BEST, 10, seed=0)
    found = az_nas_components(network, 4, (3, 8, 8), seed=5)
    generator = torch.Generator().manual_seed(5)
    replica = build_network(BEST, 10, seed=1).double().train()  # other PyTorch init: redrawn
    kaiming_weights(replica, generator)
    assert replica.cells[0].edges[0][1].weight.std().item() == pytest.approx(
        math.sqrt(2 / (16 * 9)), rel=0.1)  # Kaiming fan-in: std sqrt(2 / fan_in)
    x = torch.randn((4, 3, 8, 8), generator=generator, dtype=torch.float64)
    entropies = [numpy_entropy(f.detach().numpy()) for f in cell_features(replica, x)]
    assert len(entropies) == 18
    assert found["expressivity"] == pytest.approx(sum(entropies), abs=1e-9)
    assert found["progressivity"] == pytest.approx(min(np.diff(entropies)), abs=1e-9)
    assert -1e3 < found["trainability"] < 0


def test_identity_cells_and_zero_features_follow_the_reference():
    run = ScoringRun(DATASETS["cifar10"], 0, "cpu", batch_size=4)
    arch = parse_arch(IDENTITY)
    assert get("az_trainability").score(arch, run) == -math.inf  # the cell is the identity
    assert math.isfinite(get("az_expressivity").score(arch, run))
    zero = parse_arch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert get("az_expressivity").score(zero, run) == -math.inf  # 0/0 spectra: NaN -> -inf
    assert get("az_progressivity").score(zero, run) == -math.inf
    assert math.isfinite(get("az_trainability").score(zero, run))  # sigma 0: about -1e6
