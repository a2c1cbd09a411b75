"""The NATS-Bench TSS network (C=16, N=5) for one cell architecture.

Dong et al., NATS-Bench (TPAMI 2021), topology search space; the same macro
skeleton as NAS-Bench-201 (Dong & Yang, ICLR 2020):

    stem 3×3 conv (3→C, no bias) + BN
    → N cells at C → residual reduction → N cells at 2C → residual reduction → N cells at 4C
    → BN → ReLU → global average pool → linear classifier.

Inside a cell, node j = Σ_{i<j} op_ij(node_i) and the cell outputs node 3.
Conv ops are ReLU→Conv(no bias)→BN; ``avg_pool_3x3`` is stride 1, padding 1,
``count_include_pad=False``; ``none`` is the zero op; ``skip_connect`` the
identity. Every ReLU is an ``nn.ReLU`` module, so proxies can hook them.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.costs import C, N
from tfnas.space import EDGES, Arch, parse_arch


class ReLUConvBN(nn.Sequential):
    """ReLU → Conv2d (no bias) → BatchNorm2d."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out) if bn else nn.Identity(),
        )


class Zero(nn.Module):
    """The ``none`` op: an all-zero output of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int, bn: bool = True) -> nn.Module:
    """One edge operation of the TSS cell (stride 1, channels in = out)."""
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, bn)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, bn)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown op {op!r}")


class Cell(nn.Module):
    """A TSS cell: node j = Σ_{i<j} op_ij(node_i); returns node 3."""

    def __init__(self, arch: Arch, channels: int, bn: bool = True):
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels, bn) for op in arch.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in (1, 2, 3):
            nodes.append(sum(
                op(nodes[source])
                for op, (t, source) in zip(self.edges, EDGES, strict=True)
                if t == target
            ))
        return nodes[3]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's ResNet basic block with stride 2 between stages.

    ReLU-conv3×3(stride 2)-BN → ReLU-conv3×3-BN, plus a shortcut of 2×2 average
    pooling (stride 2) and a 1×1 conv (no bias).
    """

    def __init__(self, c_in: int, c_out: int, bn: bool = True):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class TinyNetwork(nn.Module):
    """The NATS-Bench TSS macro network around one cell (C=16, N=5; a proxy that scores a
    narrower or shallower copy, as TE-NAS does, passes ``width`` = C and ``depth`` = N)."""

    def __init__(self, arch: Arch, num_classes: int, bn: bool = True, width: int = C,
                 depth: int = N):
        super().__init__()
        self.arch = arch
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width) if bn else nn.Identity(),
        )
        layers: list[nn.Module] = []
        for stage, channels in enumerate((width, 2 * width, 4 * width)):
            if stage > 0:
                layers.append(ResidualReduction(channels // 2, channels, bn))
            layers.extend(Cell(arch, channels, bn) for _ in range(depth))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(
            nn.BatchNorm2d(4 * width) if bn else nn.Identity(),
            nn.ReLU(inplace=False),
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(x).flatten(1))


def build_network(
    arch: Arch | str, num_classes: int, *, seed: int | None = None, bn: bool = True,
    width: int = C, depth: int = N,
) -> TinyNetwork:
    """Build the TSS network for ``arch`` with PyTorch's default initialisation.

    With ``seed`` given, initialisation runs under ``torch.random.fork_rng`` seeded
    with it, so the same (arch, seed) gives bit-identical weights whatever was
    built before, without touching the caller's global RNG state.
    ``bn=False`` replaces every BatchNorm by the identity (for Synflow); ``width`` and
    ``depth`` build a narrower or shallower copy (C and N).
    """
    arch = parse_arch(arch) if isinstance(arch, str) else arch
    if seed is None:
        return TinyNetwork(arch, num_classes, bn, width, depth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyNetwork(arch, num_classes, bn, width, depth)


def count_params(network: nn.Module) -> int:
    """Parameters of a built network (BN affine included; TSS convs have no bias)."""
    return sum(p.numel() for p in network.parameters())


def count_flops(network: nn.Module, image_size: int) -> float:
    """Millions of MACs of one forward pass on a 3×``image_size``² image, counted by hooks."""
    macs = 0

    def conv_hook(module: nn.Conv2d, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        k_h, k_w = module.kernel_size
        per_position = k_h * k_w * module.in_channels * module.out_channels // module.groups
        macs += per_position * output.shape[2] * output.shape[3]
        if module.bias is not None:
            macs += module.out_channels * output.shape[2] * output.shape[3]

    def linear_hook(module: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal macs
        macs += module.in_features * module.out_features
        if module.bias is not None:
            macs += module.out_features

    handles = []
    for module in network.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
    was_training = network.training
    device = next(network.parameters()).device
    try:
        with torch.no_grad():
            network.eval()(torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        network.train(was_training)
        for handle in handles:
            handle.remove()
    return macs / 1e6
