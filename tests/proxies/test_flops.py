"""FLOPs (tfnas/proxies/flops.py): NATS-Bench's MACs, in closed form and counted by hooks."""

import numpy as np
import pytest

from tfnas.costs import arch_flops
from tfnas.datasets import DATASETS
from tfnas.network import build_network, count_flops
from tfnas.proxies import ScoringRun, get
from tfnas.space import Arch

ALL_CONV = Arch(("nor_conv_3x3",) * 6)
ALL_NONE = Arch(("none",) * 6)
MIXED = Arch.from_str("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                      "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
# NATS-Bench facts (get_cost_info): millions of MACs on cifar10 / cifar100 / ImageNet16-120.
FACTS = [(ALL_CONV, (220.11969, 220.12554, 55.03756)), (ALL_NONE, (7.78305, 7.7889, 1.9534)),
         (MIXED, (15.64737, 15.65322, 3.91948))]


@pytest.mark.parametrize(("arch", "mflops"), FACTS)
def test_the_proxy_reproduces_nats_bench(arch, mflops):
    for spec, expected in zip(DATASETS.values(), mflops, strict=True):
        assert get("flops").score(arch, ScoringRun(spec)) == pytest.approx(expected, abs=5e-6)
        network = build_network(arch, spec.num_classes, seed=0)
        assert count_flops(network, spec.image_size) == pytest.approx(expected, abs=5e-6)


def test_closed_form_agrees_with_the_network_on_a_sample():
    for code in np.random.default_rng(1).choice(15625, 12, replace=False):
        arch = Arch.from_code(int(code))
        for spec in DATASETS.values():
            counted = count_flops(build_network(arch, spec.num_classes), spec.image_size)
            assert arch_flops(arch, spec) == pytest.approx(counted, rel=1e-12)
