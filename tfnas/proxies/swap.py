"""SWAP-Score: how many distinct sample-wise activation patterns the network's ReLUs produce.

Peng, Song, Fayek, Ciesielski & Chang, "SWAP-NAS: Sample-Wise Activation Patterns for
Ultra-fast NAS", ICLR 2024 (code: pym1024/SWAP, ``src/metrics/swap.py`` and
``correlation.py``).

For S input images, every neuron of every ``nn.ReLU`` whose input is a feature map (one channel
at one position) has a pattern: the S bits saying which images it is active for (output > 0).
SWAP = the number of distinct patterns over all those neurons of the network; the reference
averages it over 32 repeats, each with every weight redrawn (Conv2d and Linear weights N(0, 1),
biases 0, BN γ = 1, β = 0), on 16 training images, the network in train mode (BN normalises
with the batch's statistics). A wider variety of patterns means a more expressive network.
Higher is better; the smallest value is 1 (every neuron silent for every image, e.g. the
all-``none`` cell's ReLUs), never −inf.

Settings: the first 16 images of the run's batch (S = 16, the reference's ``input_samples``; all
of them when the batch is smaller), labels unused, 32 repeats with the weights redrawn from the
run's seed, train-mode BN, float64 (in float32 a pre-activation within rounding of 0 could flip
its bit with the thread count). The paper's parameter-count regularisation (SWAP × exp(−(P −
μ)²/σ), "swap_reg") is not provided: its μ and σ for NAS-Bench-201 are not in the authors' code.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.errors import UserError
from tfnas.proxies._contract import IMAGES, Proxy, ScoringRun
from tfnas.proxies._reinit import gaussian_weights
from tfnas.space import Arch

SAMPLES = 16
REPEATS = 32


def activation_patterns(network: nn.Module, images: torch.Tensor) -> int:
    """Distinct S-bit activation patterns over the neurons of ``network``'s ReLUs (those fed a
    feature map) for the S = len(images) ≤ 62 ``images``, the network as it is."""
    samples = len(images)
    if not 1 <= samples <= 62:
        raise UserError(f"SWAP packs each pattern into 63 bits; got {samples} images")
    weights = 2 ** torch.arange(samples, dtype=torch.int64, device=images.device)
    # up to 20 images: a table of every possible pattern, marked as seen (linear time)
    seen = torch.zeros(2**samples if samples <= 20 else 0, dtype=torch.bool,
                       device=images.device)
    codes = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            bits = (output > 0).reshape(samples, -1).to(torch.int64)
            code = weights @ bits
            if len(seen):
                seen[code] = True
            else:
                codes.append(code)

    hooks = [m.register_forward_hook(record) for m in network.modules()
             if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            network(images)
    finally:
        for hook in hooks:
            hook.remove()
    if len(seen):
        return int(seen.sum())
    return int(torch.unique(torch.cat(codes)).numel()) if codes else 0


def swap_score(network: nn.Module, images: torch.Tensor, seed: int = 0,
               repeats: int = REPEATS, samples: int = SAMPLES) -> float:
    """SWAP of ``network`` on the first ``samples`` of ``images``: the mean over ``repeats``
    Gaussian re-initialisations (drawn from ``seed``) of :func:`activation_patterns`."""
    generator = torch.Generator().manual_seed(seed)
    network = network.double().train()
    images = images[:samples].double()
    counts = []
    for _ in range(repeats):
        gaussian_weights(network, generator)
        counts.append(activation_patterns(network, images))
    return sum(counts) / repeats


def _score(arch: Arch, run: ScoringRun) -> float:
    return swap_score(run.network(arch), run.images, run.seed)


PROXY = Proxy(
    name="swap",
    citation="Peng et al., SWAP-NAS: Sample-Wise Activation Patterns for Ultra-fast NAS, "
             "ICLR 2024 (code: pym1024/SWAP)",
    reads=frozenset({IMAGES}),
    convention="mean over 32 Gaussian re-initialisations of the number of distinct "
               "sample-wise ReLU activation patterns over 16 images; higher is better; at "
               "least 1, never -inf",
    settings="the first 16 images of the run's batch, 32 repeats with Conv/Linear weights "
             "N(0, 1) and BN gamma 1, beta 0 redrawn from the run's seed, train-mode BN, "
             "float64; no parameter-count regularisation",
    score=_score,
    min_batch=2,
)
