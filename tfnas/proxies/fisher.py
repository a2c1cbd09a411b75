"""Fisher: the Fisher information of every channel's activation, summed over the network.

Theis et al., "Faster gaze prediction with dense networks and Fisher pruning", 2018; Turner et
al., "BlockSwap", ICLR 2020; as a NAS proxy: Abdelfattah et al., ICLR 2021 (code:
SamsungLabs/zero-cost-nas, ``foresight/pruners/measures/fisher.py``).

For every Conv2d and Linear layer l with output a (before the BN that follows; the classifier's
logits) and g = ∂L/∂a: s_{n,k} = Σ_{h,w} a_{n,k,h,w} g_{n,k,h,w} per image n and channel k, and
Δ_{l,k} = ½ · mean_n s_{n,k}². The reference spreads each channel's Δ over that channel's
weights before summing, so a layer counts fan_in_l = C_in·k_h·k_w (in_features for the
classifier) times: score = Σ_l fan_in_l · Σ_k Δ_{l,k}. That factor is kept, so our numbers are
the reference's. L is the mean cross-entropy of the batch on its labels. Higher is better;
never −inf.

Settings: real images with labels (paper: 64), train-mode BN, seeded PyTorch init, float32 (a
sum of squares: it agrees across thread counts), accumulated in float64.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.proxies._contract import IMAGES, LABELS, Proxy, Published
from tfnas.proxies._gradients import loss_of, weight_layers


def fisher_score(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fisher of ``network`` on the labelled batch (see the module docstring)."""
    outputs: list[tuple[nn.Module, torch.Tensor]] = []

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        output.retain_grad()
        outputs.append((module, output))

    handles = [m.register_forward_hook(keep) for m in weight_layers(network)]
    try:
        network.zero_grad(set_to_none=True)
        loss_of(network, images, labels, torch.float32).backward()
    finally:
        for handle in handles:
            handle.remove()
    total = 0.0
    for module, a in outputs:
        if a.grad is None:
            continue
        s = (a * a.grad).flatten(2).sum(-1) if a.dim() == 4 else a * a.grad  # N × channels
        fan_in = module.weight[0].numel()
        total += fan_in * (0.5 * s.double().pow(2).mean(0)).sum().item()
    return total


PROXY = Proxy(
    name="fisher",
    citation="Theis et al. 2018; Turner et al., BlockSwap, ICLR 2020; as a NAS proxy: "
             "Abdelfattah et al., ICLR 2021 (code: SamsungLabs/zero-cost-nas)",
    reads=frozenset({IMAGES, LABELS}),
    convention="sum over conv/linear layers of fan-in times the summed per-channel Fisher "
               "0.5*mean_n(sum_hw a*dL/da)^2 (the reference's weighting); higher is better",
    settings="batch of real images with labels (paper: 64), mean cross-entropy, train-mode BN, "
             "seeded PyTorch init, float32",
    score=lambda arch, run: fisher_score(run.network(arch), run.images, run.labels),
    published=(
        Published("spearman", {"cifar10": 0.360, "cifar100": 0.385, "ImageNet16-120": 0.327},
                  "test_acc_200ep", "Abdelfattah et al. 2021, all 15,625 (authors' notebook, "
                  "|rho|; CIFAR-10 test of the cifar10-valid run)"),
        Published("spearman", {"cifar10": 0.50, "cifar100": 0.54, "ImageNet16-120": 0.48},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
