"""The Gaussian re-initialisation that Zen-NAS and SWAP score networks with (both reference
codes call it ``network_weight_gaussian_init``): every Conv2d and Linear weight redrawn from
N(0, 1) with biases 0, every BatchNorm at γ = 1, β = 0."""

from __future__ import annotations

import torch
from torch import nn


def gaussian_weights(network: nn.Module, generator: torch.Generator) -> None:
    """Redraw ``network``'s weights in place as the module docstring says: modules in
    ``network.modules()`` order, each weight in its own dtype, every draw from ``generator``."""
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator,
                                                dtype=module.weight.dtype))
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
