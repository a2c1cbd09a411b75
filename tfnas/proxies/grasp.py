"""GraSP: gradient signal preservation, −θ ⊙ H g summed over the network.

Wang, Zhang & Grosse, "Picking Winning Tickets Before Training by Preserving Gradient Flow",
ICLR 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas,
``foresight/pruners/measures/grasp.py``, temperature T = 1, one iteration).

g = ∂L/∂W (held constant), H the Hessian of L with respect to the conv/linear weights, and
Hg = ∂(gᵀ ∂L/∂W)/∂W (a Hessian-vector product, double backward). score = Σ_l Σ −W_l ⊙ (Hg)_l,
with the minus sign the reference puts inside the per-weight saliency (it stores that value;
no further negation). Higher is better; never −inf.

Settings: real images with labels (paper: a random batch of 64 instead of GraSP's 10 images per
class; T = 1 instead of 200), mean cross-entropy, train-mode BN, seeded PyTorch init, float64
(in float32 GraSP changes by tens of percent between 1 and 2 threads).
"""

from __future__ import annotations

import torch

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published, ScoringRun
from tfnas.proxies._gradients import (
    WeightGradient,
    loss_of,
    shared_weight_gradients,
    weight_gradients,
    weight_layers,
)
from tfnas.space import Arch


def grasp_from(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
               gradients: list[WeightGradient]) -> float:
    """Σ −W ⊙ Hg, with ``gradients`` the loss gradients g of ``network``'s weights."""
    weights = [m.weight for m in weight_layers(network)]
    network.zero_grad(set_to_none=True)
    grads = torch.autograd.grad(loss_of(network, images, labels), weights, create_graph=True,
                                allow_unused=True)
    z = sum((g.grad * h).sum() for g, h in zip(gradients, grads, strict=True) if h is not None)
    if not torch.is_tensor(z) or not z.requires_grad:  # the loss reaches no weight
        return 0.0
    hessian_g = torch.autograd.grad(z, weights, allow_unused=True)
    return float(sum((-w.detach() * hg).sum().item()
                     for w, hg in zip(weights, hessian_g, strict=True) if hg is not None))


def grasp_score(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """GraSP of ``network`` on the labelled batch (see the module docstring)."""
    return grasp_from(network, images, labels, weight_gradients(network, images, labels))


def _score(arch: Arch, run: ScoringRun) -> float:
    network = run.network(arch)
    gradients = shared_weight_gradients(arch, run, torch.float64)
    return grasp_from(network, run.images, run.labels, gradients)


PROXY = Proxy(
    name="grasp",
    citation="Wang et al., GraSP, ICLR 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021 "
             "(code: SamsungLabs/zero-cost-nas)",
    reads=frozenset({IMAGES, LABELS}),
    convention="sum of -W * (H g) over conv/linear weights (g the loss gradient, H the loss "
               "Hessian; the reference's sign); higher is better",
    settings="batch of real images with labels (paper: 64), T = 1, mean cross-entropy, "
             "train-mode BN, seeded PyTorch init, float64",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.514, "cifar100": 0.547, "ImageNet16-120": 0.549},
                  "test_acc_200ep", "Abdelfattah et al. 2021, all 15,625 (authors' notebook, "
                  "|rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.51, "cifar100": 0.54, "ImageNet16-120": 0.55},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
