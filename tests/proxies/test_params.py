"""#params (tfnas/proxies/params.py): NATS-Bench's counts, in closed form and on the network."""

import numpy as np
import pytest

from tfnas.costs import arch_params
from tfnas.datasets import DATASETS
from tfnas.network import build_network, count_params
from tfnas.proxies import ScoringRun, get
from tfnas.space import Arch

ALL_CONV = Arch(("nor_conv_3x3",) * 6)
ALL_NONE = Arch(("none",) * 6)
MIXED = Arch.from_str("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                      "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
# NATS-Bench facts (its API's get_cost_info): params on cifar10 / cifar100 / ImageNet16-120.
FACTS = [(ALL_CONV, (1_531_546, 1_537_396, 1_538_696)), (ALL_NONE, (73_306, 79_156, 80_456)),
         (MIXED, (129_306, 135_156, 136_456))]


@pytest.mark.parametrize(("arch", "params"), FACTS)
def test_the_proxy_reproduces_nats_bench(arch, params):
    for spec, expected in zip(DATASETS.values(), params, strict=True):
        assert get("params").score(arch, ScoringRun(spec)) == expected
        assert count_params(build_network(arch, spec.num_classes, seed=0)) == expected


def test_closed_form_agrees_with_the_network_on_a_sample():
    for code in np.random.default_rng(0).choice(15625, 12, replace=False):
        arch = Arch.from_code(int(code))
        for spec in DATASETS.values():
            assert arch_params(arch, spec) == count_params(build_network(arch, spec.num_classes))
