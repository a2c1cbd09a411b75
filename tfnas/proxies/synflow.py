"""Synflow: the synaptic-flow saliency summed over the whole network.

Tanaka, Kunin, Yamins & Ganguli, "Pruning neural networks without any data by
iteratively conserving synaptic flow", NeurIPS 2020; used as a zero-cost NAS
proxy by Abdelfattah, Mehrotra, Dudziak & Lane, "Zero-Cost Proxies for
Lightweight NAS", ICLR 2021 (reference code: SamsungLabs/zero-cost-nas).

On a copy of the network with every BatchNorm replaced by the identity, in
float64, with every parameter replaced by its absolute value, the input is a
tensor of ones of shape [1, C, H, W] and R = Σ output. The score is
Σ over Conv2d and Linear weights θ of θ ⊙ ∂R/∂θ, stored as its natural log.
Higher is better; −inf when the sum is 0 (e.g. a cell that cuts the input off).

Settings: data-free (no images, no labels); the network's own seeded initialisation, BN
removed, float64, |θ|, ones input [1, C, H, W]; the sum over Conv2d and Linear weights (the
Linear bias excluded, as in the zero-cost-nas reference, which sums ``weight`` only).

Fast path: :mod:`tfnas.proxies._engine` computes the same sum in forward mode.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tfnas.errors import UserError
from tfnas.proxies._contract import Proxy, Published, ScoringRun
from tfnas.proxies._engine import Group, synflow_sums
from tfnas.space import Arch


def without_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm submodule of ``module`` by ``nn.Identity`` (in place)."""
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            without_batchnorm(child)
    return module


def synflow_sum(network: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Σ_{Conv2d, Linear weights} θ ⊙ ∂R/∂θ on a BN-free, float64, |θ| copy of ``network``."""
    net = without_batchnorm(copy.deepcopy(network)).double()
    device = next(net.parameters()).device
    with torch.no_grad():
        for param in net.parameters():
            param.abs_()
    net.zero_grad(set_to_none=True)
    net(torch.ones((1, *input_shape), dtype=torch.float64, device=device)).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    for layer in net.modules():
        if isinstance(layer, nn.Conv2d | nn.Linear) and layer.weight.grad is not None:
            total += (layer.weight * layer.weight.grad).sum()
    return total.item()


def synflow_score(network: nn.Module, input_shape: tuple[int, ...]) -> float:
    """log Synflow of ``network`` for inputs of shape ``input_shape`` = (C, H, W).

    Higher is better; −inf when the synaptic flow is 0. The network itself is
    left untouched (the proxy works on a copy).
    """
    return log_synflow(synflow_sum(network, input_shape))


def log_synflow(total: float) -> float:
    """The stored Synflow score: log of the synaptic-flow sum; −inf for a sum of 0."""
    if math.isnan(total):
        raise UserError("synflow sum is NaN; the network produced non-finite values")
    return math.log(total) if total > 0 else -math.inf


def _score_many(archs: list[Arch], run: ScoringRun) -> list[float]:
    sums = synflow_sums(Group(list(archs), run.spec.num_classes), run.input_shape,
                        run.init_stream())
    return [log_synflow(s) for s in sums.tolist()]


PROXY = Proxy(
    name="synflow",
    citation="Tanaka, Kunin, Yamins & Ganguli, Pruning neural networks without any data by "
             "iteratively conserving synaptic flow, NeurIPS 2020; as a NAS proxy: Abdelfattah "
             "et al., Zero-Cost Proxies for Lightweight NAS, ICLR 2021 "
             "(code: SamsungLabs/zero-cost-nas)",
    reads=frozenset(),
    convention="ln of the synaptic flow sum over Conv2d and Linear weights; higher is better; "
               "-inf for zero flow",
    settings="data-free: ones input [1, C, H, W], BN removed, |theta|, float64, seeded "
             "PyTorch init",
    score=lambda arch, run: synflow_score(run.network(arch), run.input_shape),
    score_many=_score_many,
    published=(
        Published("spearman", {"cifar10": 0.737, "cifar100": 0.763, "ImageNet16-120": 0.751},
                  "test_acc_200ep", "Abdelfattah et al. 2021, all 15,625 (authors' notebook, "
                  "|rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.73, "cifar100": 0.76, "ImageNet16-120": 0.75},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
