"""Every registered proxy keeps the contract (tfnas/proxies/_contract.py), checked here for
each proxy the registry lists, so a new proxy module is tested by these without a line added:
metadata, never NaN, deterministic per seed, independent of the thread count, the fast path
equal to the plain one, and labels required where read."""


import pytest
import torch

from tfnas import proxies
from tfnas.datasets import DATASETS, Batch
from tfnas.plugins import CONTRACT_ARCHS
from tfnas.proxies import IMAGES, LABELS, ScoringRun
from tfnas.space import Arch

NAMES = proxies.names()
SPEC = DATASETS["ImageNet16-120"]
ARCHS = [
    Arch(("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect",
          "nor_conv_1x1")),
    Arch(("avg_pool_3x3", "skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "none")),
    Arch(("none",) * 6),
]


def run(seed: int = 0) -> ScoringRun:
    generator = torch.Generator().manual_seed(11)
    images = torch.randn(8, 3, 16, 16, generator=generator)
    labels = torch.randint(0, SPEC.num_classes, (8,), generator=generator)
    return ScoringRun(SPEC, seed, "cpu", Batch(images, labels, "test"))


def test_the_registry_lists_every_module_once_by_its_name():
    assert {"naswot", "synflow", "params", "flops"} <= set(NAMES)
    assert list(NAMES) == sorted(NAMES)
    for name in NAMES:
        proxy = proxies.get(name)
        assert proxy.name == name and proxy.citation and proxy.settings
        assert "higher is better" in proxy.convention
        assert proxy.reads <= {IMAGES, LABELS}
        if LABELS in proxy.reads:
            assert IMAGES in proxy.reads
        for published in proxy.published:
            assert published.statistic in ("spearman", "kendall", "pearson")
            assert set(published.values) <= set(DATASETS) and published.source
    with pytest.raises(ValueError, match="--proxies: unknown proxy 'nope'; choose from "):
        proxies.check_proxies(["nope"])
    with pytest.raises(ValueError, match="--proxies: no proxy given"):
        proxies.check_proxies([])


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_numbers_deterministic_per_seed_and_thread_independent(name):
    """The contract check `tfnas evaluate` runs on a proxy file (tfnas.plugins): a float,
    never NaN, the same twice and with 1 and 2 threads (float64 is chosen where float32 makes
    the score move with the thread count: plain moves 9.4e-7 in float32 here, inside 1e-6; a
    proxy declaring float64 must agree to 1e-12), finite for a normal architecture, labels
    read only if declared."""
    from tfnas.plugins import check_contract

    assert tuple(ARCHS) == CONTRACT_ARCHS
    check_contract(proxies.get(name), SPEC, run().batch)


@pytest.mark.parametrize("name", [n for n in NAMES if proxies.get(n).score_many is not None])
def test_the_fast_path_equals_the_plain_scorer(name):
    proxy = proxies.get(name)
    fast = proxy.score_many(ARCHS, run(seed=2))
    for arch, score in zip(ARCHS, fast, strict=True):
        plain = proxy.score(arch, run(seed=2))
        assert score == plain or abs(score - plain) <= 1e-6 * abs(plain), (name, arch)


@pytest.mark.parametrize("name", [n for n in NAMES if LABELS in proxies.get(n).reads])
def test_proxies_that_read_labels_refuse_a_batch_without_them(name):
    from tfnas.scoring import score_archs

    unlabelled = run()
    unlabelled.batch.labels[:] = -1
    with pytest.raises(ValueError, match=f"8 of the 8 images .* proxies {name}"):
        score_archs(ARCHS[:1], unlabelled, (name,))


def test_a_batch_too_small_for_a_proxy_is_refused_before_scoring():
    """Over one image NASWOT's kernel is 1×1 (log N_A), TE-NAS's NTK has κ = 1 (the best score
    for every architecture) and jacov's correlation has no eigenvalues: one line instead."""
    from tfnas.scoring import score_archs

    assert {n for n in NAMES if proxies.get(n).min_batch == 2} == {
        "epe_nas", "jacov", "naswot", "swap", "tenas_ntk", "zico"}
    assert all(proxies.get(n).min_batch in (1, 2) for n in NAMES)
    single = run()
    single = ScoringRun(SPEC, 0, "cpu", Batch(single.batch.images[:1], single.batch.labels[:1],
                                              "test"))
    assert proxies.get("tenas_ntk").score(ARCHS[0], single) == -1.0  # what the check prevents
    with pytest.raises(ValueError, match=r"^--batch-size 1 is too small for jacov, tenas_ntk: "
                                         r"they compare the images of a batch; use --batch-size "
                                         r"2 or more$"):
        score_archs(ARCHS[:1], single, ("grad_norm", "jacov", "tenas_ntk"))
    with pytest.raises(ValueError, match="too small for naswot: it compares"):
        proxies.check_batch_size(["params", "naswot"], 1)
    proxies.check_batch_size(["params", "synflow", "grad_norm"], 1)
    proxies.check_batch_size(NAMES, 2)
