"""Reading scores back for the reports (tables, correlations, figures): the only way replay
code reads the database. Plain read-only DuckDB — no SQLAlchemy, no torch — so a report
starts fast, and every failure is one line (:class:`db.connection.DatabaseError`).

Scores are read for one scoring configuration (:class:`tfnas.config.ScoringConfig`; default
seed 0, batch 128, no augmentation), per (dataset, proxy) from one set of images
(:func:`db.sql.configuration_sql`). When a dataset holds nothing for the configuration
asked, the error lists the configurations it does hold.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import numpy as np

from db.connection import DatabaseError, explain, init_hint, open_database
from db.sql import ACCURACY_COLUMNS, configuration_rows_sql, configuration_sql, wide_columns
from tfnas.config import DEFAULT, IMPORTED_SEPARATOR, NO_DATA, ScoringConfig
from tfnas.datasets import DATASETS
from tfnas.errors import UserError
from tfnas.messages import shorten
from tfnas.space import NUM_ARCHS

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


@dataclass
class Scores:
    """Per dataset, one row per scored architecture (``arch_code`` order): ``arch_code``,
    ``dataset``, ``arch_index``, ``arch_str``, ``iso_class``, the accuracy columns, and per
    proxy ``<proxy>`` and ``<proxy>_seconds`` — as numpy arrays (``columns``, what the reports
    compute on, no pandas import) or as DataFrames (``frames``, built on first use).
    ``notes`` say which datasets were skipped and why; ``config`` is the configuration read;
    ``ensembles`` the rank ensembles whose members are all stored (read when named in
    ``proxies``).

    A frame is indexed by NATS-Bench's ``arch_index`` (so ``frame.loc[9930]`` is NATS-Bench's
    architecture 9930, as in its API; ``arch_index`` is the index, not a column), its rows
    still in ``arch_code`` order; ``frame.reset_index()`` gives the plain columns."""

    columns: dict[str, dict[str, np.ndarray]]
    notes: list[str]
    config: ScoringConfig
    ensembles: tuple[str, ...] = ()

    @functools.cached_property
    def frames(self) -> dict[str, pd.DataFrame]:
        """``columns`` as one DataFrame per dataset, indexed by ``arch_index``."""
        return {dataset: arch_frame(columns) for dataset, columns in self.columns.items()}


def arch_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """One dataset's columns as a DataFrame indexed by NATS-Bench's ``arch_index`` (row order
    kept)."""
    import pandas as pd

    return pd.DataFrame(columns).set_index("arch_index")


def _execute(conn: duckdb.DuckDBPyConnection, path: Path, sql: str,
             params: Sequence | dict | None, fetch: Callable[[duckdb.DuckDBPyConnection], T]
             ) -> T:
    """``fetch(conn.execute(sql, params))`` with DuckDB's errors (while running or fetching)
    as one-line ``DatabaseError``s naming ``path``."""
    try:
        return fetch(conn.execute(sql, params or []))
    except duckdb.CatalogException:
        raise DatabaseError(f"{path} is not a tfnas database (no proxy_scores); "
                            f"{init_hint(path)}") from None
    except duckdb.Error as err:
        raise explain(path, err) from None


def _query(conn: duckdb.DuckDBPyConnection, path: Path, sql: str,
           params: Sequence | None = None) -> pd.DataFrame:
    import pandas  # noqa: F401 -- DuckDB's .df() needs it; imported only where a frame is read

    return _execute(conn, path, sql, params, duckdb.DuckDBPyConnection.df)


def _fetch(conn: duckdb.DuckDBPyConnection, path: Path, sql: str,
           params: Sequence | dict | None = None) -> dict[str, np.ndarray]:
    return _execute(conn, path, sql, params, duckdb.DuckDBPyConnection.fetchnumpy)


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


PICK = "pick one with --seed/--batch-size/--augment/--fingerprint"


def _missing(conn: duckdb.DuckDBPyConnection, path: Path, dataset: str,
             config: ScoringConfig, asked: Sequence[str] | None = None) -> str:
    """Why ``dataset`` has nothing to read (after "{path} "), with what would fix it;
    ``asked``: the proxies asked for (``--proxies``), if any."""
    held = configurations(conn, path, dataset)
    same = held[(held["seed"] == config.seed) & (held["batch_size"] == config.batch_size)
                & (held["augment"] == config.augment)
                & (held["data_fingerprint"].isin([config.fingerprint, NO_DATA])
                   if config.fingerprint else True)]
    if asked is not None and not same.empty:
        has = sorted(set(",".join(same["proxies"]).split(",")))
        return (f"has no {', '.join(asked)} scores for {dataset}, {config.describe()}; for "
                f"that configuration it has only {', '.join(has)}")
    if held.empty:
        command = " ".join(filter(None, ["luigi --module pipeline ScoreAll --dataset", dataset,
                                         config.pipeline_flags()]))
        return f"has no scores for {dataset}; score it with `{command}`" + (
            f" or run `tfnas db init --db {path}`" if config == DEFAULT else "")
    return (f"has no {dataset} scores for {config.describe()}; it holds "
            f"{describe_configurations(held)}")


def _ensembles(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, list[str]]:
    """Each rank ensemble's members (the ``ensembles`` table)."""
    found = _fetch(conn, path, "SELECT name, members FROM ensembles")
    return {name: members.split(",") for name, members in zip(*found.values(), strict=True)}


def read_scores(path: str | os.PathLike, config: ScoringConfig = DEFAULT,
                datasets: Sequence[str] = DATASETS,
                proxies: Sequence[str] | None = None, *, if_stored: bool = False) -> Scores:
    """:class:`Scores` of ``config`` for ``datasets`` (each proxy of ``proxies``, default every
    proxy stored; rank ensembles when ``proxies`` names them, their names always listed in
    ``Scores.ensembles``). Raises a one-line error when no dataset has any, or when a proxy
    of ``proxies`` has no scores — unless ``if_stored``: then those are left out (and every
    proxy is read when none of them is stored, so the caller can say what is missing)."""
    path = Path(path)
    conn = open_database(path)
    try:
        stored = sorted(_fetch(conn, path, "SELECT DISTINCT proxy FROM proxy_scores")["proxy"])
        offered = sorted(name for name, members in _ensembles(conn, path).items()
                         if set(members) <= set(stored))
        if proxies is not None and if_stored:
            proxies = [p for p in proxies if p in stored + offered] or None
        if proxies is not None:
            missing = [p for p in proxies if p not in stored + offered]
            if missing:
                raise UserError(f"--proxies: {shorten(missing[0])} has no scores in {path} for "
                                 f"{config.describe()} (stored: {', '.join(stored) or 'none'}"
                                 + (f"; rank ensembles: {', '.join(offered)})" if offered
                                    else ")"))
        chosen_ensembles = [e for e in offered if e in (proxies or ())]
        stored = [p for p in stored if proxies is None or p in proxies] + chosen_ensembles
        wide_columns(stored, f"the scores read from {path}")  # never one column for two
        chosen = configuration_rows_sql(config, chosen_ensembles)
        rows = _fetch(conn, path, "SELECT list_position($datasets, dataset) AS d, "
                                  "list_position($proxies, proxy) AS p, arch_code, score, "
                                  f"seconds FROM ({chosen}) WHERE "
                                  "list_contains($datasets, dataset) AND "
                                  "list_contains($proxies, proxy)",
                      {"datasets": list(datasets), "proxies": stored})
        archs = _fetch(conn, path, "SELECT arch_index, arch_str, iso_class FROM architectures "
                                   "ORDER BY arch_code")
        accuracy = _fetch(conn, path, "SELECT list_position($datasets, dataset) AS d, arch_code, "
                                      f"{', '.join(ACCURACY_COLUMNS)} FROM arch_accuracies WHERE "
                                      "list_contains($datasets, dataset)",
                          {"datasets": list(datasets)})
        found, missing = {}, []
        for number, dataset in enumerate(datasets, start=1):
            mine = rows["d"] == number
            if not mine.any():
                missing.append(_missing(conn, path, dataset, config, proxies))
                continue
            theirs = accuracy["d"] == number
            found[dataset] = _columns(dataset, {k: v[mine] for k, v in rows.items()}, stored,
                                     archs, {k: v[theirs] for k, v in accuracy.items()})
    finally:
        conn.close()
    holds = [i for i, text in enumerate(missing) if "it holds" in text]
    if not found:  # one error: the fix for "it holds ..." said once, after the last of them
        parts = [text + (f"; {PICK}" if holds and i == holds[-1] else "")
                 for i, text in enumerate(missing)]
        raise DatabaseError(f"{path} {' | '.join(parts)}")
    return Scores(found, [f"{path} {text}" + (f"; {PICK}" if i in holds else "")
                           for i, text in enumerate(missing)], config, tuple(offered))


def _columns(dataset: str, rows: dict[str, np.ndarray], proxies: list[str],
             archs: dict[str, np.ndarray], accuracy: dict[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
    """One dataset's columns: a row per scored architecture (arch_code order), its columns,
    the accuracies, then ``<proxy>`` and ``<proxy>_seconds`` (NaN where not scored)."""
    codes = np.unique(rows["arch_code"])
    columns: dict[str, np.ndarray] = {"arch_code": codes,
                                      "dataset": np.full(len(codes), dataset, dtype=object)}
    columns |= {name: archs[name][codes] for name in ("arch_index", "arch_str", "iso_class")}
    position = np.full(NUM_ARCHS, -1)
    position[accuracy["arch_code"]] = np.arange(len(accuracy["arch_code"]))
    known = position[codes]
    for name in ACCURACY_COLUMNS:
        values = np.asarray(accuracy[name], dtype=float)  # masked NULLs become NaN
        if np.ma.isMaskedArray(accuracy[name]):
            values = np.ma.filled(accuracy[name].astype(float), np.nan)
        columns[name] = np.where(known >= 0, values[np.maximum(known, 0)] if len(values)
                                 else np.nan, np.nan)
    at = np.searchsorted(codes, rows["arch_code"])
    for number, proxy in enumerate(proxies, start=1):
        take = rows["p"] == number
        for suffix, field in (("", "score"), ("_seconds", "seconds")):
            column = np.full(len(codes), np.nan)
            column[at[take]] = rows[field][take]
            columns[proxy + suffix] = column
    return columns


def read_seed_scores(path: str | os.PathLike, config: ScoringConfig = DEFAULT
                     ) -> pd.DataFrame | None:
    """Long frame (dataset, proxy, seed, arch_code, score) of every seed scored with
    ``config``'s batch size and augmentation, for the (dataset, proxy) pairs scored with two
    or more seeds; per seed one set of images, as :func:`read_scores` reads them. ``None``
    when no pair has two seeds (then nothing imports pandas)."""
    path = Path(path)
    conn = open_database(path)
    try:
        seeds = _fetch(conn, path, "SELECT DISTINCT seed FROM proxy_scores WHERE batch_size = ? "
                       "AND augment = ? AND (dataset, proxy) IN (SELECT (dataset, proxy) FROM "
                       "proxy_scores WHERE batch_size = ? AND augment = ? GROUP BY ALL HAVING "
                       "count(DISTINCT seed) > 1) ORDER BY seed",
                       [config.batch_size, config.augment] * 2)["seed"]
        if not len(seeds):
            return None
        configs = [ScoringConfig(int(seed), config.batch_size, config.augment) for seed in seeds]
        parts = [_query(conn, path, "SELECT dataset, proxy, seed, arch_code, score FROM "
                        f"({configuration_sql(one, ())})") for one in configs]
    finally:
        conn.close()
    import pandas as pd

    frame = pd.concat(parts, ignore_index=True)
    several = frame.groupby(["dataset", "proxy"])["seed"].transform("nunique") > 1
    return frame[several].sort_values(["dataset", "proxy", "seed", "arch_code"],
                                      ignore_index=True)


def read_published(path: str | os.PathLike) -> list[dict]:
    """The ``published`` table, one dict per row: proxy, statistic, dataset, source, accuracy,
    value."""
    path = Path(path)
    conn = open_database(path)
    try:
        found = _fetch(conn, path, "SELECT proxy, statistic, dataset, source, accuracy, value "
                       "FROM published ORDER BY ALL")
    finally:
        conn.close()
    return [dict(zip(found, row, strict=True)) for row in zip(*found.values(), strict=True)]


def read_arch_scores(path: str | os.PathLike, dataset: str,
                     config: ScoringConfig = DEFAULT) -> pd.DataFrame:
    """One dataset's rows of :func:`read_scores` (``arch_scores``-like, any configuration),
    indexed by NATS-Bench's ``arch_index`` as :attr:`Scores.frames`."""
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    return read_scores(path, config, [dataset]).frames[dataset]


def read_imported(path: str | os.PathLike, source: str, datasets: Sequence[str] = DATASETS,
                  proxies: Sequence[str] | None = None) -> Scores:
    """The scores imported from another source (``tfnas db import``): ``source`` is a stored
    imported fingerprint (``suite-zero:3fa0…``) or a source name (``suite-zero``: its latest
    import), ``proxies`` those of them that are stored (default: all). One-line error when
    nothing of it is stored."""
    path = Path(path)
    conn = open_database(path)
    try:
        found = _fetch(conn, path, "SELECT data_fingerprint, seed, batch_size, augment, "
                       "max(created_at) AS latest FROM proxy_scores WHERE data_fingerprint = $s "
                       "OR starts_with(data_fingerprint, $s || $sep) GROUP BY ALL "
                       "ORDER BY latest DESC", {"s": source, "sep": IMPORTED_SEPARATOR})
    finally:
        conn.close()
    if not len(found["data_fingerprint"]) or IMPORTED_SEPARATOR not in (
            found["data_fingerprint"][0]):
        raise UserError(f"{path} holds no scores imported from {shorten(source)}; import them "
                        f"with `tfnas db import --format suite-zero FILE --db {path}`")
    config = ScoringConfig(int(found["seed"][0]), int(found["batch_size"][0]),
                           bool(found["augment"][0]), str(found["data_fingerprint"][0]))
    return read_scores(path, config, datasets, proxies, if_stored=True)


def side_by_side(ours: Scores, theirs: Scores, label: str) -> dict[str, dict[str, np.ndarray]]:
    """Per dataset both hold, the architectures both scored: our columns, and each of their
    proxies as ``<proxy>@<label>`` (with its ``_seconds``), so one report compares the two
    sources on exactly the same architectures."""
    joined = {}
    for dataset, mine in ours.columns.items():
        other = theirs.columns.get(dataset)
        if other is None:
            continue
        both = np.intersect1d(mine["arch_code"], other["arch_code"])
        take = np.isin(mine["arch_code"], both)
        pick = np.isin(other["arch_code"], both)
        columns = {name: values[take] for name, values in mine.items()}
        for proxy in (c.removesuffix("_seconds") for c in other if c.endswith("_seconds")):
            columns[f"{proxy}@{label}"] = other[proxy][pick]
            columns[f"{proxy}@{label}_seconds"] = other[proxy + "_seconds"][pick]
        joined[dataset] = columns
    if not joined:
        raise UserError(f"no dataset holds both tfnas's scores and {label}'s")
    return joined
