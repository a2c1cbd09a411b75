"""Importers: NATS-Bench accuracies and costs, and the project's own costs, into the database.

Two sources of NATS-Bench TSS numbers (Dong et al., TPAMI 2021):

- the official benchmark in its fast-mode directory ``NATS-tss-v1_0-3ffb9-simple`` (a
  ``meta.pickle.pbz2`` plus one ``{index:06d}.pickle.pbz2`` per architecture), read with
  ``nats_bench``: every architecture × training run × {12, 200} epochs × available split,
  accuracies averaged over the benchmark's training seeds (``is_random=False``), and its costs;
- a table (CSV or Parquet) with ``arch_index``, ``arch_str`` and test accuracies per dataset
  and schedule, such as ``../shared/data/nats_tss_accuracy.csv``.

Either way the project's own parameter counts and FLOPs (:mod:`tfnas.costs`) are written for
all 15,625 architectures × 3 datasets (``costs.source = 'tfnas'``).
"""

from __future__ import annotations

import functools
import itertools
import os
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

from db.connection import insert_frame
from db.schema import DATASETS, EPOCHS, TRAINING_RUNS, ensure_schema
from tfnas.space import BenchmarkIndex, all_archs

NATS_TSS = "NATS-tss-v1_0-3ffb9"
#: get_more_info's keys: "valid" is x-valid; "test" is ori-test for the CIFAR-10 runs, x-test
#: for cifar100 / ImageNet16-120 (nats_bench.api_topology.get_more_info).
SPLIT_KEYS = {"train": "train-accuracy", "valid": "valid-accuracy", "test": "test-accuracy"}
RUN_DATASET = {"cifar10-valid": "cifar10", "cifar10": "cifar10", "cifar100": "cifar100",
               "ImageNet16-120": "ImageNet16-120"}
#: Table columns -> (dataset, epochs); the table holds test accuracy of run = dataset.
TABLE_COLUMNS = {f"{prefix}_test_acc_{epochs}ep": (dataset, epochs)
                 for prefix, dataset in zip(("cifar10", "cifar100", "imagenet16_120"), DATASETS,
                                            strict=True)
                 for epochs in sorted(EPOCHS, reverse=True)}


class Benchmark(NamedTuple):
    """What an importer read: the index↔arch map, accuracies (long) and NATS-Bench costs."""

    index: BenchmarkIndex
    accuracies: pd.DataFrame
    costs: pd.DataFrame | None


def default_benchmark_dir() -> Path:
    """``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple`` (TORCH_HOME defaults to ``~/.torch``)."""
    torch_home = os.environ.get("TORCH_HOME") or Path.home() / ".torch"
    return Path(torch_home) / f"{NATS_TSS}-simple"


def _require_arch_file(directory: Path, index: int) -> None:
    # nats_bench fails on a bare assert when a per-architecture file is missing.
    names = (f"{index:06d}.pickle.pbz2", f"{index}.pickle.pbz2")
    if not any((directory / name).is_file() for name in names):
        raise FileNotFoundError(f"NATS-Bench directory {directory} lacks {names[0]} "
                                f"(architecture {index}); re-extract {NATS_TSS}-simple there")


def read_nats_bench(directory: Path) -> Benchmark:
    """Read every architecture of an official fast-mode NATS-Bench TSS directory."""
    if not (directory / "meta.pickle.pbz2").is_file():
        raise FileNotFoundError(f"{directory} is not a NATS-Bench fast-mode directory (no "
                                f"meta.pickle.pbz2); pass the {NATS_TSS}-simple folder")
    import nats_bench  # only here: reading the database must not pay its import time

    api = nats_bench.create(str(directory), "tss", fast_mode=True, verbose=False)
    index = BenchmarkIndex(enumerate(api.meta_archs))
    source = f"nats-bench:{directory.name}"
    accuracies, costs = [], []
    for i in tqdm(range(len(api)), desc=f"reading {directory.name}", unit="arch"):
        _require_arch_file(directory, i)
        code = index.arch(i).code
        for epochs, run in itertools.product(EPOCHS, TRAINING_RUNS):
            try:
                info = api.get_more_info(i, run, hp=str(epochs), is_random=False)
            except KeyError as err:
                raise ValueError(f"{directory}: architecture {i} has no results for "
                                 f"{err.args[0]!r} (needs epochs {EPOCHS} of runs "
                                 f"{', '.join(TRAINING_RUNS)})") from None
            seeds = len(api.arch2infos_dict[i][str(epochs)].get_dataset_seeds(run))
            aggregation = "single_seed" if seeds == 1 else "mean_over_seeds"
            accuracies += [(code, RUN_DATASET[run], run, epochs, split, info[key], aggregation,
                            seeds, source) for split, key in SPLIT_KEYS.items() if key in info]
        results = api.arch2infos_dict.pop(i)  # fast mode caches every architecture read
        if results["200"].arch_str != api.meta_archs[i]:
            raise ValueError(f"{directory}: file of architecture {i} holds "
                             f"{results['200'].arch_str}, meta.pickle.pbz2 says "
                             f"{api.meta_archs[i]}")
        for dataset in DATASETS:
            # = api.get_cost_info(i, dataset, hp="200") without its deep copy of all results
            cost = results["200"].get_compute_costs(dataset)
            costs.append((code, dataset, "nats-bench", round(cost["params"] * 1e6),
                          cost["flops"], cost["latency"]))
    return Benchmark(
        index,
        pd.DataFrame(accuracies, columns=["arch_code", "dataset", "training_run", "epochs",
                                          "split", "accuracy_pct", "aggregation", "num_seeds",
                                          "source"]),
        pd.DataFrame(costs, columns=["arch_code", "dataset", "source", "params", "flops_m",
                                     "latency_s"]),
    )


def read_table(path: Path) -> Benchmark:
    """Read a CSV/Parquet accuracy table (columns ``arch_index``, ``arch_str``, TABLE_COLUMNS).

    Its 200-epoch numbers are means over the benchmark's training seeds (how many is not
    recorded), its 12-epoch numbers one training seed.
    """
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    expected = ["arch_index", "arch_str", *TABLE_COLUMNS]
    if sorted(frame.columns) != sorted(expected):
        raise ValueError(f"table {path} has columns {', '.join(map(str, frame.columns))}; "
                         f"expected {', '.join(expected)}")
    try:
        index = BenchmarkIndex(zip(frame["arch_index"], frame["arch_str"], strict=True))
    except (ValueError, TypeError) as err:
        raise ValueError(f"table {path}: {err}") from None
    long = frame.melt(id_vars=["arch_index", "arch_str"], value_vars=list(TABLE_COLUMNS),
                      var_name="column", value_name="accuracy_pct").dropna()
    if not pd.api.types.is_numeric_dtype(long["accuracy_pct"]) or not long[
            "accuracy_pct"].between(0, 100).all():
        raise ValueError(f"table {path}: accuracies must be numbers in 0..100 (percent)")
    epochs = long["column"].map(lambda c: TABLE_COLUMNS[c][1])
    accuracies = pd.DataFrame({
        "arch_code": [index.arch(i).code for i in long["arch_index"]],
        "dataset": long["column"].map(lambda c: TABLE_COLUMNS[c][0]),
        "split": "test",
        "epochs": epochs,
        "accuracy_pct": long["accuracy_pct"],
        "aggregation": epochs.map({200: "mean_over_seeds", 12: "single_seed"}),
        "num_seeds": epochs.map({200: None, 12: 1}).astype("Int64"),
        "source": f"table:{path.name}",
    })
    accuracies["training_run"] = accuracies["dataset"]
    return Benchmark(index, accuracies, None)


@functools.cache
def tfnas_costs() -> pd.DataFrame:
    """The project's params (count) and FLOPs (millions of MACs) for every arch × dataset."""
    from tfnas.costs import arch_flops, arch_params  # imports torch: only when importing

    rows = [(arch.code, dataset, "tfnas", arch_params(arch, dataset), arch_flops(arch, dataset))
            for arch in all_archs() for dataset in DATASETS]
    return pd.DataFrame(rows, columns=["arch_code", "dataset", "source", "params", "flops_m"])


def _write_arch_index(conn: Connection, index: BenchmarkIndex, source: Path) -> None:
    pairs = pd.DataFrame({"arch_index": list(index.indices())})
    pairs["arch_code"] = [index.arch(i).code for i in pairs["arch_index"]]
    conn.connection.driver_connection.register("_benchmark_index", pairs)
    try:
        clash = conn.execute(sa.text(
            "SELECT a.arch_code, a.arch_index FROM architectures a JOIN _benchmark_index b "
            "ON a.arch_code = b.arch_code OR a.arch_index = b.arch_index "
            "WHERE a.arch_code <> b.arch_code OR a.arch_index <> b.arch_index LIMIT 1")).all()
        if clash:
            clash = clash[0]
            raise ValueError(f"{source} numbers the architectures differently from the "
                             f"benchmark already imported (arch_code {clash.arch_code} has "
                             f"arch_index {clash.arch_index}); use a new database")
        # Only NULLs are filled: DuckDB rejects re-setting a UNIQUE column inside a transaction.
        conn.execute(sa.text(
            "UPDATE architectures SET arch_index = b.arch_index FROM _benchmark_index b "
            "WHERE architectures.arch_code = b.arch_code AND architectures.arch_index IS NULL"))
    finally:
        conn.connection.driver_connection.unregister("_benchmark_index")


def import_benchmark(engine: Engine, source: str | os.PathLike | None = None) -> int:
    """Import NATS-Bench numbers from ``source`` and the project's costs; return accuracy rows.

    ``source``: the official fast-mode directory (default :func:`default_benchmark_dir`) or a
    ``.csv``/``.parquet`` table. Re-importing replaces the rows it covers.
    """
    path = Path(source) if source is not None else default_benchmark_dir()
    if path.is_dir():
        benchmark = read_nats_bench(path)
    elif path.is_file() and path.suffix in (".csv", ".parquet"):
        benchmark = read_table(path)
    elif path.exists():
        raise ValueError(f"cannot import {path}: pass the NATS-Bench fast-mode directory "
                         f"{NATS_TSS}-simple or a .csv/.parquet accuracy table")
    else:
        raise FileNotFoundError(f"no NATS-Bench benchmark at {path}: extract {NATS_TSS}-simple "
                                "into $TORCH_HOME (default ~/.torch) or pass a .csv/.parquet table "
                                "such as ../shared/data/nats_tss_accuracy.csv")
    own_costs = tfnas_costs()
    with engine.begin() as conn:
        ensure_schema(conn)
        _write_arch_index(conn, benchmark.index, path)
        insert_frame(conn, "accuracies", benchmark.accuracies)
        if benchmark.costs is not None:
            insert_frame(conn, "costs", benchmark.costs)
        insert_frame(conn, "costs", own_costs)
    return len(benchmark.accuracies)
