"""ZiCo: the inverse coefficient of variation of the loss gradients across batches.

Li, Yang, Bhardwaj & Marculescu, "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on
Gradients", ICLR 2023 (code: SLDGroup/ZiCo, ``ZeroShotProxy/compute_zico.py``; re-implemented
for NAS-Bench-201 in cvlab-yonsei/AZ-NAS, ``compute_zico_score.py``).

With g_b = ∂L_b/∂W the gradient of batch b's mean cross-entropy at the initial weights (the
gradients are never applied; each batch's is computed afresh), for every Conv2d/Linear weight
ω: μ_ω = mean_b |g_b,ω| and σ_ω = std_b g_b,ω (population std, of the SIGNED gradients, as the
reference code computes it; the paper's Eq. 15 writes Var(|∇|)). score = Σ_layers log Σ_ω μ_ω/σ_ω
over the weights with σ_ω > 0; a layer where no weight has σ > 0 is left out (the reference's
rule). Higher is better. With two batches μ_ω/σ_ω = (|a| + |b|)/|a − b| ≥ 1, so every layer
adds ≥ 0; when no gradient varies at all (a cell whose output is cut off from its input: the
classifier sees constant features) the score is −inf, where the reference returns 0 — the same
place in any ranking, the lowest.

Settings: N = 2 batches (the paper's choice): the run's batch split into its first and second
half, so the default 128 images give two batches of 64 — what AZ-NAS used to evaluate ZiCo on
NAS-Bench-201 (the paper's ImageNet search used two batches of 128). Real images with labels,
train-mode BN (each half normalised by its own statistics), seeded PyTorch init (the paper
states Kaiming init only for its ImageNet space), float64: the ratio μ/σ is large where the two
gradients nearly agree, so float32 rounding would move the score with the thread count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tfnas.errors import UserError
from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import WeightGradient, weight_gradients
from tfnas.space import Arch

BATCHES = 2
DTYPE = torch.float64


def zico_from(per_batch: Sequence[list[WeightGradient]]) -> float:
    """Σ_layers log Σ_ω mean_b|g| / std_b g from each batch's weight gradients (see above)."""
    total, varied = 0.0, False
    for layer in zip(*per_batch, strict=True):
        grads = torch.stack([g.grad.flatten().double() for g in layer])  # batches × weights
        std = grads.std(dim=0, correction=0)
        varies = std > 0
        ratio = (grads.abs().mean(dim=0)[varies] / std[varies]).sum().item()
        if ratio > 0:
            total, varied = total + math.log(ratio), True
    return total if varied else -math.inf


def zico_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """ZiCo of ``network`` on the labelled batch split into :data:`BATCHES` parts."""
    if len(images) < BATCHES:
        raise UserError(f"zico splits the batch into {BATCHES} batches: it needs at least "
                         f"{BATCHES} images, got {len(images)}; raise --batch-size")
    return zico_from([weight_gradients(network, x, y, DTYPE) for x, y in
                      zip(images.chunk(BATCHES), labels.chunk(BATCHES), strict=True)])


def _score(arch: Arch, run: ScoringRun) -> float:
    return zico_score(run.network(arch), run.images, run.labels)


PROXY = Proxy(
    name="zico",
    citation="Li et al., ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on "
             "Gradients, ICLR 2023 (code: SLDGroup/ZiCo)",
    reads=frozenset({IMAGES, LABELS}),
    convention="sum over conv/linear layers of log sum_w mean|g_w| / std(g_w) across 2 "
               "batches (weights with std 0 left out); -inf when no gradient varies; higher is "
               "better",
    settings="the run's batch of real images with labels split into 2 halves (default 2 x 64, "
             "as AZ-NAS evaluated it on NAS-Bench-201), mean cross-entropy per half, train-mode "
             "BN, seeded PyTorch init, float64",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.80, "cifar100": 0.81, "ImageNet16-120": 0.79},
                  "test_acc_200ep", "Li et al. 2023, Table 1 (NATS-Bench TSS, 'test accuracy', "
                  "schedule and sample size not stated)"),
        Published("kendall", {"cifar10": 0.61, "cifar100": 0.61, "ImageNet16-120": 0.60},
                  "test_acc_200ep", "Li et al. 2023, Table 1 (NATS-Bench TSS, 'test accuracy', "
                  "schedule and sample size not stated)"),
    ),
    min_batch=2,
)
