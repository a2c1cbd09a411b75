"""Proxies vs. real NATS-Bench accuracies on real CIFAR-10 images (issue: fidelity test).

60 architectures at NATS-Bench indices ``default_rng(0).choice(15625, 60, replace=False)``,
batch of 128 real CIFAR-10 training images (``../shared/data/images/cifar10_sample.npz``),
seed 0. Published Spearman over the space: NASWOT ≈ 0.77, Synflow ≈ 0.74.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tfnas.datasets import dataset_spec, sample_batch
from tfnas.proxies import ScoringRun
from tfnas.scoring import score_arch
from tfnas.space import Arch


@pytest.fixture(scope="module")
def scored(shared_data):
    table = pd.read_csv(shared_data / "nats_tss_accuracy.csv", index_col="arch_index")
    indices = np.random.default_rng(0).choice(15625, 60, replace=False)
    spec = dataset_spec("cifar10")
    batch = sample_batch(spec, shared_data / "images" / "cifar10_sample.npz")
    run = ScoringRun(spec, 0, "cpu", batch)
    rows = []
    for index in indices:
        scores = score_arch(Arch.from_str(table.at[index, "arch_str"]), run,
                            ("naswot", "synflow"))
        rows.append({"naswot": scores["naswot"].score, "synflow": scores["synflow"].score,
                     "acc": table.at[index, "cifar10_test_acc_200ep"]})
    return pd.DataFrame(rows)


@pytest.mark.slow
@pytest.mark.parametrize("proxy", ["naswot", "synflow"])
def test_proxy_ranks_real_architectures_like_published(scored, proxy):
    rho = stats.spearmanr(scored[proxy], scored["acc"]).statistic
    print(f"{proxy}: Spearman {rho:.4f} over {len(scored)} architectures")
    assert rho >= 0.6
    assert not scored[proxy].isna().any()
