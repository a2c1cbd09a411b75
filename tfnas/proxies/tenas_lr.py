"""TE-NAS expressivity: the number of linear regions the cell cuts its input space into.

Chen, Gong & Wang, ICLR 2021 (TE-NAS; code: VITA-Group/TENAS,
``lib/procedures/linear_region_counter.py`` and ``prune_tenas.py``).

A ReLU network is linear on each region of its input space where the on/off pattern of its
ReLUs is constant; more regions, more expressive. TE-NAS counts the distinct patterns over
3 × 1,000 inputs of a thin copy of the network: one cell at C = 1 channel, no stem, then BN and
ReLU (its ``C=1, N=1, depth=1, use_stem=False`` network), fed single-channel 3 × 3 crops of
training images. The pattern of an input is the sign of every output of every ``nn.ReLU``
whose input is a feature map (the cell's conv ops and the final ReLU); #LR = the number of
distinct patterns. Higher is better; at least 1 (a cell without ReLUs, whose final ReLU is
all-on or all-off), never −inf.

Settings: 3,000 crops, each from an image of the run's batch chosen at random, one of its
three channels and a 3 × 3 window at a random position (TE-NAS's ``RandomCrop(3)`` and
``RandChannel(1)``; the AZ-NAS/VKDNW per-architecture port counts Gaussian inputs on the full
network instead, where every input gets its own region: 64 of 64 for every architecture we
tried), 3 batches of 1,000 through the network in train mode (BN normalises each batch with
its statistics), seeded PyTorch init, every draw from the run's seed, float64. Labels unused.
TE-NAS combines this with ``tenas_ntk`` by the sum of the two ranks: the shipped ensemble
``ens_tenas``.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.network import Cell
from tfnas.proxies._contract import IMAGES, Proxy, ScoringRun
from tfnas.space import Arch

BATCHES, BATCH = 3, 1000
CROP = 3


def thin_network(arch: Arch, seed: int) -> nn.Sequential:
    """TE-NAS's thin copy of ``arch``'s network: one cell at one channel, BN, ReLU."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(Cell(arch, 1), nn.BatchNorm2d(1), nn.ReLU())


def random_crops(images: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` single-channel CROP × CROP windows of ``images`` (N × C × H × W): image,
    channel and position drawn uniformly from ``generator``."""
    n, channels, height, width = images.shape
    image = torch.randint(0, n, (count,), generator=generator)
    channel = torch.randint(0, channels, (count,), generator=generator)
    top = torch.randint(0, height - CROP + 1, (count,), generator=generator)
    left = torch.randint(0, width - CROP + 1, (count,), generator=generator)
    offsets = torch.arange(CROP)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    return images[image[:, None, None], channel[:, None, None], rows, cols].unsqueeze(1)


def linear_regions(network: nn.Module, batches: list[torch.Tensor]) -> int:
    """Distinct ReLU sign patterns of ``network`` (ReLUs fed a feature map) over the inputs of
    all ``batches``, each batch one forward pass in the mode the network is in."""
    patterns, seen = [], []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if inputs[0].dim() == 4:
            seen.append((output > 0).flatten(1))

    hooks = [m.register_forward_hook(record) for m in network.modules()
             if isinstance(m, nn.ReLU)]
    try:
        with torch.no_grad():
            for batch in batches:
                seen.clear()
                network(batch)
                patterns.append(torch.cat(seen, dim=1))
    finally:
        for hook in hooks:
            hook.remove()
    return len(torch.unique(torch.cat(patterns), dim=0))


def _score(arch: Arch, run: ScoringRun) -> float:
    generator = torch.Generator().manual_seed(run.seed)
    crops = random_crops(run.images.double().cpu(), BATCHES * BATCH, generator)
    network = thin_network(arch, run.seed).double().train()
    return float(linear_regions(network, list(crops.split(BATCH))))


PROXY = Proxy(
    name="tenas_lr",
    citation="Chen et al., Neural Architecture Search on ImageNet in Four GPU Hours: A "
             "Theoretically Inspired Perspective (TE-NAS), ICLR 2021 (code: VITA-Group/TENAS)",
    reads=frozenset({IMAGES}),
    convention="number of distinct ReLU activation patterns (linear regions) of a one-cell, "
               "one-channel copy of the network over 3,000 image crops; higher is better; at "
               "least 1, never -inf",
    settings="3 x 1,000 single-channel 3 x 3 crops of the run's images (image, channel and "
             "position drawn from the run's seed), one cell at C = 1 without stem, then BN and "
             "ReLU, train-mode BN, seeded PyTorch init, float64",
    score=_score,
)
