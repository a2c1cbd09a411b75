"""Shared fixtures: the real reference data beside the checkout, and small tfnas databases
built with the real db API from shard files written here.

Synthetic databases (:func:`score_db`): accuracies are an additive function of the ops plus
seeded noise, so search and correlation results can be checked against the truth. Scores:
``params`` and ``flops`` are the real closed forms of :mod:`tfnas.costs`; ``naswot`` and
``synflow`` are cheap stand-ins written here (accuracy plus noise, −inf for the all-``none``
cell's naswot), labelled so by their data fingerprint ``test``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

import db
from db.benchmark import nats_bench_index
from db.shards import SHARD_SCHEMA, ShardTask, write_shard
from tfnas import proxies as registry
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import DATASETS as SPECS
from tfnas.space import NUM_ARCHS, OPS, Arch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]

# The suite runs on 2 cores next to other work; one intra-op thread keeps it predictable.
torch.set_num_threads(1)
# No test may reach the network: a CIFAR download anywhere in the suite (and in the luigi and
# tfnas subprocesses, which inherit this) goes to a local port where nothing listens, unless a
# test points the mirror at its own server on 127.0.0.1.
os.environ["TFNAS_CIFAR_MIRROR"] = "http://127.0.0.1:9/"

DATASETS = tuple(SPECS)
PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16_120"}
OP_VALUE = np.array([0.0, 4.0, 6.0, 9.0, 2.0])  # none, skip, conv1x1, conv3x3, avg_pool
BASE = {"cifar10": 60.0, "cifar100": 30.0, "ImageNet16-120": 10.0}


class PathEngine:
    """An engine-like object whose every ``begin()`` / ``connect()`` is one whole write of the
    file (:func:`db.writing`: staged, then renamed), so a read of the path right after sees it,
    as a read after a pipeline run or ``tfnas db init`` does."""

    def __init__(self, path):
        self.path = path

    @contextlib.contextmanager
    def begin(self):
        with db.writing(self.path) as engine, engine.begin() as conn:
            yield conn

    connect = begin


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the checkout (real NATS-Bench table and image samples)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real reference data not found at {SHARED_DATA} (../shared/data beside the "
                    "checkout); these checks need it")
    return SHARED_DATA


def op_ids() -> np.ndarray:
    """NUM_ARCHS × 6 op ids, row = arch_code."""
    codes = np.arange(NUM_ARCHS)
    return np.stack([codes // 5**k % 5 for k in range(6)], axis=1)


def synthetic_accuracy(dataset: str, epochs: int) -> np.ndarray:
    """Accuracy (%) by arch_code: additive in the ops plus seeded noise, inside 0..100."""
    rng = np.random.default_rng([12 if epochs == 12 else 200, list(BASE).index(dataset)])
    acc = BASE[dataset] + OP_VALUE[op_ids()].sum(axis=1) * (0.6 if epochs == 12 else 0.7)
    return np.clip(acc + rng.normal(0, 2.0, NUM_ARCHS), 0, 100).round(2)


def accuracy_csv(path: Path) -> Path:
    """An accuracy table in the importer's CSV format, in NATS-Bench's real index order."""
    index = nats_bench_index()
    codes = np.array([Arch.from_str(s).code for s in index.to_numpy()])
    frame = pd.DataFrame({"arch_index": index.index, "arch_str": index.to_numpy()})
    for dataset in DATASETS:
        for epochs in (200, 12):
            frame[f"{PREFIX[dataset]}_test_acc_{epochs}ep"] = synthetic_accuracy(dataset,
                                                                                 epochs)[codes]
    frame.to_csv(path, index=False)
    return path


def costs(dataset: str, proxy: str) -> np.ndarray:
    """tfnas.costs for every arch_code, from its closed form: the all-`none` cell plus, per
    edge, the cost of the edge's op (params and FLOPs are additive over edges)."""
    cost = arch_params if proxy == "params" else arch_flops
    spec = SPECS[dataset]
    base = cost(Arch(("none",) * 6), spec)
    per_op = np.array([cost(Arch((op,) + ("none",) * 5), spec) - base for op in OPS])
    return base + per_op[op_ids()].sum(axis=1)


def proxy_scores(dataset: str, proxy: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(score, seconds) by arch_code for ``proxy`` on ``dataset``; seed changes the noise."""
    rng = np.random.default_rng([seed, list(BASE).index(dataset), len(proxy)])
    if proxy in ("params", "flops"):
        return costs(dataset, proxy), np.full(NUM_ARCHS, 1e-5 if proxy == "params" else 2e-5)
    accuracy = synthetic_accuracy(dataset, 200)
    noise = {"naswot": 3.0, "synflow": 5.0}.get(proxy, 8.0)
    score = 1500 + 10 * accuracy + rng.normal(0, 10 * noise, NUM_ARCHS)
    if proxy == "naswot":
        score[op_ids().max(axis=1) == 0] = -np.inf  # the all-`none` cell: singular kernel
    return score, 0.2 + 0.1 * rng.random(NUM_ARCHS)


def shard_table(dataset: str, proxy: str, codes: np.ndarray, seed: int = 0,
                batch_size: int = 128, fingerprint: str = "test") -> pa.Table:
    """Rows of the shard contract for one dataset, proxy and seed (stand-in scores)."""
    score, seconds = proxy_scores(dataset, proxy, seed)
    n = len(codes)
    frame = pd.DataFrame({
        "arch_code": codes.astype(np.int64), "dataset": dataset, "proxy": proxy,
        "seed": seed, "batch_size": batch_size, "data_fingerprint": fingerprint,
        "augment": False, "score": score[codes].astype(float),
        "seconds": seconds[codes].astype(float), "device": "cpu", "tfnas_version": "test",
        "created_at": [pd.Timestamp(dt.datetime(2025, 1, 1), tz="UTC")] * n,
    })
    return pa.Table.from_pandas(frame[SHARD_SCHEMA.names], schema=SHARD_SCHEMA,
                                preserve_index=False)


def shard_task(dataset: str, proxy: str, codes: np.ndarray, seed: int = 0,
               batch_size: int = 128, fingerprint: str = "test") -> ShardTask:
    return ShardTask(dataset, (proxy,), seed, batch_size, False, fingerprint,
                     tuple(int(c) for c in codes))


def metadata(names: Sequence[str]) -> tuple[list[dict], list[dict]]:
    """The registry's ``proxies`` and ``published`` rows of ``names``."""
    used = [registry.get(name) for name in names]
    return [p.metadata() for p in used], [row for p in used for row in p.published_rows()]


def build(directory: Path, datasets: Sequence[str] = DATASETS,
          proxies: Sequence[str] = ("naswot", "synflow", "params", "flops"),
          codes: np.ndarray | None = None, seeds: Sequence[int] = (0,),
          accuracies: bool = True) -> Path:
    """A database in ``directory`` with the given datasets × proxies × seeds scored for
    ``codes`` (default all 15,625 architectures)."""
    codes = np.arange(NUM_ARCHS) if codes is None else np.asarray(codes)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tfnas.duckdb"
    with db.writing(path) as engine:
        db.create_schema(engine)
        if accuracies:
            db.import_benchmark(engine, accuracy_csv(directory / "accuracy.csv"))
        shards = {}
        for dataset in datasets:
            for proxy in proxies:
                for seed in seeds:
                    task = shard_task(dataset, proxy, codes, seed)
                    table = shard_table(dataset, proxy, codes, seed)
                    file = directory / f"{dataset}-{proxy}-{seed}.parquet"
                    shards[write_shard(table, task, file)] = task
        db.load_shards(engine, shards, *metadata(proxies))
    return path


@pytest.fixture(scope="session")
def score_db(tmp_path_factory):
    """``score_db(**options)``: :func:`build` once per test session for each distinct set of
    options (datasets, proxies, codes, seeds, accuracies)."""
    built: dict[tuple, Path] = {}

    def make(**options) -> Path:
        key = tuple(sorted((k, tuple(np.asarray(v).tolist()) if not isinstance(v, str | bool)
                            else v) for k, v in options.items()))
        if key not in built:
            built[key] = build(tmp_path_factory.mktemp("score_db"), **options)
        return built[key]

    return make
