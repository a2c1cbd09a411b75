"""grad_norm: the summed norms of the loss gradient of every layer's weights.

Abdelfattah, Mehrotra, Dudziak & Lane, "Zero-Cost Proxies for Lightweight NAS", ICLR 2021
(code: SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/grad_norm.py``).

score = Σ_l ‖∂L/∂W_l‖₂ over the Conv2d and Linear weights W_l (a sum of per-layer Frobenius
norms, not the norm of the whole gradient), L the mean cross-entropy of the batch on its labels.
Higher is better; never −inf (a network whose loss reaches no weight scores 0).

Settings: the run's batch of real training images and their labels (the paper: 64), the
network's own seeded PyTorch initialisation, train-mode BN (batch statistics), float32 (as the
reference; a sum of magnitudes, it agrees across thread counts to ~1e-8).
"""

from __future__ import annotations

import torch

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import WeightGradient, shared_weight_gradients, weight_gradients
from tfnas.space import Arch

DTYPE = torch.float32


def grad_norm_from(gradients: list[WeightGradient]) -> float:
    """Σ_l ‖∂L/∂W_l‖₂ from the weight gradients."""
    return float(sum(torch.linalg.vector_norm(g.grad).item() for g in gradients))


def grad_norm_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor
                    ) -> float:
    """grad_norm of ``network`` on the labelled batch (see the module docstring)."""
    return grad_norm_from(weight_gradients(network, images, labels, DTYPE))


def _score(arch: Arch, run: ScoringRun) -> float:
    return grad_norm_from(shared_weight_gradients(arch, run, DTYPE))


PROXY = Proxy(
    name="grad_norm",
    citation="Abdelfattah et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 "
             "(code: SamsungLabs/zero-cost-nas)",
    reads=frozenset({IMAGES, LABELS}),
    convention="sum over conv/linear layers of the L2 norm of dLoss/dW; higher is better",
    settings="batch of real images with labels (paper: 64), mean cross-entropy, train-mode BN, "
             "seeded PyTorch init, float32",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.594, "cifar100": 0.637, "ImageNet16-120": 0.578},
                  "test_acc_200ep", "Abdelfattah et al. 2021, all 15,625 (authors' notebook, "
                  "|rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.58, "cifar100": 0.63, "ImageNet16-120": 0.57},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
