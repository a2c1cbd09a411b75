"""Luigi tasks: import the benchmark, score shards of architectures, load them into DuckDB.

    ImportBenchmark ─┐
    ScoreShard × n ──┴─> ScoreAll   (one DuckDB writer; shards are Parquet files)

Outputs live beside the database (``--db``, default ``out/tfnas.duckdb``)::

    out/tfnas.duckdb
    out/shards/<dataset>/<config>/shard-0007-of-0032.parquet   one row per (arch, proxy)
    out/done/ImportBenchmark_….txt, out/done/ScoreAll_….txt    markers (with a summary)

``<config>`` is a hash of everything that changes a shard's rows (proxies, seed,
batch size, data path, the architecture list), never of ``--device`` or ``--threads``:
those are ``significant=False``, so switching to a GPU reuses every finished shard.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import luigi
import pyarrow.parquet as pq
import torch

import db
from db.benchmark import default_benchmark_dir
from pipeline.parameters import ProxyListParameter, SeedListParameter
from pipeline.shards import (
    NO_DATA,
    archs_digest,
    resolve_device,
    score_shard,
    select_archs,
    shard_is_complete,
)
from tfnas.datasets import DATASETS, dataset_spec, default_data_root, load_images, sample_batch
from tfnas.scoring import DATA_PROXIES, PROXIES


class _Out(luigi.Task):
    """``--db``: the DuckDB file; shards and markers go in its folder."""

    db = luigi.Parameter(default="out/tfnas.duckdb", description="DuckDB file (created)")

    @property
    def out_dir(self) -> Path:
        return Path(self.db).expanduser().parent

    def marker(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.out_dir / "done" / f"{self.task_id}.txt")

    def complete(self) -> bool:
        # A marker outlives a deleted database; then the work is redone.
        return self.output().exists() and Path(self.db).expanduser().exists()


class ImportBenchmark(_Out):
    """NATS-Bench accuracies into the database, once per (database, source)."""

    benchmark = luigi.OptionalParameter(
        default=None, description="official NATS-Bench TSS dir or CSV/Parquet table "
                                  "(default $TORCH_HOME/NATS-tss-v1_0-3ffb9-simple)")

    def source(self) -> Path:
        if self.benchmark:
            return Path(self.benchmark).expanduser()
        return default_benchmark_dir()

    def output(self) -> luigi.LocalTarget:
        return self.marker()

    def run(self) -> None:
        engine = db.connect(self.db)
        try:
            db.create_schema(engine)
            rows = db.import_benchmark(engine, self.source())
        finally:
            engine.dispose()
        with self.output().open("w") as f:
            f.write(f"imported {self.source()} ({rows})\n")


class _Run(_Out):
    """What a scoring run computes; shared by :class:`ScoreShard` and :class:`ScoreAll`."""

    dataset = luigi.Parameter(description=f"dataset: {', '.join(DATASETS)}")
    proxies = ProxyListParameter(default=PROXIES,
                                 description=f"comma list from {','.join(PROXIES)} (default all)")
    batch_size = luigi.IntParameter(default=128, description="images in the proxy batch")
    data = luigi.OptionalParameter(
        default=None, description="dataset root or .npz (default $TORCH_HOME/cifar.python)")
    limit = luigi.OptionalIntParameter(
        default=None, description="score a seeded random sample of N archs (default all 15,625)")
    archs_file = luigi.OptionalParameter(default=None,
                                         description="file with one arch string per line")
    shards = luigi.IntParameter(default=32, description="split the archs into this many shards")
    device = luigi.Parameter(default="auto", significant=False,
                             description="auto (cuda if available), cpu, cuda, cuda:1, …")
    threads = luigi.IntParameter(default=0, significant=False,
                                 description="torch threads per worker (0: cores / workers)")

    def reads_data(self) -> bool:
        return bool(DATA_PROXIES.intersection(self.proxies))

    def data_path(self) -> Path:
        return Path(self.data).expanduser() if self.data else default_data_root()

    def arch_codes(self) -> list[int]:
        if not hasattr(self, "_codes"):
            self._codes = select_archs(self.limit, self.archs_file)
        return self._codes

    def num_shards(self) -> int:
        if self.shards < 1:
            raise ValueError(f"--shards must be at least 1, got {self.shards}")
        return min(self.shards, len(self.arch_codes()))


class ScoreShard(_Run):
    """Shard ``shard`` of ``num_shards()``: codes ``[shard::n]`` scored with one seed."""

    seed = luigi.IntParameter(default=0)
    shard = luigi.IntParameter()

    def config_dir(self) -> Path:
        # --data as typed, not resolved: every host that shares the shard folder agrees on it.
        config = {"proxies": self.proxies, "seed": self.seed, "batch_size": self.batch_size,
                  "data": self.data if self.reads_data() else None,
                  "archs": archs_digest(self.arch_codes())}
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
        return self.out_dir / "shards" / self.dataset / key

    def codes(self) -> list[int]:
        return self.arch_codes()[self.shard::self.num_shards()]

    def output(self) -> luigi.LocalTarget:
        n = self.num_shards()
        path = self.config_dir() / f"shard-{self.shard:04d}-of-{n:04d}.parquet"
        return luigi.LocalTarget(path, format=luigi.format.Nop)

    def complete(self) -> bool:
        return shard_is_complete(self.output().path, len(self.codes()) * len(self.proxies))

    def run(self) -> None:
        cores = len(os.sched_getaffinity(0))
        torch.set_num_threads(self.threads or max(1, cores // luigi.interface.core().workers))
        device = resolve_device(self.device)
        if self.reads_data():
            batch = sample_batch(self.dataset, self.data_path(), self.batch_size, self.seed)
            images, fingerprint = batch.images, batch.fingerprint
        else:
            images, fingerprint = None, NO_DATA
        table = score_shard(self.codes(), self.dataset, self.proxies, self.seed, images,
                            fingerprint, self.batch_size, device,
                            desc=f"{self.dataset} seed {self.seed} shard {self.shard}")
        with self.output().open("w") as f:  # atomic: a temporary file, then os.replace
            pq.write_table(table, f)


class ScoreAll(_Run):
    """Score every shard for each seed, then load all shards into DuckDB and print a summary.

    ``luigi --module pipeline ScoreAll --dataset cifar100 [--proxies naswot,synflow]
    [--seeds 0,1] [--limit 1000] [--data PATH] [--benchmark PATH] [--workers 4]``
    """

    seeds = SeedListParameter(default=(0,), description="comma list of seeds, e.g. 0,1,2")
    benchmark = luigi.OptionalParameter(default=None,
                                        description=ImportBenchmark.benchmark.description)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_inputs()

    def check_inputs(self) -> None:
        """Fail with one line before any work: bad dataset, batch size, archs, data, benchmark."""
        dataset_spec(self.dataset)
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be a positive integer, got {self.batch_size}")
        self.num_shards()
        if self.reads_data():
            # numpy only: torch ops here would start OpenMP threads, and GNU OpenMP hangs in
            # the task processes Luigi forks after that (--workers > 1).
            images, _ = load_images(self.dataset, self.data_path())
            if self.batch_size > len(images):
                raise ValueError(f"--batch-size {self.batch_size} is larger than the "
                                 f"{len(images)} training images in {self.data_path()}")
        importer = self.clone(ImportBenchmark)
        if not importer.complete() and not importer.source().exists():
            raise FileNotFoundError(
                f"benchmark {importer.source()} does not exist; pass --benchmark with the "
                "official NATS-tss-v1_0-3ffb9-simple dir or a CSV/Parquet accuracy table")

    def requires(self) -> dict:
        shards = [self.clone(ScoreShard, seed=seed, shard=i)
                  for seed in self.seeds for i in range(self.num_shards())]
        return {"benchmark": self.clone(ImportBenchmark), "shards": shards}

    def output(self) -> luigi.LocalTarget:
        return self.marker()

    def complete(self) -> bool:
        # A shard found truncated or corrupt since the load is recomputed and loaded again.
        return super().complete() and all(s.complete() for s in self.requires()["shards"])

    def run(self) -> None:
        paths = [shard.path for shard in self.input()["shards"]]
        engine = db.connect(self.db)
        try:
            db.create_schema(engine)
            inserted = db.load_shards(engine, paths)
        finally:
            engine.dispose()
        text = f"{self.dataset}: {inserted} new rows in {self.db}\n" + summarize(paths)
        print(text)
        with self.output().open("w") as f:
            f.write(text)


def summarize(paths: list[str]) -> str:
    """Per proxy: architectures scored, −inf scores, total and mean seconds."""
    rows = duckdb.sql(
        "SELECT proxy, count(DISTINCT arch_code), count(*) FILTER (WHERE score = '-inf'), "
        "sum(seconds), avg(seconds) FROM read_parquet($paths) GROUP BY proxy ORDER BY proxy",
        params={"paths": paths}).fetchall()
    lines = [f"{'proxy':<8} {'archs':>6} {'-inf':>5} {'total s':>10} {'mean s':>9}"]
    lines += [f"{p:<8} {n:>6} {inf:>5} {tot:>10.2f} {mean:>9.3g}" for p, n, inf, tot, mean in rows]
    return "\n".join(lines)
