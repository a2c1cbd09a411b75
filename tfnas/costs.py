"""Parameter count and FLOPs of TSS networks, in the NATS-Bench convention.

Convention (NATS-Bench, Dong et al. TPAMI 2021): parameters include BatchNorm
affine weights and no conv bias; FLOPs are multiply-accumulates — conv
``k²·C_in·C_out·H_out·W_out``, linear ``in·out + out`` — with pooling, BN,
skip and zero ops costing nothing. Both are baselines for training-free NAS
("higher is better": more parameters / FLOPs predict higher accuracy).

Since both depend only on the ops, :func:`arch_params` and :func:`arch_flops`
are closed forms: the cost of the op-free skeleton plus a per-edge cost for
each conv op. :func:`count_params` and :func:`count_flops` measure a built
network instead and cross-check the closed forms.
"""

from __future__ import annotations

import torch
from torch import nn

from tfnas.datasets import dataset_spec
from tfnas.network import C, N
from tfnas.space import Arch, parse_arch

STAGE_CHANNELS = (C, 2 * C, 4 * C)
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


def _as_arch(arch: Arch | str) -> Arch:
    return parse_arch(arch) if isinstance(arch, str) else arch


def _stage_sides(image_size: int) -> tuple[int, int, int]:
    return image_size, image_size // 2, image_size // 4


def _skeleton_params(num_classes: int) -> int:
    stem = 9 * 3 * C + 2 * C
    reductions = sum(
        9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out
        for c_in, c_out in zip(STAGE_CHANNELS[:-1], STAGE_CHANNELS[1:], strict=True)
    )
    head = 2 * 4 * C + 4 * C * num_classes + num_classes
    return stem + reductions + head


def _skeleton_macs(num_classes: int, image_size: int) -> int:
    sides = _stage_sides(image_size)
    stem = 9 * 3 * C * sides[0] ** 2
    reductions = sum(
        (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * side**2
        for c_in, c_out, side in zip(STAGE_CHANNELS[:-1], STAGE_CHANNELS[1:], sides[1:],
                                     strict=True)
    )
    return stem + reductions + 4 * C * num_classes + num_classes


def _edge_params(op: str) -> int:
    k = _KERNEL.get(op)
    return 0 if k is None else N * sum(k * k * c * c + 2 * c for c in STAGE_CHANNELS)


def _edge_macs(op: str, image_size: int) -> int:
    k = _KERNEL.get(op)
    if k is None:
        return 0
    sides = _stage_sides(image_size)
    return N * sum(k * k * c * c * s * s for c, s in zip(STAGE_CHANNELS, sides, strict=True))


def arch_params(arch: Arch | str, dataset: str) -> int:
    """Number of parameters of ``arch``'s network for ``dataset`` (NATS-Bench convention)."""
    spec = dataset_spec(dataset)
    return _skeleton_params(spec.num_classes) + sum(_edge_params(op) for op in _as_arch(arch).ops)


def arch_flops(arch: Arch | str, dataset: str) -> float:
    """FLOPs of ``arch``'s network on one ``dataset`` image, in millions of MACs (NATS-Bench)."""
    spec = dataset_spec(dataset)
    macs = _skeleton_macs(spec.num_classes, spec.image_size) + sum(
        _edge_macs(op, spec.image_size) for op in _as_arch(arch).ops
    )
    return macs / 1e6


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
