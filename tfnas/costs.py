"""Parameter count and FLOPs of TSS networks, in the NATS-Bench convention.

Convention (NATS-Bench, Dong et al. TPAMI 2021): parameters include BatchNorm
affine weights and no conv bias; FLOPs are multiply-accumulates — conv
``k²·C_in·C_out·H_out·W_out``, linear ``in·out + out`` — with pooling, BN,
skip and zero ops costing nothing. Both are baselines for training-free NAS
("higher is better": more parameters / FLOPs predict higher accuracy).

Since both depend only on the ops, :func:`arch_params` and :func:`arch_flops`
are closed forms: the cost of the op-free skeleton plus a per-edge cost for
each conv op (no torch: reading them costs nothing). :func:`tfnas.network.count_params` and
:func:`tfnas.network.count_flops` measure a built network instead and cross-check them.
"""

from __future__ import annotations

from tfnas.datasets import DatasetSpec
from tfnas.space import Arch

C, N = 16, 5  # the TSS macro skeleton: initial channels, cells per stage
STAGE_CHANNELS = (C, 2 * C, 4 * C)
KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


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
    k = KERNEL.get(op)
    return 0 if k is None else N * sum(k * k * c * c + 2 * c for c in STAGE_CHANNELS)


def _edge_macs(op: str, image_size: int) -> int:
    k = KERNEL.get(op)
    if k is None:
        return 0
    sides = _stage_sides(image_size)
    return N * sum(k * k * c * c * s * s for c, s in zip(STAGE_CHANNELS, sides, strict=True))


def arch_params(arch: Arch, spec: DatasetSpec) -> int:
    """Number of parameters of ``arch``'s network for the dataset (NATS-Bench convention)."""
    return _skeleton_params(spec.num_classes) + sum(_edge_params(op) for op in arch.ops)


def arch_flops(arch: Arch, spec: DatasetSpec) -> float:
    """FLOPs of ``arch``'s network on one image of the dataset, in millions of MACs."""
    macs = _skeleton_macs(spec.num_classes, spec.image_size) + sum(
        _edge_macs(op, spec.image_size) for op in arch.ops
    )
    return macs / 1e6


def cost_rows() -> list[tuple[int, str, str, int, float]]:
    """``(arch_code, dataset, "tfnas", params, flops_m)`` for every architecture × dataset:
    the project's rows of the database's ``costs`` table."""
    from tfnas.datasets import DATASETS
    from tfnas.space import all_archs

    return [(arch.code, spec.name, "tfnas", arch_params(arch, spec), arch_flops(arch, spec))
            for arch in all_archs() for spec in DATASETS.values()]
