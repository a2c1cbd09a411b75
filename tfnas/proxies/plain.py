"""plain: the first-order Taylor term θ ⊙ ∂L/∂θ summed over the network, negated.

Mozer & Smolensky 1989 / Molchanov et al. 2017 as a pruning saliency; as a zero-cost proxy in
Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas,
``foresight/pruners/measures/plain.py``) and NAS-Bench-Suite-Zero (Krishnakumar et al. 2022).

The reference sums W_l ⊙ ∂L/∂W_l (signed) over the Conv2d and Linear weights; on NAS-Bench-201
that sum correlates NEGATIVELY with accuracy (NAS-Bench-Suite-Zero: ρ ≈ −0.26 / −0.21 / −0.22),
i.e. lower is better. Stored NEGATED so that higher is better:
score = −Σ_l Σ W_l ⊙ ∂L/∂W_l, L the mean cross-entropy of the batch on its labels.

Settings: as :mod:`tfnas.proxies.grad_norm` (real images with labels, paper batch 64, train-mode
BN, seeded PyTorch init) but float64: a signed sum with cancellation, in float32 it moves by
~1e-5 between 1 and 2 threads.
"""

from __future__ import annotations

import torch

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import WeightGradient, shared_weight_gradients, weight_gradients
from tfnas.space import Arch


def plain_from(gradients: list[WeightGradient]) -> float:
    """−Σ_l Σ W_l ⊙ ∂L/∂W_l (negated: see the module docstring)."""
    return -float(sum((g.weight * g.grad).sum().item() for g in gradients))


def plain_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """plain of ``network`` on the labelled batch (negated; see the module docstring)."""
    return plain_from(weight_gradients(network, images, labels))


def _score(arch: Arch, run: ScoringRun) -> float:
    return plain_from(shared_weight_gradients(arch, run, torch.float64))


PROXY = Proxy(
    name="plain",
    citation="Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas); "
             "NAS-Bench-Suite-Zero, NeurIPS 2022",
    reads=frozenset({IMAGES, LABELS}),
    convention="minus the sum of W * dLoss/dW over conv/linear weights (negated: the sum "
               "itself is lower-is-better); higher is better",
    settings="batch of real images with labels (paper: 64), mean cross-entropy, train-mode BN, "
             "seeded PyTorch init, float64",
    score=_score,
    negated=True,
    published=(
        Published("spearman", {"cifar10": 0.26, "cifar100": 0.21, "ImageNet16-120": 0.22},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs (-0.26/-0.21/-0.22 for "
                  "the un-negated sum)"),
    ),
)
