"""``tfnas evaluate FILE.py``: a proxy from a file, scored and compared with the stored ones.

The proxy scores the first N architectures of the seeded order (:func:`tfnas.space.
seeded_order`, the pipeline's ``--limit N`` sample) after its contract check
(:func:`tfnas.plugins.check_contract`). Then, on exactly those architectures and against one
accuracy column (default 200-epoch test accuracy), every row of the table gives Spearman's ρ,
Kendall's τ-b and top-1 % / top-5 % precision with 95 % percentile bootstrap intervals
(:mod:`tfnas.replay.correlations`: the same statistics and resampling as ``tfnas
correlations``), for the new proxy and for every proxy and rank ensemble the database holds on
all of them — the default configuration (seed 0, batch 128) and the zoo's sample (seed 0,
batch 64, ``db.bundle.SAMPLE``) — with Δρ = ρ(new) − ρ(row) and its **paired** interval: the
same resamples for both proxies, the percentile interval of the per-resample differences.

Nothing is written to the database: the new proxy is registered only in this process, and a
database row of a proxy the other commands cannot load would be unreadable to them. The
scores go to ``--out`` (``scores.csv``, each row with ``tfnas_version = external:<16 hex>``
of the file's SHA-256: :func:`tfnas.plugins.source_version`) beside the table
(``evaluate.csv``), written only after every check and score succeeded.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfnas.errors import UserError

#: Statistics of the table (see :mod:`tfnas.replay.correlations`).
STATISTICS: tuple[str, ...] = ("spearman", "kendall", "top1", "top5")
DEFAULT_LIMIT = 1000
DEFAULT_RESAMPLES = 1000


@dataclass
class Evaluation:
    """What ``tfnas evaluate`` computed: the proxy's scores (``codes`` in seeded order),
    seconds per architecture, the table rows (dicts) and notes on what was left out."""

    proxy: str
    version: str
    dataset: str
    accuracy: str
    codes: np.ndarray
    scores: np.ndarray
    seconds: np.ndarray
    batch_size: int
    fingerprint: str
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def paired_rows(named: Sequence[tuple[str, str, np.ndarray, float]], accuracy: np.ndarray,
                resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> list[dict]:
    """One row per ``(label, configuration, scores, seconds per arch)`` of ``named``, all on
    the same architectures (the first is the reference): each statistic, its bootstrap
    interval (``<stat>_low``/``<stat>_high``), and ``delta_spearman`` = ρ(first) − ρ(row) with
    its paired percentile interval (``delta_low``/``delta_high``) over the same ``resamples``
    multinomial resamples (seeded by ``seed``) for every row."""
    from tfnas.replay.correlations import (
        bootstrap_statistics,
        percentile_interval,
        point_statistics,
        resample_weights,
    )

    weights = resample_weights(len(accuracy), resamples, np.random.default_rng(seed))
    rows, first_boot, first_point = [], None, None
    for label, config, score, seconds in named:
        score = np.asarray(score, dtype=float)
        point = point_statistics(score, accuracy)
        boot = bootstrap_statistics(score, accuracy, weights)
        if first_boot is None:
            first_boot, first_point = boot["spearman"], point["spearman"]
        row = {"proxy": label, "configuration": config, "n": len(score),
               "n_neg_inf": int(np.isneginf(score).sum())}
        for name in STATISTICS:
            low, high = percentile_interval(boot[name])
            row |= {name: point[name], f"{name}_low": low, f"{name}_high": high}
        low, high = percentile_interval(first_boot - boot["spearman"])
        row |= {"delta_spearman": first_point - point["spearman"], "delta_low": low,
                "delta_high": high, "seconds_per_arch": seconds}
        rows.append(row)
    return rows


def stored_columns(db: str | os.PathLike, dataset: str, codes: np.ndarray, accuracy: str
                   ) -> tuple[list[tuple[str, str, np.ndarray, float]], np.ndarray, list[str]]:
    """The stored proxies and rank ensembles scored on every architecture of ``codes``
    (default configuration, then the zoo's batch-64 sample), as ``(label, configuration,
    scores in codes order, mean seconds)``; the accuracy of ``codes``; notes on what was left
    out (a proxy covering only part of them, a configuration the database lacks)."""
    from db.bundle import SAMPLE
    from db.connection import DatabaseError
    from db.read import read_scores
    from tfnas.config import DEFAULT
    from tfnas.replay.search.arrays import stored_proxies

    found, notes, acc = [], [], None
    for config, label in ((DEFAULT, "default (seed 0, batch 128)"),
                          (SAMPLE, "zoo sample (seed 0, batch 64)")):
        try:
            first = read_scores(db, config, [dataset])
        except DatabaseError:
            if config is DEFAULT:
                raise
            notes.append(f"no {label} scores for {dataset}")
            continue
        names = stored_proxies(first.columns[dataset]) + list(first.ensembles)
        columns = read_scores(db, config, [dataset], names).columns[dataset]
        position = np.full(15625, -1)
        position[columns["arch_code"]] = np.arange(len(columns["arch_code"]))
        at = position[codes]
        if acc is None and (at >= 0).all():
            acc = np.asarray(columns[accuracy], dtype=float)[at]
        for name in names:
            values = np.asarray(columns[name], dtype=float)[np.maximum(at, 0)]
            if (at < 0).any() or np.isnan(values).any():
                held = int(((at >= 0) & ~np.isnan(values)).sum())
                if held:
                    notes.append(f"{name} ({label}) holds {held} of the {len(codes)} "
                                 "architectures: left out")
                continue
            seconds = np.asarray(columns.get(f"{name}_seconds", np.full(len(at), np.nan)),
                                 dtype=float)[at]
            found.append((name, label, values, float(np.nanmean(seconds))
                          if not np.isnan(seconds).all() else math.nan))
    if acc is None:
        acc = _accuracy(db, dataset, codes, accuracy)
    return found, acc, notes


def _accuracy(db: str | os.PathLike, dataset: str, codes: np.ndarray, accuracy: str
              ) -> np.ndarray:
    """``accuracy`` of ``codes`` from the database's ``arch_accuracies`` view."""
    from db.connection import open_read_only

    conn = open_read_only(db)
    try:
        got = dict(conn.execute(f"SELECT arch_code, {accuracy} FROM arch_accuracies WHERE "
                                "dataset = ?", [dataset]).fetchall())
    finally:
        conn.close()
    return np.array([np.nan if got.get(int(c)) is None else got[int(c)] for c in codes],
                    dtype=float)


def evaluate(path: str | os.PathLike, dataset: str = "cifar10", limit: int = DEFAULT_LIMIT,
             batch_size: int = 128, data: str | os.PathLike | None = None,
             db: str | os.PathLike = "out/tfnas.duckdb", accuracy: str = "test_acc_200ep",
             resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> Evaluation:
    """Load, check, score and compare the proxy of the file ``path`` (module docstring).
    Every problem is a one-line ``UserError`` naming the file; nothing is written here."""
    from tfnas import proxies
    from tfnas.config import ScoringConfig
    from tfnas.datasets import dataset_spec, default_data_root, sample_batch
    from tfnas.plugins import check_contract, load_proxy_file, source_version
    from tfnas.scoring import check_run, score_archs
    from tfnas.space import Arch, seeded_order

    name = Path(path).name
    spec = dataset_spec(dataset)
    proxy = load_proxy_file(path)
    version = source_version(path)
    batch = None
    if proxies.IMAGES in proxy.reads:
        batch = sample_batch(spec, data if data is not None else default_data_root(),
                             ScoringConfig(seed, batch_size, False))
    run = proxies.ScoringRun(spec, seed, "cpu", batch, batch_size)
    check_run(run, [proxy.name])
    contract = batch if batch is not None and len(batch.images) >= 2 else None
    if contract is not None:  # the first images of the run's batch, at most 8 (fast)
        from tfnas.datasets import Batch

        contract = Batch(contract.images[:8], contract.labels[:8], contract.fingerprint)
    check_contract(proxy, spec, contract, who=f"{name}: PROXY")
    codes = np.array(seeded_order()[:limit])
    archs = [Arch.from_code(int(c)) for c in codes]
    try:
        scored = score_archs(archs, run, [proxy.name])
    except UserError as err:
        raise UserError(f"{name}: {err}") from None
    except Exception as err:  # the proxy's code
        arch = next((note for note in getattr(err, "__notes__", ())), "")
        raise UserError(f"{name}: PROXY raised {type(err).__name__}: {' '.join(str(err).split())}"
                        f" ({arch.removeprefix('tfnas: ')}); a proxy must score every "
                        "architecture (-inf for a degenerate one)") from None
    scores = np.array([s[proxy.name].score for s in scored])
    if len(scores) > 1 and (scores == scores[0]).all():
        raise UserError(f"{name}: PROXY scored all {len(scores)} architectures {scores[0]}; a "
                        "constant score ranks nothing")
    seconds = np.array([s[proxy.name].seconds for s in scored])
    stored, acc, notes = stored_columns(db, spec.name, codes, accuracy)
    keep = ~np.isnan(acc)
    if keep.sum() < 3:
        raise UserError(f"{db} has no {accuracy} for {spec.name}; run `tfnas db init --db {db}`")
    if not keep.all():
        notes.append(f"{int((~keep).sum())} architectures without {accuracy} left out")
    named = [(proxy.name, f"{version}, batch {run.batch_size}", scores[keep],
              float(seconds.mean()))]
    named += [(label, config, values[keep], secs) for label, config, values, secs in stored]
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column: NaN, said so
        rows = paired_rows(named, acc[keep], resamples, seed)
    fingerprint = proxies.read_fingerprint(
        proxy.reads, batch.fingerprint if batch is not None else None,
        batch.labels.numpy() if batch is not None else None)
    return Evaluation(proxy.name, version, spec.name, accuracy, codes, scores, seconds,
                      run.batch_size, fingerprint, rows, notes)


def _interval(row: dict, name: str, low: str | None = None, high: str | None = None) -> str:
    low, high = row[low or f"{name}_low"], row[high or f"{name}_high"]
    return f"{row[name]:.3f} [{low:.3f}, {high:.3f}]"


def render(result: Evaluation) -> str:
    """The table as Markdown, the new proxy first, then by ρ descending, with the notes."""
    from tfnas.replay.markdown import format_number, markdown_table

    first, others = result.rows[0], sorted(result.rows[1:], key=lambda r: -r["spearman"])
    rows = [first, *others]
    table = markdown_table({
        "proxy": [r["proxy"] for r in rows],
        "configuration": [r["configuration"] for r in rows],
        "ρ": [_interval(r, "spearman") for r in rows],
        "τ": [_interval(r, "kendall") for r in rows],
        "top-1%": [_interval(r, "top1") for r in rows],
        "top-5%": [_interval(r, "top5") for r in rows],
        f"Δρ ({result.proxy} − row), paired": [
            "" if r is first else _interval(r, "delta_spearman", "delta_low", "delta_high")
            for r in rows],
        "s/arch": [format_number(r["seconds_per_arch"], 4) for r in rows],
    })
    n = first["n"]
    head = (f"# {result.proxy} ({result.version}) on {result.dataset}: the first {n} "
            f"architectures of the seeded order, against {result.accuracy}; 95% bootstrap "
            "intervals")
    return "\n".join([head, "", table, *[f"note: {note}" for note in result.notes]])


def write_outputs(result: Evaluation, out: str | os.PathLike, seed: int = 0) -> list[Path]:
    """``evaluate.csv`` (the table's rows) and ``scores.csv`` (one row per architecture, its
    configuration and ``tfnas_version = external:<hash>``) in ``out``; the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "evaluate.csv"
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(result.rows[0]))
        writer.writeheader()
        writer.writerows(result.rows)
    scores = out / "scores.csv"
    from tfnas.space import Arch

    with scores.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch_code", "arch_str", "dataset", "proxy", "score", "seconds", "seed",
                         "batch_size", "data_fingerprint", "augment", "device", "tfnas_version",
                         "created_at"])
        now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        for code, score, secs in zip(result.codes, result.scores, result.seconds, strict=True):
            writer.writerow([int(code), str(Arch.from_code(int(code))), result.dataset,
                             result.proxy, repr(float(score)), repr(float(secs)), seed,
                             result.batch_size, result.fingerprint, False, "cpu",
                             result.version, now])
    return [table, scores]
