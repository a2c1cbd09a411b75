"""Shared passes of the gradient-based proxies: the loss gradient of every conv/linear weight,
and the Jacobian of the summed logits with respect to the input.

Conventions (zero-cost-nas, Abdelfattah et al. 2021, ``foresight/pruners``): the network is the
freshly initialised one (the run's seed, PyTorch's default init), in train mode (BatchNorm on
the batch's statistics), its BatchNorms kept; the loss is the mean cross-entropy of the batch
on its real labels; "layers" are the ``nn.Conv2d`` and ``nn.Linear`` modules, and only their
``weight`` counts (no bias, no BN parameters). Each proxy says its dtype: at initialisation
these networks amplify rounding by ~×1.35 per cell, so a score that cancels (a signed sum such
as GraSP's or plain's) moves with the thread count in float32 (tests/test_registry.py) and is
computed in float64; sums of magnitudes agree across thread counts to ~1e-9 in float32, which
is 3.5× faster on a CPU (float64 convolutions have no oneDNN kernels).

A run shares a pass between the proxies that read it (grad_norm, snip, plain and GraSP's first
gradient; jacov and epe_nas): :meth:`ScoringRun.shared` keeps the last architecture's result,
and the seconds of the pass are counted once, by the first proxy that needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from tfnas.proxies._contract import ScoringRun
    from tfnas.space import Arch


class WeightGradient(NamedTuple):
    """One conv/linear layer: its weight and the loss gradient (in the dtype it was computed
    in: float64 for fisher, grasp, plain; float32 for grad_norm and snip; detached)."""

    module: nn.Module
    weight: torch.Tensor
    grad: torch.Tensor


def weight_layers(network: nn.Module) -> list[nn.Module]:
    """The ``nn.Conv2d`` and ``nn.Linear`` modules, in ``modules()`` order."""
    return [m for m in network.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def prepared(network: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``network`` in ``dtype`` and train mode (in place)."""
    return network.to(dtype).train()


def loss_of(network: nn.Module, images: torch.Tensor, labels: torch.Tensor,
            dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Mean cross-entropy of ``network`` (``dtype``, train mode) on the labelled batch."""
    return F.cross_entropy(prepared(network, dtype)(images.to(dtype)), labels)


def weight_gradients(network: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     dtype: torch.dtype = torch.float64) -> list[WeightGradient]:
    """∂L/∂W for every conv/linear weight W (zeros where the loss does not reach W)."""
    network.zero_grad(set_to_none=True)
    loss_of(network, images, labels, dtype).backward()
    return [WeightGradient(m, m.weight.detach(),
                           m.weight.grad.detach() if m.weight.grad is not None
                           else torch.zeros_like(m.weight))
            for m in weight_layers(network)]


def input_jacobian(network: nn.Module, images: torch.Tensor,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """J (N × 3HW, float64): row n is ∂(Σ_{m,c} logits_{m,c}) / ∂x_n — the gradient of the
    summed logits of the whole batch (train-mode BN couples the images), as zero-cost-nas and
    EPE-NAS compute it; the pass runs in ``dtype``."""
    x = images.to(dtype).clone().requires_grad_(True)
    logits = prepared(network, dtype)(x)
    logits.backward(torch.ones_like(logits))
    return x.grad.detach().flatten(1).double()


def shared_weight_gradients(arch: Arch, run: ScoringRun, dtype: torch.dtype
                            ) -> list[WeightGradient]:
    """:func:`weight_gradients` of ``arch``'s network on the run's batch in ``dtype``, computed
    once per architecture for every proxy of the run that reads it."""
    return run.shared(arch, f"weight_gradients/{dtype}", lambda: weight_gradients(
        run.network(arch), run.images, run.labels, dtype))


def shared_input_jacobian(arch: Arch, run: ScoringRun, dtype: torch.dtype) -> torch.Tensor:
    """:func:`input_jacobian` of ``arch``'s network on the run's images in ``dtype``, computed
    once per architecture for every proxy of the run that reads it."""
    return run.shared(arch, f"input_jacobian/{dtype}", lambda: input_jacobian(
        run.network(arch), run.images, dtype))


def correlation(rows: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between the rows (numpy.corrcoef); NaN where a row is constant."""
    return torch.corrcoef(rows)
