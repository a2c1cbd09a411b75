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
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


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
        raise ValueError("synflow sum is NaN; the network produced non-finite values")
    return math.log(total) if total > 0 else -math.inf
