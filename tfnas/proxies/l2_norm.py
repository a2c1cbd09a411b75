"""l2_norm: the summed norms of the initial weights.

A zero-cost baseline of NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022; NASLib
``l2_norm.py``; in SamsungLabs/zero-cost-nas as a file never registered, so not in Abdelfattah
et al.'s table).

score = Σ_l ‖W_l‖_F over the Conv2d and Linear weights of the freshly initialised network (the
run's seed, PyTorch's default init). Data-free: no images, no labels, no gradients. Higher is
better; never −inf. Since PyTorch's init bound shrinks with the fan-in, it grows with the number
and size of the conv ops — a parameter-count-like baseline.
"""

from __future__ import annotations

import torch

from tfnas.proxies._contract import Proxy, Published
from tfnas.proxies._gradients import weight_layers


def l2_norm_score(network: torch.nn.Module) -> float:
    """Σ_l ‖W_l‖_F over ``network``'s conv/linear weights, in float64."""
    return float(sum(torch.linalg.vector_norm(m.weight.detach().double()).item()
                     for m in weight_layers(network)))


PROXY = Proxy(
    name="l2_norm",
    citation="NAS-Bench-Suite-Zero, Krishnakumar et al., NeurIPS 2022 (code: automl/NASLib)",
    reads=frozenset(),
    convention="sum over conv/linear layers of the Frobenius norm of the initial weights; "
               "higher is better",
    settings="data-free; seeded PyTorch init; float64 sum",
    score=lambda arch, run: l2_norm_score(run.network(arch)),
    published=(
        Published("spearman", {"cifar10": 0.68, "cifar100": 0.72, "ImageNet16-120": 0.69},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
