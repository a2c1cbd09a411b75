"""MeCo: the smallest eigenvalue of the channel-correlation matrix of every feature map, summed.

Jiang, Wang & Bie, "Zero-Shot Neural Architecture Search with Minimum Eigenvalue of
Correlation on Feature Maps", NeurIPS 2023 (code: HamsterMimi/MeCo,
``correlation/NAS_Bench_201.py``, which scores the NAS-Bench-201 network of
``correlation/foresight/models/nasbench2.py``).

One image goes through the network. For every output F (C channels × H·W positions) of every
module: P = the C × C Pearson correlation of the channels over the positions, entries that are
NaN (a constant channel, e.g. the ``none`` op's zeros) set to 0, and λ_min(P) its smallest
eigenvalue. MeCo = Σ λ_min over the module outputs. P is positive semi-definite, so every term
is in [0, 1] (0 when a channel is constant or C > H·W); outputs that are not feature maps (the
pooled features, the logits) give a 1 × 1 … matrix of NaN, i.e. 0, as in the reference.
Higher is better; never −inf.

The reference hooks every module of its model, so a tensor counts once per module that
returns it: a conv op's BN output three times (BN, the op's inner ``Sequential``, the
``ReLUConvBN``), a pooling op's output twice (the op and its ``AvgPool2d``), the stem's BN
output three times, and the last cell of each stage twice (the cell and the stage's
``Sequential``). Our network nests modules differently; :data:`EXTRA` adds the reference's
counts where its tree has a wrapper ours lacks, and our ``cells`` container (which the
reference does not have) counts 0, so the sum is the reference's.

Settings: the first image of the run's batch (the reference: one real training image, the
same for every architecture), resized to 32 × 32 as the reference's loader does for every
dataset (bilinear; ImageNet16-120's 16 × 16 images are upsampled), labels unused, train-mode
BN (statistics of the one image), seeded PyTorch init, float64.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.network import Cell, ReLUConvBN, TinyNetwork
from tfnas.proxies._contract import IMAGES, Proxy, Published, ScoringRun
from tfnas.space import Arch

#: The reference's input size for every dataset.
RESOLUTION = 32


def min_correlation_eigenvalue(feature: torch.Tensor) -> float:
    """λ_min of the channel correlation of one feature map ``feature`` (C × …), NaN entries
    of the correlation set to 0 (the reference's rule)."""
    rows = feature.reshape(len(feature), -1)
    if rows.shape[1] < 2:  # not a feature map (pooled features, logits): NaN, i.e. 0
        return 0.0
    correlation = torch.corrcoef(rows)
    correlation = torch.nan_to_num(correlation, nan=0.0, posinf=0.0, neginf=0.0)
    return torch.linalg.eigvalsh(correlation)[0].item()


def hook_counts(network: TinyNetwork) -> dict[nn.Module, int]:
    """How many times the reference counts the output of each of ``network``'s modules."""
    counts: dict[nn.Module, int] = {module: 1 for module in network.modules()}
    counts[network.cells] = 0  # a container the reference does not have
    counts[network.stem] += 1  # the reference's stem module around its Sequential
    for module in network.modules():
        if isinstance(module, ReLUConvBN):
            counts[module] += 1  # the reference's ReLUConvBN around its Sequential ``op``
        elif isinstance(module, Cell):
            for op in module.edges:
                if isinstance(op, nn.AvgPool2d):
                    counts[op] += 1  # the reference's POOLING around its AvgPool2d
    cells = list(network.cells)
    for index, layer in enumerate(cells):  # the last cell of each stage: its stage's Sequential
        if isinstance(layer, Cell) and (index + 1 == len(cells)
                                        or not isinstance(cells[index + 1], Cell)):
            counts[layer] += 1
    return counts


def meco_score(network: nn.Module, image: torch.Tensor,
               counts: dict[nn.Module, int] | None = None) -> float:
    """MeCo of ``network`` on one ``image`` (C × H × W): Σ over module outputs of
    :func:`min_correlation_eigenvalue` of the output's sample 0, each output counted
    ``counts[module]`` times (once when ``counts`` is None)."""
    terms: list[tuple[int, float]] = []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        weight = 1 if counts is None else counts[module]
        if weight:
            terms.append((weight, min_correlation_eigenvalue(output[0])))

    hooks = [m.register_forward_hook(record) for m in network.modules()]
    try:
        with torch.no_grad():
            network.train()(image.unsqueeze(0))
    finally:
        for hook in hooks:
            hook.remove()
    return sum(weight * value for weight, value in terms)


def _score(arch: Arch, run: ScoringRun) -> float:
    network = run.network(arch).double()
    image = nn.functional.interpolate(run.images[:1].double(), size=RESOLUTION,
                                      mode="bilinear", align_corners=False)[0]
    return meco_score(network, image, hook_counts(network))


PROXY = Proxy(
    name="meco",
    citation="Jiang et al., Zero-Shot Neural Architecture Search with Minimum Eigenvalue of "
             "Correlation on Feature Maps (MeCo), NeurIPS 2023 (code: HamsterMimi/MeCo)",
    reads=frozenset({IMAGES}),
    convention="sum over module outputs of the smallest eigenvalue of the channel "
               "correlation matrix of one image's feature map, counted as the reference's "
               "module tree counts them; higher is better; never -inf",
    settings="the first image of the run's batch resized to 32 x 32 (bilinear), labels "
             "unused, train-mode BN, seeded PyTorch init, float64",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.89}, "test_acc_200ep",
                  "Jiang et al. 2023, abstract (NATS-Bench TSS, CIFAR-10; the per-dataset table "
                  "could not be read here; the authors' script correlates with the 200-epoch "
                  "cifar10-valid test accuracy)"),
    ),
)
