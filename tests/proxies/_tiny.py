"""Tiny networks and batches for the proxy tests: small enough for closed forms."""

from __future__ import annotations

import torch
from torch import nn


def linear_classifier(d: int = 6, c: int = 3, seed: int = 0) -> nn.Module:
    """x (N × d) ↦ W x: softmax regression, whose loss gradient has a closed form."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, c, bias=False))


def batch(n: int = 8, d: int = 6, c: int = 3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=generator), torch.randint(0, c, (n,), generator=generator)


def softmax_gradient(weight: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂/∂W of the mean cross-entropy of softmax(W x): (P − Y)ᵀ X / N, in float64."""
    w, x = weight.double(), x.double()
    p = torch.softmax(x @ w.T, dim=1)
    onehot = torch.nn.functional.one_hot(y, w.shape[0]).double()
    return (p - onehot).T @ x / len(x)
