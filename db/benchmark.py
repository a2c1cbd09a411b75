"""Importers: NATS-Bench accuracies (and NATS-Bench's own costs) into the database.

Three sources of NATS-Bench TSS numbers (Dong et al., TPAMI 2021):

- the official benchmark in its fast-mode directory ``NATS-tss-v1_0-3ffb9-simple`` (a
  ``meta.pickle.pbz2`` plus one ``{index:06d}.pickle.pbz2`` per architecture), read with
  ``nats_bench``: every architecture × training run × {12, 200} epochs × available split,
  accuracies averaged over the benchmark's training seeds (``is_random=False``), and its costs;
- a table (CSV or Parquet) with ``arch_index``, ``arch_str`` and test accuracies per dataset
  and schedule, such as ``../shared/data/nats_tss_accuracy.csv``;
- that same table embedded in tfnas (:data:`EMBEDDED`, 15,625 rows, NATS-Bench's measurements
  under its MIT licence): the default when the official directory is not at its default path.

Every source is validated against the search space before anything is written: 15,625
distinct integral indices 0..15624, each arch string parseable and equal to NATS-Bench's
architecture of that index (the official ``meta_archs`` order, shipped in :data:`EMBEDDED`;
it is not derivable from the space). An import records itself in ``benchmarks`` (source,
digest of what was read, rows): that row, with the rows it counts, proves the import complete.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from db.connection import insert_frame
from db.schema import DATASETS, EPOCHS, TRAINING_RUNS, ensure_schema
from tfnas.config import torch_home
from tfnas.errors import MissingFileError, UserError
from tfnas.messages import one_line, shorten
from tfnas.space import NUM_ARCHS, parse_arch

NATS_TSS = "NATS-tss-v1_0-3ffb9"
EMBEDDED = resources.files("tfnas") / "data" / "nats_tss_accuracy.parquet"
EMBEDDED_SOURCE = f"tfnas:embedded {NATS_TSS} accuracy table"
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
    """What an importer read: arch_index → arch_code, accuracies (long), NATS-Bench costs."""

    codes: pd.DataFrame  # arch_index, arch_code
    accuracies: pd.DataFrame
    costs: pd.DataFrame | None
    source: str


def default_benchmark_dir() -> Path:
    """``$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple`` (TORCH_HOME defaults to ``~/.torch``)."""
    return torch_home() / f"{NATS_TSS}-simple"


def default_source() -> Path:
    """The official directory at its default path when it is there, else :data:`EMBEDDED`."""
    official = default_benchmark_dir()
    if (official / "meta.pickle.pbz2").is_file():
        return official
    return Path(str(EMBEDDED))


def is_embedded(path: Path) -> bool:
    return Path(path) == Path(str(EMBEDDED))


def source_label(path: Path) -> str:
    """The ``accuracies.source`` of an import from ``path``."""
    if is_embedded(path):
        return EMBEDDED_SOURCE
    if path.is_dir():
        return f"nats-bench:{path.name}"
    return f"table:{path.name}"


@functools.cache
def nats_bench_index() -> pd.Series:
    """NATS-Bench's architecture string of every index 0..15624 (its ``meta_archs``)."""
    frame = pd.read_parquet(str(EMBEDDED), columns=["arch_index", "arch_str"])
    return pd.Series(frame["arch_str"].to_numpy(), index=frame["arch_index"].to_numpy(int))


def validate_index(indices: Sequence, arch_strs: Sequence, where: str) -> pd.DataFrame:
    """``arch_index`` → ``arch_code`` of a benchmark listing, or a one-line ``ValueError``
    naming the rows that disagree with the search space and NATS-Bench's numbering."""
    fix = (f"{where} must list the {NUM_ARCHS:,} architectures of NATS-Bench TSS with their "
           f"NATS-Bench index ({NATS_TSS} meta_archs order)")
    index = pd.to_numeric(pd.Series(list(indices), dtype=object), errors="coerce")
    if len(index) != NUM_ARCHS:
        raise UserError(f"{where} has {len(index):,} architectures, not {NUM_ARCHS:,}; {fix}")
    if index.isna().any() or not np.all(np.mod(index.to_numpy(float), 1) == 0):
        rows = np.flatnonzero(index.isna() | (np.mod(index.fillna(0).to_numpy(float), 1) != 0))
        raise UserError(f"{where}: arch_index is not an integer in {len(rows)} rows (first: "
                         f"row {rows[0]}, {shorten(list(indices)[rows[0]])}); {fix}")
    index = index.astype(np.int64)
    outside = np.flatnonzero((index < 0) | (index >= NUM_ARCHS))
    if len(outside):
        raise UserError(f"{where}: arch_index outside 0..{NUM_ARCHS - 1} in {len(outside)} rows "
                         f"(first: {index[outside[0]]}); {fix}")
    if index.duplicated().any():
        raise UserError(f"{where}: arch_index {index[index.duplicated()].iloc[0]} appears twice; "
                         f"{fix}")
    strs = pd.Series(list(arch_strs), dtype=object)
    expected = nats_bench_index().reindex(index).to_numpy()
    wrong = np.flatnonzero(strs.to_numpy() != expected)
    if len(wrong):
        first = wrong[0]
        raise UserError(f"{where}: {len(wrong)} rows disagree with NATS-Bench's index (first: "
                         f"arch_index {index[first]} has {shorten(strs[first])}, NATS-Bench's "
                         f"{index[first]} is {expected[first]}); {fix}")
    codes = [parse_arch(s).code for s in strs]  # equal to valid strings: cannot fail
    return pd.DataFrame({"arch_index": index.to_numpy(), "arch_code": codes})


def check_source(path: Path) -> None:
    """Fail in one line, before any work, unless ``path`` is an importable source: the
    official directory with all 15,625 architecture files and a valid index (meta file), or
    a table whose rows validate (:func:`read_table`)."""
    if is_embedded(path):
        return
    if path.is_dir():
        meta = path / "meta.pickle.pbz2"
        if not meta.is_file():
            raise MissingFileError(f"--benchmark {path} is not a NATS-Bench fast-mode directory "
                                    f"(no meta.pickle.pbz2); pass the {NATS_TSS}-simple folder")
        missing = [i for i in range(NUM_ARCHS) if not _arch_file(path, i)]
        if missing:
            raise MissingFileError(f"--benchmark {path} lacks {len(missing):,} of the "
                                    f"{NUM_ARCHS:,} architecture files (first: "
                                    f"{missing[0]:06d}.pickle.pbz2); re-extract "
                                    f"{NATS_TSS}-simple there")
        from nats_bench.api_utils import pickle_load  # the official files' own reader

        archs = pickle_load(str(meta.with_suffix("")))["meta_archs"]
        validate_index(range(len(archs)), archs, str(meta))
    elif path.is_file():
        if path.suffix not in (".csv", ".parquet"):
            raise UserError(f"--benchmark {path}: pass the NATS-Bench fast-mode directory "
                             f"{NATS_TSS}-simple or a .csv/.parquet accuracy table")
        read_table(path)
    else:
        raise MissingFileError(f"--benchmark {path} does not exist; pass the official "
                                f"{NATS_TSS}-simple directory or a .csv/.parquet table, or leave "
                                "--benchmark out to use the table embedded in tfnas")


def _arch_file(directory: Path, index: int) -> Path | None:
    for name in (f"{index:06d}.pickle.pbz2", f"{index}.pickle.pbz2"):
        if (directory / name).is_file():
            return directory / name
    return None


def source_digest(path: Path) -> str:
    """SHA-256 of a table file, or of an official directory's meta file and file list."""
    digest = hashlib.sha256()
    if path.is_dir():
        digest.update((path / "meta.pickle.pbz2").read_bytes())
        digest.update("\n".join(sorted(p.name for p in path.iterdir())).encode())
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_nats_bench(directory: Path, indices: Sequence[int] | None = None) -> Benchmark:
    """Read the official fast-mode NATS-Bench TSS directory: every architecture, or only
    ``indices`` (e.g. the few a partial copy holds). Its ``meta_archs`` is validated."""
    if not (directory / "meta.pickle.pbz2").is_file():
        raise MissingFileError(f"{directory} is not a NATS-Bench fast-mode directory (no "
                                f"meta.pickle.pbz2); pass the {NATS_TSS}-simple folder")
    if indices is None:
        check_source(directory)  # every architecture file is there
    import nats_bench  # only here: reading the database must not pay its import time

    api = nats_bench.create(str(directory), "tss", fast_mode=True, verbose=False)
    codes = validate_index(range(len(api.meta_archs)), api.meta_archs,
                           f"{directory}/meta.pickle.pbz2")
    code_of = dict(zip(codes["arch_index"], codes["arch_code"], strict=True))
    source = source_label(directory)
    accuracies, costs = [], []
    chosen = range(len(api)) if indices is None else indices
    from tqdm import tqdm

    for i in tqdm(chosen, desc=f"reading {directory.name}", unit="arch", disable=None):
        if _arch_file(directory, i) is None:  # nats_bench would fail on a bare assert
            raise MissingFileError(f"NATS-Bench directory {directory} lacks {i:06d}.pickle.pbz2 "
                                    f"(architecture {i}); re-extract {NATS_TSS}-simple there")
        code = code_of[i]
        for epochs, run in itertools.product(EPOCHS, TRAINING_RUNS):
            try:
                info = api.get_more_info(i, run, hp=str(epochs), is_random=False)
            except KeyError as err:
                raise UserError(f"{directory}: architecture {i} has no results for "
                                 f"{err.args[0]!r} (needs epochs {EPOCHS} of runs "
                                 f"{', '.join(TRAINING_RUNS)})") from None
            seeds = len(api.arch2infos_dict[i][str(epochs)].get_dataset_seeds(run))
            aggregation = "single_seed" if seeds == 1 else "mean_over_seeds"
            accuracies += [(code, RUN_DATASET[run], run, epochs, split, info[key], aggregation,
                            seeds, source) for split, key in SPLIT_KEYS.items() if key in info]
        results = api.arch2infos_dict.pop(i)  # fast mode caches every architecture read
        if results["200"].arch_str != api.meta_archs[i]:
            raise UserError(f"{directory}: file of architecture {i} holds "
                             f"{results['200'].arch_str}, meta.pickle.pbz2 says "
                             f"{api.meta_archs[i]}")
        for dataset in DATASETS:
            # = api.get_cost_info(i, dataset, hp="200") without its deep copy of all results
            cost = results["200"].get_compute_costs(dataset)
            costs.append((code, dataset, "nats-bench", round(cost["params"] * 1e6),
                          cost["flops"], cost["latency"]))
    return Benchmark(
        codes,
        pd.DataFrame(accuracies, columns=["arch_code", "dataset", "training_run", "epochs",
                                          "split", "accuracy_pct", "aggregation", "num_seeds",
                                          "source"]),
        pd.DataFrame(costs, columns=["arch_code", "dataset", "source", "params", "flops_m",
                                     "latency_s"]),
        source,
    )


def read_table(path: Path) -> Benchmark:
    """Read a CSV/Parquet accuracy table (columns ``arch_index``, ``arch_str``, TABLE_COLUMNS).

    Its 200-epoch numbers are means over the benchmark's training seeds (how many is not
    recorded), its 12-epoch numbers one training seed.
    """
    where = "the embedded table" if is_embedded(path) else f"table {path}"
    try:
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(str(path))
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise UserError(f"{where} cannot be read ({one_line(err)})") from None
    expected = ["arch_index", "arch_str", *TABLE_COLUMNS]
    if sorted(map(str, frame.columns)) != sorted(expected):
        raise UserError(f"{where} has columns {shorten(', '.join(map(str, frame.columns)))}; "
                         f"expected {', '.join(expected)}")
    codes = validate_index(frame["arch_index"], frame["arch_str"], where)
    frame = frame.assign(arch_index=codes["arch_index"].to_numpy(),
                         arch_code=codes["arch_code"].to_numpy())
    long = frame.melt(id_vars=["arch_code"], value_vars=list(TABLE_COLUMNS),
                      var_name="column", value_name="accuracy_pct").dropna()
    if not pd.api.types.is_numeric_dtype(long["accuracy_pct"]) or not long[
            "accuracy_pct"].between(0, 100).all():
        raise UserError(f"{where}: accuracies must be numbers in 0..100 (percent)")
    epochs = long["column"].map(lambda c: TABLE_COLUMNS[c][1])
    accuracies = pd.DataFrame({
        "arch_code": long["arch_code"],
        "dataset": long["column"].map(lambda c: TABLE_COLUMNS[c][0]),
        "split": "test",
        "epochs": epochs,
        "accuracy_pct": long["accuracy_pct"],
        "aggregation": epochs.map({200: "mean_over_seeds", 12: "single_seed"}),
        "num_seeds": epochs.map({200: None, 12: 1}).astype("Int64"),
        "source": source_label(path),
    })
    accuracies["training_run"] = accuracies["dataset"]
    return Benchmark(codes, accuracies, None, source_label(path))


def read_benchmark(path: Path, indices: Sequence[int] | None = None) -> Benchmark:
    """Read any source (validated): official directory, table, or the embedded table."""
    if path.is_dir():
        return read_nats_bench(path, indices)
    if not is_embedded(path) and path.suffix not in (".csv", ".parquet"):
        check_source(path)  # raises the one-line error for what it is instead
    return read_table(path)


def _write_arch_index(conn: Connection, codes: pd.DataFrame, source: str) -> None:
    conn.connection.driver_connection.register("_benchmark_index", codes)
    try:
        clash = conn.execute(sa.text(
            "SELECT a.arch_code, a.arch_index FROM architectures a JOIN _benchmark_index b "
            "ON a.arch_code = b.arch_code OR a.arch_index = b.arch_index "
            "WHERE a.arch_code <> b.arch_code OR a.arch_index <> b.arch_index LIMIT 1")).all()
        if clash:
            clash = clash[0]
            raise UserError(f"{source} numbers the architectures differently from the "
                             f"benchmark already imported (arch_code {clash.arch_code} has "
                             f"arch_index {clash.arch_index}); use a new database")
        # Only NULLs are filled: DuckDB rejects re-setting a UNIQUE column inside a transaction.
        conn.execute(sa.text(
            "UPDATE architectures SET arch_index = b.arch_index FROM _benchmark_index b "
            "WHERE architectures.arch_code = b.arch_code AND architectures.arch_index IS NULL"))
    finally:
        conn.connection.driver_connection.unregister("_benchmark_index")


def import_benchmark(engine: Engine, source: str | os.PathLike | None = None,
                     costs: pd.DataFrame | None = None,
                     indices: Sequence[int] | None = None) -> int:
    """Import NATS-Bench numbers from ``source`` (default :func:`default_source`), validated
    first; return the accuracy rows. ``costs``: rows of the ``costs`` table to write beside
    (the project's own, computed by the caller). ``indices``: only these architectures of an
    official directory (a partial copy). Re-importing replaces the rows it covers."""
    path = Path(source).expanduser() if source is not None else default_source()
    benchmark = read_benchmark(path, indices)
    digest = source_digest(path)
    with engine.begin() as conn:
        ensure_schema(conn)
        _write_arch_index(conn, benchmark.codes, benchmark.source)
        insert_frame(conn, "accuracies", benchmark.accuracies)
        for frame in (benchmark.costs, costs):
            if frame is not None:
                insert_frame(conn, "costs", frame)
        insert_frame(conn, "benchmarks", pd.DataFrame({
            "source": [benchmark.source], "digest": [digest],
            "accuracy_rows": [len(benchmark.accuracies)],
            "imported_at": [dt.datetime.now(dt.timezone.utc)]}))
    return len(benchmark.accuracies)


def is_imported(database: str | os.PathLike, source: Path) -> bool:
    """Whether ``database`` holds a complete import of ``source`` as it is now: its
    ``benchmarks`` row with the same digest, and every accuracy row that import wrote."""
    from db.connection import DatabaseError, open_read_only

    if not Path(database).is_file():
        return False
    try:
        conn = open_read_only(database)
    except DatabaseError:
        return False
    label = source_label(source)
    try:
        row = conn.execute("SELECT digest, accuracy_rows, (SELECT count(*) FROM accuracies "
                           "WHERE source = ?) FROM benchmarks WHERE source = ?",
                           [label, label]).fetchone()
    except duckdb.Error:
        return False
    finally:
        conn.close()
    return row is not None and row[1] == row[2] and row[0] == source_digest(source)
