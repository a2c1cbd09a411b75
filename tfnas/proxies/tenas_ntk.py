"""TE-NAS trainability: the condition number of the network's neural tangent kernel, negated.

Chen, Gong & Wang, "Neural Architecture Search on ImageNet in Four GPU Hours: A Theoretically
Inspired Perspective" (TE-NAS), ICLR 2021 (code: VITA-Group/TENAS, ``lib/procedures/ntk.py``;
per architecture on NAS-Bench-201 as in cvlab-yonsei/AZ-NAS, ``compute_te_nas_score.py``).

With J the B × P Jacobian of each image's summed logits Σ_c f_c(x_i) with respect to every
parameter named ``weight`` (convolutions, BN γ, the classifier; no biases), the NTK is Θ = J Jᵀ
(B × B) and κ = λ_max(Θ) / λ_min(Θ). A small κ means gradient descent trains every direction at
a similar speed, so TE-NAS prefers it: the stored score is −κ (negated: higher is better).
−inf where Θ is singular (to working precision: two identical images, or a network whose
output does not depend on its weights; the reference maps the 0/0 of the latter to κ =
100,000, also at the bottom of any ranking).

Settings, those of TE-NAS on NAS-Bench-201: the kernel of a narrow copy of the network (the
same cell, C = 3 channels, N = 1 cell per stage: TE-NAS's ``C=3, N=1`` supernet; the full
C = 16, N = 5 network takes ~1 CPU-minute per architecture for 64 backward passes), on the
first 72 images of the run's batch (TE-NAS's NAS-Bench-201 batch; all of them when the batch is
smaller), labels unused, train mode (BN uses the batch's statistics, so every logit depends on
every image), seeded PyTorch init (TE-NAS's Kaiming option never matches its ``init`` string,
so PyTorch's default is what it ran), float64. AZ-NAS and VKDNW instead score the full network
on 64 images. TE-NAS combines this with ``tenas_lr`` by the sum of the two ranks: the shipped
ensemble ``ens_tenas``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tfnas.proxies._contract import IMAGES, Proxy, ScoringRun
from tfnas.space import Arch

SAMPLES = 72
WIDTH, DEPTH = 3, 1


def ntk_condition_number(network: nn.Module, images: torch.Tensor) -> float:
    """λ_max / λ_min of J Jᵀ, J the Jacobian of each image's summed logits with respect to
    ``network``'s parameters named ``weight`` (the network runs in the mode it is in); inf
    when Θ is singular to working precision (λ_min ≤ B · eps · λ_max, numpy's
    ``matrix_rank`` tolerance)."""
    weights = [p for name, p in network.named_parameters() if name.endswith("weight")]
    summed = network(images).sum(dim=1)
    jacobian = torch.stack([
        torch.cat([g.flatten() for g in torch.autograd.grad(
            summed[i], weights, retain_graph=True, allow_unused=True) if g is not None])
        for i in range(len(images))])
    eigenvalues = torch.linalg.eigvalsh(jacobian @ jacobian.T)
    smallest, largest = eigenvalues[0].item(), eigenvalues[-1].item()
    singular = smallest <= len(images) * torch.finfo(jacobian.dtype).eps * largest
    return math.inf if singular or not largest > 0 else largest / smallest


def _score(arch: Arch, run: ScoringRun) -> float:
    network = run.network(arch, width=WIDTH, depth=DEPTH).double().train()
    return -ntk_condition_number(network, run.images[:SAMPLES].double())


PROXY = Proxy(
    name="tenas_ntk",
    citation="Chen et al., Neural Architecture Search on ImageNet in Four GPU Hours: A "
             "Theoretically Inspired Perspective (TE-NAS), ICLR 2021 (code: VITA-Group/TENAS)",
    reads=frozenset({IMAGES}),
    convention="minus the condition number of the NTK of the summed logits over the 'weight' "
               "parameters, negated because the paper's lower is better: higher is better; "
               "-inf when the NTK is singular",
    settings="a narrow copy of the network (C = 3, N = 1, as TE-NAS on NAS-Bench-201) on the "
             "first 72 images of the run's batch, labels unused, train-mode BN, seeded PyTorch "
             "init, float64",
    score=_score,
    negated=True,
    min_batch=2,
)
