"""EPE-NAS: how differently the network's input Jacobians correlate within each class.

Lopes, Alirezazadeh & Alexandre, "EPE-NAS: Efficient Performance Estimation Without Training
for Neural Architecture Search", ICANN 2021 (code: VascoLopes/EPE-NAS, ``search.py``
``eval_score_perclass``); as ``epe_nas`` in NAS-Bench-Suite-Zero (NASLib).

J as :mod:`tfnas.proxies.jacov` (gradient of the summed logits per image). For every class c
present in the batch, C_c is the correlation matrix of the rows of J whose label is c (a
single image: C_c = [1]) and E_c = Σ_{i,j} log(|C_c,ij| + k), k = 1e-5. With at most 100
classes: score = Σ_c |E_c|; with more (ImageNet16-120): E_c is divided by the class's number of
images and score = Σ_c Σ_c' |E_c − E_c'| / (number of classes present). The original code never
passes the number of classes and so always takes the first branch; NASLib (whose numbers
NAS-Bench-Suite-Zero publishes) and this module take the branch the paper describes. Higher is
better; −inf when a class's correlation is undefined (a constant Jacobian row).

Settings: real training images with their labels (paper: 256; Suite-Zero: 64), train-mode BN,
seeded PyTorch init, the pass in float32 (thread-independent), the correlations in float64.
"""

from __future__ import annotations

import math

import torch

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import correlation, input_jacobian, shared_input_jacobian
from tfnas.space import Arch

DTYPE = torch.float32  # the pass; correlations and eigenvalues in float64
K = 1e-5


def epe_nas_from(jacobian: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """The EPE-NAS score of per-image Jacobians ``jacobian`` with ``labels``."""
    energies = []
    for c in torch.unique(labels).tolist():
        rows = jacobian[labels == c]
        corr = correlation(rows) if len(rows) > 1 else torch.ones(1, 1, dtype=rows.dtype)
        if not torch.isfinite(corr).all():
            return -math.inf
        energy = torch.log(corr.abs() + K).sum().item()
        energies.append(energy / len(rows) if num_classes > 100 else energy)
    e = torch.tensor(energies, dtype=torch.float64)
    if num_classes <= 100:
        return float(e.abs().sum().item())
    return float((e[:, None] - e[None, :]).abs().sum().item() / len(e))


def epe_nas_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  num_classes: int) -> float:
    """EPE-NAS of ``network`` on the labelled batch (see the module docstring)."""
    return epe_nas_from(input_jacobian(network, images, DTYPE), labels, num_classes)


def _score(arch: Arch, run: ScoringRun) -> float:
    jacobian = shared_input_jacobian(arch, run, DTYPE)
    return epe_nas_from(jacobian, run.labels, run.spec.num_classes)


PROXY = Proxy(
    name="epe_nas",
    citation="Lopes et al., EPE-NAS, ICANN 2021 (code: VascoLopes/EPE-NAS); "
             "NAS-Bench-Suite-Zero, NeurIPS 2022",
    reads=frozenset({IMAGES, LABELS}),
    convention="per-class energy of the input-Jacobian correlations, summed |E_c| (<= 100 "
               "classes) or mean pairwise |E_c - E_c'| of per-image energies (more); higher is "
               "better; -inf when undefined",
    settings="batch of real images with labels (paper: 256; Suite-Zero: 64), gradient of the "
             "summed logits, train-mode BN, seeded PyTorch init, float32 pass, float64 "
             "statistics",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.70, "cifar100": 0.60, "ImageNet16-120": 0.33},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
    min_batch=2,
)
