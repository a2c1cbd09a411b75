"""SNIP: the connection sensitivity |θ ⊙ ∂L/∂θ| summed over the network.

Lee, Ajanthan & Torr, "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
ICLR 2019; as a NAS proxy: Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas,
``foresight/pruners/measures/snip.py``, which takes ∂L/∂M of a mask M = 1 on every weight:
the same numbers as |W ⊙ ∂L/∂W|).

score = Σ_l Σ |W_l ⊙ ∂L/∂W_l| over the Conv2d and Linear weights, L the mean cross-entropy of
the batch on its labels. Higher is better; never −inf.

Settings: as :mod:`tfnas.proxies.grad_norm` (real images with labels, paper batch 64, train-mode
BN, seeded PyTorch init, float32).
"""

from __future__ import annotations

import torch

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import WeightGradient, shared_weight_gradients, weight_gradients
from tfnas.space import Arch

DTYPE = torch.float32


def snip_from(gradients: list[WeightGradient]) -> float:
    """Σ_l Σ |W_l ⊙ ∂L/∂W_l|."""
    return float(sum((g.weight * g.grad).abs().sum().item() for g in gradients))


def snip_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """SNIP of ``network`` on the labelled batch (see the module docstring)."""
    return snip_from(weight_gradients(network, images, labels, DTYPE))


def _score(arch: Arch, run: ScoringRun) -> float:
    return snip_from(shared_weight_gradients(arch, run, DTYPE))


PROXY = Proxy(
    name="snip",
    citation="Lee et al., SNIP, ICLR 2019; as a NAS proxy: Abdelfattah et al., ICLR 2021 "
             "(code: SamsungLabs/zero-cost-nas)",
    reads=frozenset({IMAGES, LABELS}),
    convention="sum of |W * dLoss/dW| over conv/linear weights; higher is better",
    settings="batch of real images with labels (paper: 64), mean cross-entropy, train-mode BN, "
             "seeded PyTorch init, float32",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.596, "cifar100": 0.637, "ImageNet16-120": 0.578},
                  "test_acc_200ep", "Abdelfattah et al. 2021, all 15,625 (authors' notebook, "
                  "|rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.58, "cifar100": 0.63, "ImageNet16-120": 0.57},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
