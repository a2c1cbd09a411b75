"""NASWOT: the log-determinant of the activation-pattern kernel.

Mellor, Turner, Storkey & Crowley, "Neural Architecture Search without
Training", ICML 2021 (reference code: BayesWatch/nas-without-training).

For a minibatch of ``B`` images and every ReLU of the network, the ReLU's
*input* is flattened per image into a binary code c = (input > 0). Summed over
all ReLUs, K = Σ c cᵀ + (1 − c)(1 − c)ᵀ, i.e. K_ij = N_A − d_H(c_i, c_j) with
N_A the number of ReLU units and d_H the Hamming distance. The score is
log|det K|. Higher is better; −inf when K is singular (e.g. two identical
codes), never NaN.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def kernel_logdet(kernel: torch.Tensor) -> float:
    """log|det K| in float64; −inf for a singular kernel."""
    sign, logabsdet = torch.linalg.slogdet(kernel.to(torch.float64))
    if sign.item() == 0 or not math.isfinite(logabsdet.item()):
        return -math.inf
    return logabsdet.item()


def naswot_kernel(network: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """K = Σ_ReLUs c cᵀ + (1 − c)(1 − c)ᵀ (float64, B×B) for one forward pass in train mode.

    The network is run as NASWOT runs it: freshly initialised, in train mode
    (BatchNorm uses batch statistics), one forward pass, no gradients.
    """
    if not torch.isfinite(batch).all():
        raise ValueError("NASWOT batch contains NaN or inf; check the input images")
    kernel = torch.zeros(batch.shape[0], batch.shape[0], dtype=torch.float64,
                         device=batch.device)

    def accumulate(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        codes = (inputs[0].flatten(1) > 0).to(torch.float32)
        # Products of 0/1 codes summed over ≤ 2²⁴ units are exact in float32.
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    relus = [m for m in network.modules() if isinstance(m, nn.ReLU)]
    handles = [relu.register_forward_hook(accumulate) for relu in relus]
    try:
        network.train()
        with torch.no_grad():
            network(batch)
    finally:
        for handle in handles:
            handle.remove()
    return kernel


def naswot_score(network: nn.Module, batch: torch.Tensor) -> float:
    """NASWOT score log|det K| of ``network`` on ``batch`` (Mellor et al. 2021).

    Higher is better; −inf for a singular kernel. ``batch`` is a normalised
    N×3×H×W float tensor on the network's device.
    """
    return kernel_logdet(naswot_kernel(network, batch))
