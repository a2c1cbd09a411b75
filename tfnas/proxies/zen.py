"""Zen-score: how much the network's features move under a small input perturbation,
corrected by the scale of every BatchNorm.

Lin, Wang, Sun, Chen, Sun, Qian, Li & Jin, "Zen-NAS: A Zero-Shot NAS for High-Performance Image
Recognition", ICCV 2021 (code: idstcv/ZenNAS, ``ZeroShotProxy/compute_zen_score.py``); on
NAS-Bench-201 as ``zen`` in NAS-Bench-Suite-Zero (NASLib, which reads the features at the global
average pool's input and keeps the residual links).

Every Conv2d and Linear weight is redrawn from N(0, 1) (biases 0), BN starts at γ = 1, β = 0.
x ~ N(0, 1) and ε ~ N(0, 1) of the batch's shape, x' = x + 0.01 ε. F and F' are the features
before global average pooling (after the final BN and ReLU) of x and x'. With the network in
train mode the two forward passes also update every BN's running variance (momentum 0.1).
score = log( mean_n Σ |F_n − F'_n| ) + Σ_BN log √(mean_c running_var_c) — the per-image L1
norm and the running variance, as the reference code computes them (the paper writes a Frobenius
norm and the batch variance). Higher is better; −inf when the features do not move.

Settings: data-free (Gaussian inputs, no labels), the run's batch size (ZenNAS search: 64),
one repeat, every draw from the run's seed, float64.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tfnas.proxies._contract import Proxy, Published, ScoringRun
from tfnas.proxies._reinit import gaussian_weights
from tfnas.space import Arch

MIXUP_GAMMA = 1e-2


def zen_score(network: nn.Module, batch_size: int, input_shape: tuple[int, ...],
              seed: int = 0) -> float:
    """Zen-score of ``network`` (modified: weights redrawn; see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    network = network.double().train()
    gaussian_weights(network, generator)
    with torch.no_grad():
        x = torch.randn((batch_size, *input_shape), generator=generator, dtype=torch.float64)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
        # two calls, x first, as the reference runs them (one call would mix BN statistics)
        moved = pooled_input(network, x) - pooled_input(network, x + MIXUP_GAMMA * noise)
    delta = moved.abs().flatten(1).sum(1).mean()
    if delta.item() <= 0:
        return -math.inf
    bn_term = sum(math.log(math.sqrt(m.running_var.mean().item()))
                  for m in network.modules() if isinstance(m, nn.BatchNorm2d))
    return math.log(delta.item()) + bn_term


def pooled_input(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input of ``network``'s global average pool: the features after the final BN and
    ReLU (a forward hook; the network runs in whatever mode it is in)."""
    captured = []
    hook = network.global_pooling.register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0]))
    try:
        network(x)
    finally:
        hook.remove()
    return captured[0]


def _score(arch: Arch, run: ScoringRun) -> float:
    return zen_score(run.network(arch), run.batch_size, run.input_shape, run.seed)


PROXY = Proxy(
    name="zen",
    citation="Lin et al., Zen-NAS, ICCV 2021 (code: idstcv/ZenNAS); NAS-Bench-Suite-Zero, "
             "NeurIPS 2022",
    reads=frozenset(),
    convention="log of the mean L1 change of the pre-pooling features under a 0.01 Gaussian "
               "input perturbation plus the sum of log sqrt(mean BN running variance); higher "
               "is better; -inf when the features do not move",
    settings="data-free: Gaussian inputs of the run's batch size, weights redrawn N(0, 1), "
             "train-mode BN, one repeat, seeded, float64",
    score=_score,
    published=(
        Published("spearman", {"cifar10": 0.35, "cifar100": 0.35, "ImageNet16-120": 0.39},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
