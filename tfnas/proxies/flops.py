"""FLOPs: the multiply-accumulates of one forward pass, as a baseline proxy.

NATS-Bench convention: millions of MACs per image, conv k²·C_in·C_out·H·W plus the linear
layer's in·out + out; pooling, BN, skip and zero ops count nothing
(:func:`tfnas.costs.arch_flops`, a closed form cross-checked against the built network).
Higher is better; never −inf.
"""

from __future__ import annotations

from tfnas.costs import arch_flops
from tfnas.proxies._contract import Proxy, Published

PROXY = Proxy(
    name="flops",
    citation="baseline; NATS-Bench convention (Dong et al., TPAMI 2021)",
    reads=frozenset(),
    convention="millions of multiply-accumulates per image; higher is better",
    settings="closed form per op, no network built",
    score=lambda arch, run: arch_flops(arch, run.spec),
    published=(
        Published("spearman", {"cifar10": 0.69, "cifar100": 0.71, "ImageNet16-120": 0.67},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
