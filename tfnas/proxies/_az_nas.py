"""The one pass AZ-NAS's three network components are read from (expressivity, progressivity,
trainability; the fourth, complexity, is the ``flops`` proxy).

Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search", CVPR 2024
(code: cvlab-yonsei/AZ-NAS, ``NB201/ZeroShotProxy/compute_az_nas_score.py``; the features are
``extract_cell_features`` of its ``NB201/custom/tss_model.py``).

The network is re-initialised (Conv2d and Linear weights Kaiming-normal, fan-in, ReLU gain;
biases 0; BN γ = 1, β = 0), kept in train mode, and fed B Gaussian inputs. Its features
f_0 … f_17 are the stem's output and the output of each of the 17 cells (15 searched cells and
the two residual reductions), each B × C × H × W.

- Expressivity E_l of a feature: the entropy −Σ p_i ln(p_i + 1e-8) of the normalised
  eigenvalues p = s / Σ s of the C × C covariance of its B·H·W channel vectors (isotropic
  features score high). expressivity = Σ_l E_l.
- Progressivity = min_l (E_l − E_{l−1}): the smallest step up (or largest step down).
- Trainability: for l = 17 … 1, a Rademacher (±1) g_out shaped like f_l and its vector-Jacobian
  product g_in = (∂f_l/∂f_{l−1})ᵀ g_out (pixel-unshuffled to f_l's grid after a reduction);
  σ = the largest singular value of G_inᵀ G_out / (B·H·W) over the channel vectors, and the
  layer scores −σ − 1/(σ + 1e-6) + 2 (≤ 0, best at σ = 1); a cell that is exactly the identity
  (g_in == g_out) scores −inf. trainability = the mean over layers.

A NaN component (a network whose features are all zero: 0/0 spectra) is −inf, as in the
reference. Higher is better for all three.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from tfnas.network import TinyNetwork
from tfnas.proxies._contract import Proxy, ScoringRun
from tfnas.proxies._reinit import kaiming_weights
from tfnas.space import Arch

COMPONENTS = ("expressivity", "progressivity", "trainability")
DTYPE = torch.float64
#: The settings all three modules state.
SETTINGS = ("data-free: Gaussian inputs of the run's batch size (AZ-NAS used 64), weights "
            "redrawn Kaiming-normal (fan-in) with biases 0 and BN gamma 1, beta 0, train-mode "
            "BN, every draw from the run's seed, float64; one pass shared by the three "
            "components")
CITATION = ("Lee & Ham, AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search, "
            "CVPR 2024 (code: cvlab-yonsei/AZ-NAS)")


def cell_features(network: TinyNetwork, x: torch.Tensor) -> list[torch.Tensor]:
    """The stem's output and every cell's (reductions included), in order, with their graph."""
    features = [network.stem(x)]
    for cell in network.cells:
        features.append(cell(features[-1]))
    return features


def spectral_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised covariance spectrum of ``feature``'s channel vectors."""
    channels = feature.detach().permute(0, 2, 3, 1).reshape(-1, feature.shape[1])
    channels = channels - channels.mean(dim=0, keepdim=True)
    spectrum = torch.linalg.eigvalsh(channels.T @ channels / len(channels))
    p = spectrum / spectrum.sum()
    return -(p * torch.log(p + 1e-8)).sum().item()


def layer_trainability(f_in: torch.Tensor, f_out: torch.Tensor,
                       generator: torch.Generator) -> float:
    """−σ − 1/(σ + 1e-6) + 2 for the Rademacher VJP from ``f_out`` to ``f_in`` (−inf for an
    identity map)."""
    g_out = torch.randint(0, 2, f_out.shape, generator=generator, dtype=f_out.dtype) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, g_out)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -math.inf
    if g_in.shape[2] != g_out.shape[2]:
        g_in = nn.functional.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    g_in = g_in.permute(0, 2, 3, 1).reshape(-1, g_in.shape[1])
    g_out = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1])
    sigma = torch.linalg.matrix_norm(g_in.T @ g_out / len(g_out), ord=2).item()
    return -sigma - 1 / (sigma + 1e-6) + 2


def az_nas_components(network: TinyNetwork, batch_size: int, input_shape: tuple[int, ...],
                      seed: int = 0) -> dict[str, float]:
    """Expressivity, progressivity and trainability of ``network`` (re-initialised; see the
    module docstring), every draw from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    network = network.to(DTYPE).train()
    kaiming_weights(network, generator)
    x = torch.randn((batch_size, *input_shape), generator=generator, dtype=DTYPE)
    features = cell_features(network, x)
    entropies = [spectral_entropy(f) for f in features]
    steps = [after - before for before, after in itertools.pairwise(entropies)]
    layers = [layer_trainability(features[i - 1], features[i], generator)
              for i in reversed(range(1, len(features)))]
    found = {"expressivity": sum(entropies),
             "progressivity": math.nan if any(map(math.isnan, steps)) else min(steps),
             "trainability": sum(layers) / len(layers)}
    return {name: -math.inf if math.isnan(value) else value for name, value in found.items()}


def component_proxy(name: str, component: str, convention: str) -> Proxy:
    """The registry entry of one component (``component`` of :data:`COMPONENTS`) named
    ``name``: data-free, its pass computed once per architecture for all three."""

    def score(arch: Arch, run: ScoringRun) -> float:
        return run.shared(arch, "az_nas", lambda: az_nas_components(
            run.network(arch), run.batch_size, run.input_shape, run.seed))[component]

    return Proxy(name=name, citation=CITATION, reads=frozenset(), convention=convention,
                 settings=SETTINGS, score=score)
