"""The scores shipped with tfnas (db/bundle.py): what they hold, that today's code computes the
same numbers, and ``tfnas db init`` — complete, idempotent, without torch."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import REPO

from db.bundle import BUNDLE, MIN_SAMPLE, SAMPLE, bundle_metadata
from db.read import read_scores
from tfnas import proxies
from tfnas.config import DEFAULT, NO_DATA
from tfnas.datasets import DATASETS, sample_batch
from tfnas.proxies import IMAGES, ScoringRun
from tfnas.scoring import score_arch
from tfnas.space import NUM_ARCHS, Arch, seeded_order

#: Relative tolerance of a re-score; params and flops are exact.
TOLERANCE = {"naswot": 1e-6, "synflow": 1e-9, "params": 0.0, "flops": 0.0}


@pytest.fixture(scope="module")
def bundle():
    return pq.read_table(str(BUNDLE)).to_pandas()


def test_the_zoo_sample_is_a_prefix_of_the_seeded_order_of_data_free_proxies(bundle):
    """Rows of the zoo's configuration (batch 64): for each (dataset, proxy) exactly the first
    n >= 1,000 architectures of the seeded order (a uniform sample that a later, larger one
    contains), data-free proxies only (their rows read no images)."""
    sample = bundle[bundle["batch_size"] == SAMPLE.batch_size]
    assert len(sample) and (sample["seed"] == SAMPLE.seed).all() and not sample["augment"].any()
    order = seeded_order()
    for (dataset, proxy), rows in sample.groupby(["dataset", "proxy"]):
        n = len(rows)
        assert n >= MIN_SAMPLE and sorted(rows["arch_code"]) == sorted(order[:n]), (dataset, proxy)
        assert not proxies.get(proxy).reads and (rows["data_fingerprint"] == NO_DATA).all()
    held = set(sample.groupby(["dataset", "proxy"]).groups)
    assert {(d, p) for d in ("cifar10", "ImageNet16-120") for p in (
        "az_expressivity", "az_progressivity", "az_trainability", "flops", "zen")} <= held


def test_the_bundle_holds_whole_spaces_of_the_default_configuration(bundle):
    assert Path(str(BUNDLE)).stat().st_size <= 15e6  # the zoo issue's budget
    bundle = bundle[bundle["batch_size"] != SAMPLE.batch_size]
    assert (bundle[["seed", "batch_size"]] == [DEFAULT.seed, DEFAULT.batch_size]).all().all()
    assert not bundle["augment"].any() and not bundle["score"].isna().any()
    counts = bundle.groupby(["dataset", "proxy"])["arch_code"].nunique()
    assert (counts == NUM_ARCHS).all() and len(bundle) == len(counts) * NUM_ARCHS
    held = set(counts.index)
    for dataset in DATASETS:  # the minimum: Synflow, params and FLOPs everywhere
        assert {(dataset, p) for p in ("synflow", "params", "flops")} <= held
    meta = bundle_metadata()
    for dataset, proxy in held:  # image-reading proxies: only on the real images named
        one = bundle[(bundle.dataset == dataset) & (bundle.proxy == proxy)]
        fingerprint = one["data_fingerprint"].unique().tolist()
        assert len(fingerprint) == 1
        if IMAGES in proxies.get(proxy).reads:
            assert fingerprint == [meta["images"][dataset]["fingerprint"]]
            assert dataset != "cifar100"  # the CIFAR-100 sample cannot fill a 128 batch
        else:
            assert fingerprint == [NO_DATA]  # as the pipeline stores a data-free proxy


def test_the_bundle_describes_its_proxies_as_the_registry_does(bundle):
    meta = bundle_metadata()
    shipped = {row["proxy"]: row for row in meta["proxies"]}
    assert set(shipped) == set(bundle["proxy"])
    for name, row in shipped.items():
        assert row == proxies.get(name).metadata(), f"{name}: rebuild the bundle"
    published = sorted(meta["published"], key=lambda r: sorted(r.items()))
    expected = sorted((row for name in shipped for row in proxies.get(name).published_rows()),
                      key=lambda r: sorted(r.items()))
    assert published == expected


def _sample(codes: int, dataset: str, proxy: str) -> list[int]:
    return sorted(np.random.default_rng([7, len(dataset), len(proxy)]).choice(
        NUM_ARCHS, codes, replace=False).tolist())


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_todays_code_computes_the_bundled_scores(bundle, dataset, shared_data):
    """A seeded sample of every bundled (dataset, proxy), re-scored with the same images."""
    rows = bundle[(bundle["dataset"] == dataset) & (bundle["batch_size"] == DEFAULT.batch_size)
                  ].set_index(["proxy", "arch_code"])
    meta = bundle_metadata()
    spec = DATASETS[dataset]
    batch = None
    if dataset in meta["images"]:
        file = shared_data / "images" / meta["images"][dataset]["file"]
        if not file.is_file():
            pytest.skip(f"the bundle's {dataset} images {file} are not here")
        batch = sample_batch(spec, file, DEFAULT)
        assert batch.fingerprint == meta["images"][dataset]["fingerprint"]
    run = ScoringRun(spec, DEFAULT.seed, "cpu", batch)
    for proxy in sorted(rows.index.get_level_values("proxy").unique()):
        for code in _sample(3, dataset, proxy):
            if (proxy, code) not in rows.index:  # a proxy of the zoo's sample only
                continue
            stored = rows.loc[(proxy, code), "score"]
            fresh = score_arch(Arch.from_code(code), run, [proxy])[proxy].score
            tolerance = TOLERANCE.get(proxy, 1e-6)
            assert fresh == stored or (math.isfinite(stored) and abs(fresh - stored)
                                       <= tolerance * abs(stored)), (dataset, proxy, code)


def test_todays_code_computes_the_zoo_sample(bundle):
    """Two architectures of every (dataset, proxy) of the zoo's sample, re-scored (data-free:
    no images), at its batch of 64."""
    sample = bundle[bundle["batch_size"] == SAMPLE.batch_size]
    for (dataset, proxy), rows in sample.groupby(["dataset", "proxy"]):
        run = ScoringRun(DATASETS[dataset], SAMPLE.seed, "cpu", None, SAMPLE.batch_size)
        rows = rows.set_index("arch_code")
        for code in sorted(rows.index)[::500][:2]:
            stored = rows.loc[code, "score"]
            fresh = score_arch(Arch.from_code(code), run, [proxy])[proxy].score
            assert fresh == stored or abs(fresh - stored) <= 1e-9 * abs(stored), (
                dataset, proxy, code, fresh, stored)


def test_db_init_builds_a_complete_database_without_torch_and_adds_nothing_twice(tmp_path):
    code = ("import sys; from tfnas.cli import main; status = main(['db', 'init', '--db', "
            "sys.argv[1]]); assert 'torch' not in sys.modules, 'torch was imported'; "
            "sys.exit(status)")
    path = tmp_path / "db" / "tfnas.duckdb"
    first = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, cwd=REPO, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    total = len(pq.read_table(str(BUNDLE)))
    assert f"{total:,} new score rows" in first.stdout
    again = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, cwd=REPO, timeout=300)
    assert again.returncode == 0 and "0 new score rows" in again.stdout
    scores = read_scores(path).frames
    assert set(scores) == set(DATASETS)
    for frame in scores.values():
        assert len(frame) == NUM_ARCHS and frame["test_acc_200ep"].notna().all()
        assert frame["synflow"].notna().all()
