import numpy as np
import pytest

from tfnas.costs import arch_flops, arch_params, count_flops, count_params
from tfnas.datasets import dataset_spec
from tfnas.network import build_network
from tfnas.space import Arch

ALL_CONV = Arch(("nor_conv_3x3",) * 6)
ALL_NONE = Arch(("none",) * 6)
MIXED = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
         "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
DATASETS = ("cifar10", "cifar100", "ImageNet16-120")

# NATS-Bench facts (DESIGN.md): params, MFLOPs per dataset.
FACTS = [
    (ALL_CONV, (1_531_546, 1_537_396, 1_538_696), (220.11969, 220.12554, 55.03756)),
    (ALL_NONE, (73_306, 79_156, 80_456), (7.78305, 7.7889, 1.9534)),
    (MIXED, (129_306, 135_156, 136_456), (15.64737, 15.65322, 3.91948)),
]


@pytest.mark.parametrize("arch, params, mflops", FACTS)
def test_closed_forms_reproduce_nats_bench(arch, params, mflops):
    for dataset, p, f in zip(DATASETS, params, mflops, strict=True):
        assert arch_params(arch, dataset) == p
        assert arch_flops(arch, dataset) == pytest.approx(f, abs=5e-6)


@pytest.mark.parametrize("arch, params, mflops", FACTS)
def test_built_network_reproduces_nats_bench(arch, params, mflops):
    for dataset, p, f in zip(DATASETS, params, mflops, strict=True):
        spec = dataset_spec(dataset)
        net = build_network(arch, spec.num_classes, seed=0)
        assert count_params(net) == p
        assert count_flops(net, spec.image_size) == pytest.approx(f, abs=5e-6)


def test_closed_forms_agree_with_the_network_on_a_sample():
    codes = np.random.default_rng(0).choice(15625, 12, replace=False)
    for code in codes:
        arch = Arch.from_code(int(code))
        for dataset in ("cifar100", "ImageNet16-120"):
            spec = dataset_spec(dataset)
            net = build_network(arch, spec.num_classes)
            assert arch_params(arch, dataset) == count_params(net)
            assert arch_flops(arch, dataset) == pytest.approx(count_flops(net, spec.image_size),
                                                              rel=1e-12)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="cifar10"):
        arch_params(ALL_CONV, "cifar1000")
