"""Luigi tasks: import the benchmark, score shards of architectures, load them into DuckDB.

    ImportBenchmark ─┐
    ScoreShard × n ──┴─> ScoreAll   (one DuckDB writer; shards are Parquet files)

Outputs live beside the database (``--db``, default ``out/tfnas.duckdb``)::

    out/tfnas.duckdb
    out/shards/<dataset>/<run>/shard-0007-of-0032.parquet    one row per (arch, proxy)
    out/summaries/<dataset>-<run>.txt                         what ScoreAll loaded

Identity comes from content: a shard's task is (dataset, proxies, seed, batch size,
augmentation, the fingerprint of what its proxies actually read — ``none``, the images, or the
images and their labels: proxies that read different things are scored in different shards —
the exact architectures), and
``<run>`` is a hash of it — never the data path as typed, ``--device`` or ``--threads``
(switching to a GPU reuses every finished shard). A shard is complete only when its file
proves it holds exactly its task's rows (:mod:`db.shards`); ``ImportBenchmark`` and
``ScoreAll`` are complete only when the database really holds their rows.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb
import luigi
import pandas as pd

import db
from db.benchmark import check_source, default_source, is_imported, source_label
from db.connection import DatabaseLocked, verify
from db.load import stored_rows
from db.shards import ShardError, ShardTask, read_shard, shard_tasks, write_shard
from pipeline.parameters import (
    LIMIT,
    CommaList,
    Integer,
    OptionalInteger,
    OptionalText,
    Text,
    device_name,
    in_range,
    known_dataset,
    one_line_errors,
    proxy_list,
    refuse_empty_flags,
    seed_list,
)
from pipeline.shards import resolve_device, score_shard, select_archs
from tfnas import proxies
from tfnas.config import DEFAULT, DEFAULT_DB, NO_DATA, SEED_MAX, STUDY_PROXIES, ScoringConfig
from tfnas.datasets import (
    check_labels,
    choose_images,
    dataset_spec,
    default_data_root,
    load_images,
    sample_batch,
)
from tfnas.errors import UserError
from tfnas.proxies import IMAGES, LABELS, ScoringRun
from tfnas.replay.files import check_writable


class _Out(luigi.Task):
    """``--db``: the DuckDB file; shards and summaries go in its folder."""

    db = Text(flag="--db", default=DEFAULT_DB, description="DuckDB file (created)")

    def __init__(self, *args, **kwargs) -> None:
        with one_line_errors():
            refuse_empty_flags(type(self))
            super().__init__(*args, **kwargs)
            self.check()

    def check(self) -> None:
        """Checks of the whole task once its parameters are set, before any work (one line on
        the command line: :func:`pipeline.parameters.one_line_errors`)."""

    @property
    def db_path(self) -> Path:
        return Path(self.db).expanduser()

    @property
    def out_dir(self) -> Path:
        return self.db_path.parent


class _Stored(luigi.Target):
    """Exists when ``proof()`` holds: the database itself, not a marker, says the work is in."""

    def __init__(self, proof) -> None:
        self.proof = proof

    def exists(self) -> bool:
        return self.proof()


class ImportBenchmark(_Out):
    """NATS-Bench accuracies (and costs) into the database, once per (database, source)."""

    benchmark = OptionalText(
        flag="--benchmark", default=None,
        description="official NATS-Bench TSS dir or CSV/Parquet accuracy table (default: "
                    "$TORCH_HOME/NATS-tss-v1_0-3ffb9-simple if present, else the table "
                    "embedded in tfnas)")

    def source(self) -> Path:
        return Path(self.benchmark).expanduser() if self.benchmark else default_source()

    def output(self) -> luigi.Target:
        return _Stored(lambda: is_imported(self.db_path, self.source()))

    def run(self) -> None:
        from tfnas.costs import cost_rows

        costs = pd.DataFrame(cost_rows(), columns=["arch_code", "dataset", "source", "params",
                                                   "flops_m"])
        with db.writing(self.db_path) as engine:
            db.create_schema(engine)
            rows = db.import_benchmark(engine, self.source(), costs)
        print(f"benchmark: {rows} accuracy rows from {source_label(self.source())} "
              f"({self.source()})")


class _Run(_Out):
    """What a scoring run computes; shared by :class:`ScoreShard` and :class:`ScoreAll`."""

    dataset = Text(flag="--dataset", check=known_dataset,
                   description="cifar10, cifar100 or ImageNet16-120")
    proxies = CommaList(flag="--proxies", check=proxy_list, default=STUDY_PROXIES,
                        description="comma list of registered proxies (default: the study's "
                                    f"{','.join(STUDY_PROXIES)})")
    batch_size = Integer(flag="--batch-size", check=in_range(1), default=DEFAULT.batch_size,
                         description="images in the proxy batch")
    augment = luigi.BoolParameter(default=DEFAULT.augment,
                                  description="draw the batch with NATS-Bench's augmentation")
    limit = OptionalInteger(flag="--limit", check=LIMIT, default=None,
                            description="score a seeded random sample of N archs (default all)")
    archs_file = OptionalText(flag="--archs-file", default=None,
                              description="file with one arch string per line")
    shards = Integer(flag="--shards", check=in_range(1), default=32,
                     description="split the archs into this many shards")
    data = OptionalText(flag="--data", default=None, significant=False,
                        description="dataset root or .npz (default $TORCH_HOME/cifar.python); "
                                    "the images' fingerprint, not the path, identifies a run")
    device = Text(flag="--device", check=device_name, default="auto", significant=False,
                  description="auto (cuda if available), cpu, cuda, cuda:1, …")
    threads = Integer(flag="--threads", check=in_range(0), default=0, significant=False,
                      description="torch threads per worker (0: cores / workers)")

    @property
    def spec(self):
        return dataset_spec(self.dataset)

    def reads(self) -> set[str]:
        return set().union(*(proxies.get(name).reads for name in self.proxies))

    def data_path(self) -> Path:
        return Path(self.data).expanduser() if self.data else default_data_root()

    def arch_codes(self) -> list[int]:
        if not hasattr(self, "_codes"):
            self._codes = select_archs(self.limit, self.archs_file)
        return self._codes

    def num_shards(self) -> int:
        return min(self.shards, len(self.arch_codes()))

    def config(self, seed: int) -> ScoringConfig:
        return ScoringConfig(seed, self.batch_size, self.augment)


class ScoreShard(_Run):
    """Shard ``shard`` of ``num_shards()``: codes ``[shard::n]`` scored with one seed by proxies
    that read the same things, ``fingerprint`` being that of what they read
    (:func:`tfnas.proxies.read_fingerprint`; ``none`` when they read no images)."""

    seed = Integer(flag="--seed", check=in_range(0, SEED_MAX), default=DEFAULT.seed)
    shard = Integer(flag="--shard", check=in_range(0))
    fingerprint = Text(flag="--fingerprint", default=NO_DATA,
                       description="fingerprint of the images the shard must read")

    def tasks(self) -> list[ShardTask]:
        return shard_tasks(self.dataset, self.proxies, self.seed, self.batch_size, self.augment,
                           self.fingerprint, self.arch_codes(), self.num_shards())

    def task(self) -> ShardTask:
        return self.tasks()[self.shard]

    def run_folder(self) -> Path:
        run = ShardTask(self.dataset, self.proxies, self.seed, self.batch_size, self.augment,
                        self.fingerprint, tuple(self.arch_codes()))
        return self.out_dir / "shards" / self.dataset / run.digest()

    def output(self) -> luigi.LocalTarget:
        name = f"shard-{self.shard:04d}-of-{self.num_shards():04d}.parquet"
        return luigi.LocalTarget(self.run_folder() / name, format=luigi.format.Nop)

    def complete(self) -> bool:
        path = Path(self.output().path)
        if not path.exists():
            return False
        try:
            read_shard(path, self.task())
        except ShardError as err:
            import logging

            logging.getLogger("luigi-interface").warning("%s; it will be recomputed", err)
            return False
        return True

    def run(self) -> None:
        import torch

        cores = len(os.sched_getaffinity(0))
        torch.set_num_threads(self.threads or max(1, cores // luigi.interface.core().workers))
        device = resolve_device(self.device)
        batch = None
        if IMAGES in self.reads():
            batch = sample_batch(self.spec, self.data_path(), self.config(self.seed))
            read = proxies.read_fingerprint(self.reads(), batch.fingerprint, batch.labels)
            if read != self.fingerprint:
                raise UserError(f"the images or labels in {self.data_path()} changed since the "
                                 f"run was planned (fingerprint {read}, planned "
                                 f"{self.fingerprint}); run the command again")
        run = ScoringRun(self.spec, self.seed, str(device), batch, self.batch_size)
        table = score_shard(self.task(), run,
                            desc=f"{self.dataset} seed {self.seed} shard {self.shard}")
        write_shard(table, self.task(), self.output().path)


class ScoreAll(_Run):
    """Score every shard for each seed, then load all shards into DuckDB and print a summary.

    ``luigi --module pipeline ScoreAll --dataset cifar100 [--proxies naswot,synflow]
    [--seeds 0,1] [--limit 1000] [--data PATH] [--benchmark PATH] [--workers 4]``
    """

    seeds = CommaList(flag="--seeds", check=seed_list, default=(DEFAULT.seed,),
                      description="comma list of seeds, e.g. 0,1,2")
    benchmark = ImportBenchmark.benchmark

    _checked: tuple | None = None

    def check(self) -> None:
        self.fingerprints  # noqa: B018 (checks every input now: one line before any work)

    def groups(self) -> dict[frozenset[str], tuple[str, ...]]:
        """The proxies by what they read (:attr:`Proxy.reads`). Each group is scored in its own
        shards, keyed by the fingerprint of what it read (:func:`tfnas.proxies.read_fingerprint`):
        a data-free score is stored under ``none`` whatever images the run had, a loss under
        its images and labels."""
        groups: dict[frozenset[str], list[str]] = {}
        for name in self.proxies:
            groups.setdefault(frozenset(proxies.get(name).reads), []).append(name)
        return {reads: tuple(names) for reads, names in groups.items()}

    @property
    def fingerprints(self) -> dict[int, dict[frozenset[str], str]]:
        """Per seed, each group's fingerprint (:meth:`groups`), recomputed when the data files
        change (Luigi keeps one instance per parameter set, so a later build in this process
        must not reuse the images of an earlier one)."""
        signature = _files_signature(self.data_path()) if IMAGES in self.reads() else None
        if self._checked is None or self._checked[0] != signature:
            self._checked = (signature, self.check_inputs())
        return self._checked[1]

    def check_inputs(self) -> dict[int, dict[frozenset[str], str]]:
        """Fail with one line before any work (bad archs, unwritable output folder, bad
        benchmark, missing or unusable images); return each seed's group fingerprints."""
        self.arch_codes()
        proxies.check_batch_size(self.proxies, self.batch_size)
        check_writable(self.out_dir)
        check_database(self.db_path)
        importer = ImportBenchmark(db=self.db, benchmark=self.benchmark)
        if not importer.complete():
            check_source(importer.source())
        groups = self.groups()
        if IMAGES not in self.reads():
            return {seed: dict.fromkeys(groups, NO_DATA) for seed in self.seeds}
        # numpy only: torch ops here would start OpenMP threads, and GNU OpenMP hangs in the
        # task processes Luigi forks after that (--workers > 1).
        x, y = load_images(self.spec, self.data_path())
        fingerprints = {}
        for seed in self.seeds:
            _, labels, images = choose_images(self.spec, x, y, self.config(seed))
            label_readers = [p for p in self.proxies if LABELS in proxies.get(p).reads]
            if label_readers:
                check_labels(self.spec, labels, label_readers)
            fingerprints[seed] = {reads: proxies.read_fingerprint(reads, images, labels)
                                  for reads in groups}
        return fingerprints

    def shard_tasks(self) -> list[ScoreShard]:
        return [self.clone(ScoreShard, proxies=names, seed=seed, shard=i,
                           fingerprint=self.fingerprints[seed][reads])
                for seed in self.seeds for reads, names in self.groups().items()
                for i in range(self.num_shards())]

    def requires(self) -> dict:
        return {"benchmark": self.clone(ImportBenchmark), "shards": self.shard_tasks()}

    def tasks(self) -> list[ShardTask]:
        return [shard.task() for shard in self.shard_tasks()]

    def output(self) -> luigi.Target:
        expected = sum(len(t.arch_codes) * len(t.proxies) for t in self.tasks())
        return _Stored(lambda: stored_rows(self.db_path, self.tasks()) == expected)

    def complete(self) -> bool:
        return self.output().exists() and self.requires()["benchmark"].complete()

    def run(self) -> None:
        shards = {shard.output().path: shard.task() for shard in self.requires()["shards"]}
        used = [proxies.get(name) for name in self.proxies]
        with db.writing(self.db_path) as engine:
            db.create_schema(engine)
            inserted = db.load_shards(engine, shards, [p.metadata() for p in used],
                                      [row for p in used for row in p.published_rows()])
        if stored_rows(self.db_path, self.tasks()) != sum(
                len(t.arch_codes) * len(t.proxies) for t in self.tasks()):
            raise RuntimeError(f"{self.db_path} does not hold every row after the load")
        config = ", ".join(f"seed {s}: images {', '.join(sorted(set(f.values())))}"
                           for s, f in self.fingerprints.items())
        text = (f"{self.dataset}: {inserted} new rows in {self.db_path} ({config}; batch "
                f"{self.batch_size}; benchmark "
                f"{source_label(self.requires()['benchmark'].source())})\n"
                + summarize(list(shards)))
        print(text)
        first = self.requires()["shards"][0].run_folder()
        summary = self.out_dir / "summaries" / f"{self.dataset}-{first.name}.txt"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(text + "\n")


def check_database(path: Path) -> None:
    """One line now, not after hours of scoring, when ``path`` cannot be written by this run:
    not a regular file, not a DuckDB or not a tfnas database, corrupt, or being written by
    a file being written by another process passes (it may be free by the time the shards
    are scored), and so does a missing one (the run creates it)."""
    with contextlib.suppress(DatabaseLocked):
        verify(path, create=True)


def _files_signature(path: Path) -> tuple:
    """(name, size, mtime) of ``path`` or of every file below it: changes when data changes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) \
        if path.is_dir() else []
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def summarize(paths: list[str]) -> str:
    """Per proxy: architectures scored, −inf scores, total and mean seconds."""
    rows = duckdb.sql(
        "SELECT proxy, count(DISTINCT arch_code), count(*) FILTER (WHERE score = '-inf'), "
        "sum(seconds), avg(seconds) FROM read_parquet($paths) GROUP BY proxy ORDER BY proxy",
        params={"paths": paths}).fetchall()
    width = max(8, *(len(p) for p, *_ in rows))
    lines = [f"{'proxy':<{width}} {'archs':>6} {'-inf':>5} {'total s':>10} {'mean s':>9}"]
    lines += [f"{p:<{width}} {n:>6} {inf:>5} {tot:>10.2f} {mean:>9.3g}"
              for p, n, inf, tot, mean in rows]
    return "\n".join(lines)
