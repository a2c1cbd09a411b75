"""Small tfnas databases for the search / tables / correlations / plots tests, built with the
real db API (create_schema, import_benchmark, load_shards) from shard files written here.

Accuracies are synthetic and known: an additive function of the ops plus seeded noise, so
search and correlation results can be checked against the truth. Scores: ``params`` and
``flops`` are the real closed forms of :mod:`tfnas.costs`; ``naswot`` and ``synflow`` are
numbers written here (cheap stand-ins: accuracy plus noise, a few −inf for naswot).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

import db
from db.load import write_shard
from tfnas.costs import arch_flops, arch_params
from tfnas.space import NUM_ARCHS, OPS, Arch

DATASETS = ("cifar10", "cifar100", "ImageNet16-120")
PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "ImageNet16-120": "imagenet16_120"}
OP_VALUE = np.array([0.0, 4.0, 6.0, 9.0, 2.0])  # none, skip, conv1x1, conv3x3, avg_pool
BASE = {"cifar10": 60.0, "cifar100": 30.0, "ImageNet16-120": 10.0}


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
    """An accuracy table in the importer's CSV format, arch_index = arch_code."""
    frame = pd.DataFrame({"arch_index": np.arange(NUM_ARCHS),
                          "arch_str": [str(Arch.from_code(c)) for c in range(NUM_ARCHS)]})
    for dataset in DATASETS:
        for epochs in (200, 12):
            frame[f"{PREFIX[dataset]}_test_acc_{epochs}ep"] = synthetic_accuracy(dataset, epochs)
    frame.to_csv(path, index=False)
    return path


def shard_frame(dataset: str, proxy: str, codes: np.ndarray, scores: np.ndarray,
                seconds: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Rows of the shard contract (COMMON.md) for one dataset, proxy and seed."""
    return pd.DataFrame({
        "arch_code": codes.astype(np.int64), "dataset": dataset, "proxy": proxy,
        "seed": seed, "batch_size": 128, "data_fingerprint": "test", "augment": False,
        "score": scores.astype(float), "seconds": seconds.astype(float), "device": "cpu",
        "tfnas_version": "test", "created_at": pd.Timestamp(dt.datetime(2025, 1, 1),
                                                            tz="UTC"),
    })


def costs(dataset: str, proxy: str) -> np.ndarray:
    """tfnas.costs for every arch_code, from its closed form: the all-`none` cell plus, per
    edge, the cost of the edge's op (params and FLOPs are additive over edges)."""
    cost = arch_params if proxy == "params" else arch_flops
    base = cost(Arch(("none",) * 6), dataset)
    per_op = np.array([cost(Arch((op,) + ("none",) * 5), dataset) - base for op in OPS])
    return base + per_op[op_ids()].sum(axis=1)


def proxy_scores(dataset: str, proxy: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(score, seconds) by arch_code for ``proxy`` on ``dataset``; seed changes the noise."""
    rng = np.random.default_rng([seed, list(BASE).index(dataset), len(proxy)])
    if proxy in ("params", "flops"):
        return costs(dataset, proxy), np.full(NUM_ARCHS, 1e-5 if proxy == "params" else 2e-5)
    accuracy = synthetic_accuracy(dataset, 200)
    noise = {"naswot": 3.0, "synflow": 5.0}[proxy]
    score = 1500 + 10 * accuracy + rng.normal(0, 10 * noise, NUM_ARCHS)
    if proxy == "naswot":
        score[op_ids().max(axis=1) == 0] = -np.inf  # the all-`none` cell: singular kernel
    return score, 0.2 + 0.1 * rng.random(NUM_ARCHS)


def build(directory: Path, datasets: Sequence[str] = DATASETS,
          proxies: Sequence[str] = ("naswot", "synflow", "params", "flops"),
          codes: np.ndarray | None = None, seeds: Sequence[int] = (0,),
          accuracies: bool = True) -> Path:
    """A database in ``directory`` with the given datasets × proxies × seeds scored for
    ``codes`` (default all 15,625 architectures)."""
    codes = np.arange(NUM_ARCHS) if codes is None else np.asarray(codes)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tfnas.duckdb"
    engine = db.connect(path)
    try:
        db.create_schema(engine)
        if accuracies:
            db.import_benchmark(engine, accuracy_csv(directory / "accuracy.csv"))
        shards = []
        for dataset in datasets:
            for proxy in proxies:
                for seed in seeds:
                    score, seconds = proxy_scores(dataset, proxy, seed)
                    frame = shard_frame(dataset, proxy, codes, score[codes], seconds[codes], seed)
                    shards.append(write_shard(frame, directory / f"{dataset}-{proxy}-{seed}.pq"))
        db.load_shards(engine, shards)
    finally:
        engine.dispose()
    return path


_BUILT: dict[tuple, Path] = {}


def cached(tmp_path_factory, **options) -> Path:
    """:func:`build` once per test session for each distinct ``options``."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, Sequence | np.ndarray) and
                        not isinstance(v, str) else v) for k, v in options.items()))
    if key not in _BUILT:
        _BUILT[key] = build(tmp_path_factory.mktemp("score_db"), **options)
    return _BUILT[key]
