"""#params: the parameter count of the architecture's network, as a baseline proxy.

Abdelfattah et al. (ICLR 2021) and NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022)
report it as a competitive baseline in this space. NATS-Bench convention: BatchNorm affine
weights counted, no conv bias (:func:`tfnas.costs.arch_params`, a closed form cross-checked
against the built network). Higher is better; never −inf.
"""

from __future__ import annotations

from tfnas.costs import arch_params
from tfnas.proxies._contract import Proxy, Published

PROXY = Proxy(
    name="params",
    citation="baseline; NATS-Bench convention (Dong et al., TPAMI 2021)",
    reads=frozenset(),
    convention="number of parameters (a count); higher is better",
    settings="closed form per op, no network built",
    score=lambda arch, run: float(arch_params(arch, run.spec)),
    published=(
        Published("spearman", {"cifar10": 0.72, "cifar100": 0.73, "ImageNet16-120": 0.69},
                  "valid_acc_200ep", "NAS-Bench-Suite-Zero, 1000 archs"),
    ),
)
