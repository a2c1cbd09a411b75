"""The re-initialisations proxies score networks with, instead of the network's own seeded
PyTorch init: every Conv2d and Linear weight redrawn (biases 0), every affine BatchNorm at
γ = 1, β = 0, modules in ``network.modules()`` order, every draw from one generator.

- :func:`gaussian_weights`: weights N(0, 1) — Zen-NAS and SWAP (both reference codes call it
  ``network_weight_gaussian_init``).
- :func:`kaiming_weights`: weights Kaiming-normal, fan-in, ReLU gain — AZ-NAS
  (``init_model(model, 'kaiming_norm_fanin')``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def reinitialise(network: nn.Module, draw: Callable[[torch.Tensor], None]) -> None:
    """Redraw ``network`` in place: ``draw(weight)`` for every Conv2d and Linear weight, biases
    0, affine BatchNorm γ = 1, β = 0."""
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                draw(module.weight)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d) and module.affine:
                module.weight.fill_(1.0)
                module.bias.zero_()


def gaussian_weights(network: nn.Module, generator: torch.Generator) -> None:
    """Weights N(0, 1), each in its own dtype, drawn from ``generator``."""
    reinitialise(network, lambda weight: weight.copy_(
        torch.randn(weight.shape, generator=generator, dtype=weight.dtype)))


def kaiming_weights(network: nn.Module, generator: torch.Generator) -> None:
    """Weights Kaiming-normal (fan-in, ReLU gain), drawn from ``generator``."""
    reinitialise(network, lambda weight: nn.init.kaiming_normal_(
        weight, mode="fan_in", nonlinearity="relu", generator=generator))
