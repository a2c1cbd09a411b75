"""jacov: the Jacobian covariance score, NASWOT's first version.

Mellor, Turner, Storkey & Crowley, "Neural Architecture Search without Training", arXiv
2006.04647 v1 (2020); as the zero-cost proxy ``jacob_cov`` of Abdelfattah et al., ICLR 2021
(code: SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/jacob_cov.py``) and ``jacov`` of
NAS-Bench-Suite-Zero.

J (N × 3HW): row n is the gradient of the summed logits of the batch with respect to image n
(zero-cost-nas differentiates all logits; Mellor's v1 built the network with one output). C is
the correlation matrix of J's rows and λ its eigenvalues; score = −Σ_i [log(λ_i + k) +
1/(λ_i + k)], k = 1e-5 — largest when the images' Jacobians are uncorrelated (λ all 1). Higher
is better; −inf when C is undefined (a constant Jacobian row: the output does not depend on that
image, e.g. a cell cut off from its input).

Settings: real training images (paper: 64; v1: 256), labels not read, train-mode BN, seeded
PyTorch init, the pass in float32 (the score agrees across thread counts to ~1e-14), the
correlations and eigenvalues in float64 (``eigvalsh`` of the symmetric C).
"""

from __future__ import annotations

import math

import torch

from tfnas.proxies._contract import IMAGES, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import correlation, input_jacobian, shared_input_jacobian
from tfnas.space import Arch

DTYPE = torch.float32  # the pass; correlations and eigenvalues in float64
K = 1e-5


def jacov_from(jacobian: torch.Tensor) -> float:
    """−Σ [log(λ + k) + 1/(λ + k)] over the eigenvalues λ of the rows' correlation matrix."""
    c = correlation(jacobian)
    if not torch.isfinite(c).all():
        return -math.inf
    eigenvalues = torch.linalg.eigvalsh(c)
    return -float((torch.log(eigenvalues + K) + 1 / (eigenvalues + K)).sum().item())


def jacov_score(network: torch.nn.Module, images: torch.Tensor) -> float:
    """jacov of ``network`` on ``images`` (see the module docstring)."""
    return jacov_from(input_jacobian(network, images, DTYPE))


def _score(arch: Arch, run: ScoringRun) -> float:
    return jacov_from(shared_input_jacobian(arch, run, DTYPE))


PROXY = Proxy(
    name="jacov",
    citation="Mellor et al., Neural Architecture Search without Training, arXiv 2006.04647v1; "
             "as jacob_cov: Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas)",
    reads=frozenset({IMAGES}),
    convention="-sum(log(lambda + 1e-5) + 1/(lambda + 1e-5)) over the eigenvalues of the "
               "correlation of the input Jacobians; higher is better; -inf when undefined",
    settings="batch of real images (paper: 64), labels not read, gradient of the summed "
             "logits, train-mode BN, seeded PyTorch init, float32 pass, float64 statistics",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.731, "cifar100": 0.704, "ImageNet16-120": 0.701},
                  "test_acc_200ep", "Abdelfattah et al. 2021 (jacob_cov), all 15,625 (authors' "
                  "notebook, |rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.75, "cifar100": 0.71, "ImageNet16-120": 0.71},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
    min_batch=2,
)
