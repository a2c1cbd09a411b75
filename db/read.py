"""Reading scores back for the reports (tables, correlations, figures): the only way replay
code reads the database. Plain read-only DuckDB — no SQLAlchemy, no torch — so a report
starts fast, and every failure is one line (:class:`db.connection.DatabaseError`).

Scores are read for one scoring configuration (:class:`tfnas.config.ScoringConfig`; default
seed 0, batch 128, no augmentation), per (dataset, proxy) from one set of images
(:func:`db.schema.configuration_sql`). When a dataset holds nothing for the configuration
asked, the error lists the configurations it does hold.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from db.connection import DatabaseError, explain, init_hint, open_read_only
from db.sql import ACCURACY_COLUMNS, configuration_sql
from tfnas.config import DEFAULT, ScoringConfig
from tfnas.datasets import DATASETS
from tfnas.messages import shorten


class Scores(NamedTuple):
    """Per dataset, one row per scored architecture (``arch_code`` order): ``arch_code``,
    ``arch_index``, ``arch_str``, ``iso_class``, per proxy ``<proxy>`` and
    ``<proxy>_seconds``, and the accuracy columns. ``notes`` say which datasets were
    skipped and why; ``config`` is the configuration read."""

    frames: dict[str, pd.DataFrame]
    notes: list[str]
    config: ScoringConfig


def _query(conn: duckdb.DuckDBPyConnection, path: Path, sql: str,
           params: Sequence | None = None) -> pd.DataFrame:
    try:
        return conn.execute(sql, params or []).df()
    except duckdb.CatalogException:
        raise DatabaseError(f"{path} is not a tfnas database (no proxy_scores); "
                            f"{init_hint(path)}") from None
    except duckdb.Error as err:
        raise explain(path, err) from None


def configurations(conn: duckdb.DuckDBPyConnection, path: Path, dataset: str) -> pd.DataFrame:
    """The configurations ``dataset`` has scores for: seed, batch_size, augment,
    data_fingerprint, the proxies and the number of architectures."""
    return _query(conn, path,
                  "SELECT seed, batch_size, augment, data_fingerprint, "
                  "string_agg(DISTINCT proxy, ',' ORDER BY proxy) AS proxies, "
                  "count(DISTINCT arch_code) AS archs FROM proxy_scores WHERE dataset = ? "
                  "GROUP BY ALL ORDER BY seed, batch_size, augment, data_fingerprint",
                  [dataset])


def describe_configurations(frame: pd.DataFrame) -> str:
    """``seed 0, batch 96, no augmentation, images 3fa…: naswot,params (5 archs); …``"""
    configs = [ScoringConfig(int(r.seed), int(r.batch_size), bool(r.augment), r.data_fingerprint)
               for r in frame.itertuples()]
    return "; ".join(f"{config.describe()}: {r.proxies} ({r.archs} archs)"
                     for config, r in zip(configs, frame.itertuples(), strict=True))


def _missing(conn: duckdb.DuckDBPyConnection, path: Path, dataset: str,
             config: ScoringConfig) -> str:
    held = configurations(conn, path, dataset)
    if held.empty:
        return (f"{path} has no scores for {dataset}; score it with `luigi --module pipeline "
                f"ScoreAll --dataset {dataset}` or run `tfnas db init --db {path}`")
    return (f"{path} has no {dataset} scores for {config.describe()}; it holds "
            f"{describe_configurations(held)}; pick one with --seed/--batch-size/--augment/"
            "--fingerprint")


def read_scores(path: str | os.PathLike, config: ScoringConfig = DEFAULT,
                datasets: Sequence[str] = DATASETS,
                proxies: Sequence[str] | None = None) -> Scores:
    """:class:`Scores` of ``config`` for ``datasets`` (each proxy of ``proxies``, default every
    proxy stored). Raises a one-line error when no dataset has any."""
    path = Path(path)
    conn = open_read_only(path)
    try:
        long = _query(conn, path,
                      f"SELECT dataset, arch_code, arch_index, arch_str, iso_class, proxy, score, "
                      f"seconds, {', '.join(ACCURACY_COLUMNS)} FROM ({configuration_sql(config)}) "
                      f"WHERE list_contains(?, dataset) ORDER BY dataset, arch_code",
                      [list(datasets)])
        if proxies is not None:
            stored = sorted(long["proxy"].unique())
            missing = [p for p in proxies if p not in stored]
            if missing:
                raise ValueError(f"--proxies: {shorten(missing[0])} has no scores in {path} for "
                                 f"{config.describe()} (stored: {', '.join(stored) or 'none'})")
            long = long[long["proxy"].isin(list(proxies))]
        frames, notes = {}, []
        for dataset in datasets:
            rows = long[long["dataset"] == dataset]
            if rows.empty:
                notes.append(_missing(conn, path, dataset, config))
                continue
            frames[dataset] = _wide(rows)
    finally:
        conn.close()
    if not frames:
        raise DatabaseError(notes[0] if len(notes) == 1 else " | ".join(notes))
    return Scores(frames, notes, config)


def _wide(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per architecture: its columns, then ``<proxy>``, ``<proxy>_seconds``."""
    keys = ["arch_code", "arch_index", "arch_str", "iso_class", *ACCURACY_COLUMNS]
    base = rows[["dataset", *keys]].drop_duplicates("arch_code").set_index("arch_code")
    wide = rows.pivot(index="arch_code", columns="proxy", values=["score", "seconds"])
    names = list(wide["score"].columns)
    out = base.join(wide["score"][names])
    out = out.join(wide["seconds"][names].add_suffix("_seconds"))
    return out.reset_index().sort_values("arch_code", ignore_index=True)


def read_seed_scores(path: str | os.PathLike, config: ScoringConfig = DEFAULT) -> pd.DataFrame:
    """Long frame (dataset, proxy, seed, arch_code, score) of every seed scored with
    ``config``'s batch size and augmentation, for the (dataset, proxy) pairs scored with two
    or more seeds; per seed one set of images, as :func:`read_scores` reads them."""
    path = Path(path)
    conn = open_read_only(path)
    try:
        seeds = _query(conn, path, "SELECT DISTINCT seed FROM proxy_scores WHERE batch_size = ? "
                       "AND augment = ? ORDER BY seed", [config.batch_size, config.augment])
        configs = [ScoringConfig(int(seed), config.batch_size, config.augment)
                   for seed in seeds["seed"]]
        parts = [_query(conn, path, "SELECT dataset, proxy, seed, arch_code, score FROM "
                        f"({configuration_sql(one)})") for one in configs]
    finally:
        conn.close()
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["dataset", "proxy", "seed", "arch_code", "score"])
    several = frame.groupby(["dataset", "proxy"])["seed"].transform("nunique") > 1
    return frame[several].sort_values(["dataset", "proxy", "seed", "arch_code"],
                                      ignore_index=True)


def read_published(path: str | os.PathLike) -> pd.DataFrame:
    """The ``published`` table: proxy, statistic, dataset, source, accuracy, value."""
    path = Path(path)
    conn = open_read_only(path)
    try:
        return _query(conn, path, "SELECT proxy, statistic, dataset, source, accuracy, value "
                      "FROM published ORDER BY ALL")
    finally:
        conn.close()


def read_arch_scores(path: str | os.PathLike, dataset: str,
                     config: ScoringConfig = DEFAULT) -> pd.DataFrame:
    """One dataset's rows of :func:`read_scores` (``arch_scores``-like, any configuration)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    return read_scores(path, config, [dataset]).frames[dataset]
