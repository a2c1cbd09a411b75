"""Tables I–V of the study ("Training Free Neural Architecture Search": NASWOT and Synflow on
NATS-Bench TSS), and the same search tables for any stored proxy, replayed against the
database with :mod:`tfnas.replay.search`.

- Table I: random search with NASWOT for N = 10, 100, 1000.
- Table II: random search with NASWOT (N = 100 by default; the study leaves N unstated).
- Table III: random search with Synflow (same N).
- Tables IV / V: regularized evolution with NASWOT / Synflow, 1000 cycles, population 64,
  tournament 20.
- For any other proxy p (``tfnas tables --proxies p``): "random p" (N = 10, 100, 1000) and
  "REA p".

Every (table, dataset, N) cell runs R independent searches and reports three rows:
``chosen`` (the architecture the search returns: accuracy, proxy score and simulated search
time, mean and std over runs), ``optimal`` (the best accuracy among the architectures each
run evaluated, and that architecture's score) and ``population`` (mean and std of accuracy
and finite scores over every distinct architecture the runs evaluated, pooled). Std is ddof 0.
Search time is simulated: Σ stored scoring seconds of the distinct architectures a run
evaluated (the study's times are its own elapsed seconds).

Runs are replayed in chunks of :data:`CHUNK` and summarised as streaming moments, so memory
does not grow with R (R ≤ CHUNK gives exactly the runs of one unchunked replay).

One random stream per experiment: a cell's generator is
:func:`tfnas.replay.search.streams.search_rng` of (seed, search, proxy, dataset, N), not of
the table it is printed in. So Table II's NASWOT cell, Table I's at the same N, the "random
naswot" cell of ``--proxies naswot`` and ``random_search(table, n, runs, rng=seed)`` (or
:meth:`tfnas.api.Database.random_search`) are the same runs and give the same numbers.

The study's numbers (``study_*`` columns, shipped as ``tfnas/data/study_tables.csv``) are its
12-epoch accuracies — validation accuracy for Table I, the split unstated for Tables II–V —
and stand on the ``chosen`` rows only when our accuracy column is that quantity
(:func:`study_comparable`); otherwise they are printed apart, labelled (:func:`render`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from tfnas.config import DEFAULT, STUDY_PROXIES, ScoringConfig
from tfnas.errors import UserError
from tfnas.replay.markdown import format_number, markdown_table
from tfnas.replay.parallel import fork_map, share, workers
from tfnas.replay.search import ScoreTable
from tfnas.replay.search.arrays import check_accuracy
from tfnas.replay.search.evolution import check_evolution, evolve_together
from tfnas.replay.search.random_search import check_random_search, random_picks
from tfnas.replay.search.runs import run_columns
from tfnas.replay.search.streams import CHUNK, chunks, search_rng
from tfnas.space import NUM_ARCHS

if TYPE_CHECKING:
    import pandas as pd

    from tfnas.replay.search.arrays import Columns

STUDY_CSV = resources.files("tfnas") / "data" / "study_tables.csv"
TABLE_1_SIZES: tuple[int, ...] = (10, 100, 1000)
REA_SETTINGS: dict[str, int] = {"cycles": 1000, "population": 64, "tournament": 20}
NASWOT, SYNFLOW = STUDY_PROXIES[:2]
#: The study's tables: name → (search, proxy).
TABLES: dict[str, tuple[str, str]] = {
    "I": ("random", NASWOT), "II": ("random", NASWOT), "III": ("random", SYNFLOW),
    "IV": ("rea", NASWOT), "V": ("rea", SYNFLOW),
}
#: The proxies Tables I–V read.
TABLES_PROXIES: tuple[str, ...] = tuple(dict.fromkeys(proxy for _, proxy in TABLES.values()))
#: What the study's accuracy numbers are: 12 epochs; the split where the study states it.
STUDY_ACCURACY: dict[str, tuple[str, ...]] = {
    "I": ("valid_acc_12ep",),
    **{t: ("test_acc_12ep", "valid_acc_12ep") for t in ("II", "III", "IV", "V")},
}
SETTINGS = ["n", "cycles", "population", "tournament"]
MEASURES = ["accuracy_mean", "accuracy_std", "score_mean", "score_std", "time_mean_s",
            "time_std_s"]
MAX_RUNS = 100_000


def study_comparable(table: str, accuracy: str) -> bool:
    """Whether the study's numbers of ``table`` measure the same quantity as our column."""
    return accuracy in STUDY_ACCURACY.get(table, ())


def load_study() -> list[dict]:
    """The study's Tables I–V, one dict per cell (shipped with tfnas); numbers as floats,
    NaN where the study has none."""
    with resources.as_file(STUDY_CSV) as path, open(path, newline="") as file:
        return [{key: value if key in _TEXT else float(value) if value else math.nan
                 for key, value in row.items()} for row in csv.DictReader(file)]


_TEXT = ("table", "search", "proxy", "dataset")
COLUMNS = ["table", "search", "proxy", "dataset", *SETTINGS, "accuracy", "runs", "unique", "row",
           *MEASURES]


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations of a sample; ``+`` merges two samples
    (Chan et al. 1979), so chunks of runs combine exactly."""

    n: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            return cls()
        mean = float(values.mean())
        return cls(float(len(values)), mean, float(((values - mean) ** 2).sum()))

    @classmethod
    def pooled(cls, counts: np.ndarray, means: np.ndarray, stds: np.ndarray) -> Moments:
        """The moments of groups given by their counts, means and (ddof 0) stds."""
        ok = np.asarray(counts) > 0
        counts, means, stds = (np.asarray(a, dtype=float)[ok] for a in (counts, means, stds))
        if not counts.sum():
            return cls()
        n = counts.sum()
        mean = float((counts * means).sum() / n)
        m2 = float((counts * (stds**2 + (means - mean) ** 2)).sum())
        return cls(float(n), mean, m2)

    def __add__(self, other: Moments) -> Moments:
        n = self.n + other.n
        if not n:
            return Moments()
        delta = other.mean - self.mean
        return Moments(n, self.mean + delta * other.n / n,
                       self.m2 + other.m2 + delta**2 * self.n * other.n / n)

    @property
    def mean_std(self) -> tuple[float, float]:
        if not self.n:
            return np.nan, np.nan
        return self.mean, math.sqrt(max(self.m2 / self.n, 0.0))


class CellSummary:
    """The ``chosen``, ``optimal`` and ``population`` rows of one cell, from chunks of runs."""

    def __init__(self) -> None:
        self.moments: dict[tuple[str, str], Moments] = {}

    def add(self, runs: Mapping[str, np.ndarray]) -> None:
        """Add one chunk of runs (:func:`tfnas.replay.search.runs.run_columns`, or its frame)."""
        parts = {
            ("chosen", "accuracy"): Moments.of(runs["accuracy"]),
            ("chosen", "score"): Moments.of(runs["score"]),
            ("chosen", "time"): Moments.of(runs["seconds"]),
            ("optimal", "accuracy"): Moments.of(runs["optimal_accuracy"]),
            ("optimal", "score"): Moments.of(runs["optimal_score"]),
            ("population", "accuracy"): Moments.pooled(
                runs["distinct"], runs["population_accuracy_mean"],
                runs["population_accuracy_std"]),
            ("population", "score"): Moments.pooled(
                runs["population_score_count"], runs["population_score_mean"],
                runs["population_score_std"]),
        }
        for key, moments in parts.items():
            self.moments[key] = self.moments.get(key, Moments()) + moments

    def rows(self) -> list[dict]:
        out = []
        for row in ("chosen", "optimal", "population"):
            values = {}
            for measure, suffix in (("accuracy", ""), ("score", ""), ("time", "_s")):
                mean, std = self.moments.get((row, measure), Moments()).mean_std
                values[f"{measure}_mean{suffix}"], values[f"{measure}_std{suffix}"] = mean, std
            out.append({"row": row, **{m: values[m] for m in MEASURES}})
        return out


def check_options(runs: int, accuracy: str, sizes: Sequence[int] = ()) -> None:
    """One-line ``ValueError`` for arguments no database could satisfy."""
    check_accuracy(accuracy)
    if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
        raise UserError(f"--runs must be an integer in 1..{MAX_RUNS:,}, got {runs!r} (runs are "
                         f"replayed {CHUNK:,} at a time, so memory stays bounded; "
                         f"{MAX_RUNS:,} runs already take about a minute per table and put "
                         "the standard error of a mean at 0.3 % of the spread)")
    for n in sizes:
        if not 1 <= n <= NUM_ARCHS:
            raise UserError(f"--n must be in 1..{NUM_ARCHS} (random search samples without "
                             f"replacement from the {NUM_ARCHS} architectures), got {n}")


def plan_tables(proxies: Sequence[str] | None, n: int = 100
                ) -> dict[str, tuple[str, str, tuple[int, ...]]]:
    """Table name → (search, proxy, random-search sizes). ``proxies`` None: the study's
    Tables I–V; else per proxy "random <p>" (N = 10, 100, 1000) and "REA <p>"."""
    if proxies is None:
        sizes = {"I": TABLE_1_SIZES, "II": (n,), "III": (n,), "IV": (), "V": ()}
        return {name: (*TABLES[name], sizes[name]) for name in TABLES}
    plan = {}
    for proxy in proxies:
        plan[f"random {proxy}"] = ("random", proxy, TABLE_1_SIZES)
        plan[f"REA {proxy}"] = ("rea", proxy, ())
    return plan


@dataclass
class Cell:
    """One (table, dataset, setting) of a replay: its key columns, lookup and generator."""

    key: dict
    lookup: ScoreTable
    rng: np.random.Generator

    @property
    def cost(self) -> float:
        """Work, in lookups per run: N for random search, cycles for REA."""
        return float(self.key["n"] if self.key["search"] == "random" else self.key["cycles"])


def replay(scores: Mapping[str, Columns],
           plan: Mapping[str, tuple[str, str, Sequence[int]]], *, runs: int, accuracy: str,
           seed: int, rea: Mapping[str, int], unique: bool = False,
           config: ScoringConfig = DEFAULT) -> dict[str, tuple[list[dict], list[str]]]:
    """The summary rows (with the cell's settings) and notes of each table in ``plan``.

    Each cell has its own generator, the experiment's (:func:`search_rng` of seed, search,
    proxy, dataset, N), so a result depends neither on which tables are replayed together nor
    on the table it is printed in; R runs are replayed in chunks of
    :data:`CHUNK` drawn one after the other from that generator. The cells are shared out
    over the cores (:func:`tfnas.replay.parallel.fork_map`); within a share the
    regularized-evolution cells run in one loop over cycles (:func:`evolve_together`).
    ``unique``: searches over classes of isomorphic cells (:meth:`ScoreTable.unique`);
    ``config``: the scoring configuration the scores were read for (named in hints)."""
    done = {table: ([], []) for table in plan}
    cells = []
    for table, (search, proxy, sizes) in plan.items():
        notes = done[table][1]
        for dataset, frame in scores.items():
            try:
                lookup = ScoreTable.from_frame(frame, proxy, accuracy, config)
                lookup = lookup.unique() if unique else lookup
            except ValueError as err:
                notes.append(f"{dataset}: {err}")
                continue
            for setting in ([{"n": n} for n in sizes] if search == "random" else [dict(rea)]):
                rng = search_rng(seed, search, proxy, dataset, setting.get("n"))
                key = {"table": table, "search": search, "proxy": proxy, "dataset": dataset,
                       **setting, "accuracy": accuracy, "runs": runs, "unique": unique}
                try:
                    if search == "random":
                        check_random_search(lookup, setting["n"], runs)
                    else:
                        check_evolution(lookup, runs=runs, **setting)
                except ValueError as err:
                    notes.append(f"{dataset}: {err}")
                    continue
                cells.append(Cell(key, lookup, rng))
    shares = share([cell.cost for cell in cells], workers())
    results = fork_map(_replay_share, [([cells[i] for i in group], runs, rea)
                                       for group in shares])
    summaries = {i: summary for group, result in zip(shares, results, strict=True)
                 for i, summary in zip(group, result, strict=True)}
    for i, cell in enumerate(cells):  # in plan order, whatever the shares
        done[cell.key["table"]][0].extend(cell.key | row for row in summaries[i].rows())
    return done


def _replay_share(job: tuple[list[Cell], int, Mapping[str, int]]) -> list[CellSummary]:
    """Each cell's summary of ``runs`` runs (one share of :func:`replay`; ``rea``: cycles,
    population, tournament)."""
    cells, runs, rea = job
    summaries = [CellSummary() for _ in cells]
    evolving = [i for i, cell in enumerate(cells) if cell.key["search"] == "rea"]
    for chunk in chunks(runs):
        for i, cell in enumerate(cells):
            if cell.key["search"] == "random":
                summaries[i].add(run_columns(cell.lookup, random_picks(
                    cell.lookup, cell.key["n"], chunk, cell.rng)))
        if evolving:
            visited = evolve_together([cells[i].lookup for i in evolving], runs=chunk,
                                      rngs=[cells[i].rng for i in evolving], **rea)
            for i, codes in zip(evolving, visited, strict=True):
                summaries[i].add(run_columns(cells[i].lookup, codes))
    return summaries


def assemble(table: str, rows: list[dict], notes: list[str]) -> list[dict]:
    """One table's rows from its :func:`replay` rows (:data:`COLUMNS`, N as a float, NaN for
    settings a search does not have), with the study's numbers (``study_*``) on ``chosen``
    rows of a study table. ``ValueError`` with the notes when no dataset could be replayed."""
    if not rows:
        raise UserError("; ".join(notes))
    study = [cell for cell in load_study() if cell["table"] == table]
    keys = ["table", "dataset"] + (["n"] if any(not math.isnan(c["n"]) for c in study) else [])
    found = {tuple(cell[k] for k in keys): cell for cell in study}
    out = []
    for row in rows:
        row = {column: row.get(column, math.nan) for column in COLUMNS}
        row["n"] = float(row["n"])
        cell = found.get(tuple(row[k] for k in keys)) if row["row"] == "chosen" else None
        out.append(row | {f"study_{m}": cell[m] if cell else math.nan for m in MEASURES})
    return out


def table_rows(scores: Mapping[str, Columns], n: int = 100, runs: int = 500,
               accuracy: str = "test_acc_12ep", seed: int = 0,
               rea: Mapping[str, int] = REA_SETTINGS, proxies: Sequence[str] | None = None,
               unique: bool = False, config: ScoringConfig = DEFAULT
               ) -> dict[str, tuple[list[dict], list[str]]]:
    """:func:`tables` as rows (:func:`assemble`) and notes per table, no pandas: what
    ``tfnas tables`` prints and writes."""
    plan = plan_tables(proxies, n)
    check_options(runs, accuracy, [s for _, _, sizes in plan.values() for s in sizes])
    result = {}
    for name, (rows, notes) in replay(scores, plan, runs=runs, accuracy=accuracy, seed=seed,
                                      rea=rea, unique=unique, config=config).items():
        try:
            result[name] = (assemble(name, rows, notes), notes)
        except ValueError as err:  # no dataset could be replayed: each one's note, as they are
            result[name] = ([], notes or [str(err)])
    if not any(rows for rows, _ in result.values()):
        first = next(iter(result.values()))[1][0]
        raise UserError(f"no table could be computed: {first}")
    return result


def tables(scores: Mapping[str, Columns], n: int = 100, runs: int = 500,
           accuracy: str = "test_acc_12ep", seed: int = 0, rea: Mapping[str, int] = REA_SETTINGS,
           proxies: Sequence[str] | None = None, unique: bool = False,
           config: ScoringConfig = DEFAULT) -> dict[str, pd.DataFrame]:
    """The study's Tables I–V by name ("I" … "V"; Tables II and III with N = ``n``), or with
    ``proxies`` the random-search and REA tables of each (:func:`plan_tables`), replayed
    together; ``unique``: over classes of isomorphic cells. A table no dataset can fill is an
    empty frame whose ``attrs["notes"]`` say why; ``ValueError`` if every table is empty or an
    argument is bad."""
    import pandas as pd

    result = {}
    for name, (rows, notes) in table_rows(scores, n, runs, accuracy, seed, rea, proxies, unique,
                                          config).items():
        result[name] = pd.DataFrame(rows) if rows else pd.DataFrame()
        result[name].attrs["notes"] = notes
    return result


def table_1(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table I: random search with NASWOT, N = 10, 100, 1000."""
    return tables(scores, **options)["I"]


def table_2(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table II: random search with NASWOT, N = ``n``."""
    return tables(scores, **options)["II"]


def table_3(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table III: random search with Synflow, N = ``n``."""
    return tables(scores, **options)["III"]


def table_4(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table IV: regularized evolution with NASWOT (``rea``: cycles, population, tournament)."""
    return tables(scores, **options)["IV"]


def table_5(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table V: regularized evolution with Synflow."""
    return tables(scores, **options)["V"]


def _mean_std(mean: float, std: float, digits: int | None) -> str:
    """"mean ± std" with ``digits`` decimals on both (the mean's scale decides: 3 significant
    digits on both where the mean needs them); ``digits`` None: 4 significant digits."""
    if np.isnan(mean):
        return ""
    if digits is None:
        return f"{mean:.4g} ± {std:.4g}"
    text = format_number(mean, digits)
    if "e" in text:
        return f"{text} ± {std:.3g}"
    return f"{text} ± {std:.{digits}f}"


def _title(rows: Sequence[Mapping]) -> str:
    first = rows[0]
    if first["search"] == "random":
        setting = f"random search, N = {', '.join(str(int(n)) for n in _distinct(rows, 'n'))}"
    else:
        setting = (f"regularized evolution, {int(first['cycles'])} cycles, population "
                   f"{int(first['population'])}, tournament {int(first['tournament'])}")
    name = f"Table {first['table']}" if first["table"] in TABLES else "Search"
    classes = "; over classes of isomorphic cells" if first.get("unique", False) else ""
    return (f"{name}: {first['proxy']}, {setting}{classes}; {int(first['runs'])} runs; "
            f"accuracy = {first['accuracy']} (%); time = simulated seconds")


def _distinct(rows: Sequence[Mapping], column: str) -> list:
    """The values of ``column`` in order of appearance, NaN left out."""
    return list(dict.fromkeys(r[column] for r in rows if not _nan(r[column])))


def _nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def render(table: Sequence[Mapping] | pd.DataFrame) -> str:
    """Markdown: a title line and one row per (dataset, setting, row). The study's numbers
    stand beside ours when they are the same quantity (:func:`study_comparable`), else they
    follow in a table of their own that says what they are. ``table``: one table's rows
    (:func:`table_rows`) or frame (:func:`tables`)."""
    rows = table.to_dict("records") if hasattr(table, "to_dict") else list(table)
    first = rows[0]
    table, accuracy = first["table"], first["accuracy"]
    columns: dict[str, list] = {"dataset": [r["dataset"] for r in rows]}
    if len(_distinct(rows, "n")) > 1:
        columns["N"] = [int(r["n"]) for r in rows]
    columns["row"] = [r["row"] for r in rows]
    has_study = table in TABLES and any(not _nan(r.get("study_accuracy_mean")) for r in rows)
    unique = bool(first.get("unique", False))  # the study searched all 15,625 strings
    beside = has_study and study_comparable(table, accuracy) and not unique
    for measure, label, digits in (("accuracy", "accuracy", 2), ("score", "score", 2),
                                   ("time", "time s", None)):
        suffix = "_s" if measure == "time" else ""
        whose = (("ours", ""), ("study", "study_")) if beside else (("ours", ""),)
        for who, prefix in whose:
            heading = f"{label} ({who})" if beside else label
            columns[heading] = [_mean_std(float(r.get(f"{prefix}{measure}_mean{suffix}", math.nan)),
                                          float(r.get(f"{prefix}{measure}_std{suffix}", math.nan)),
                                          digits) for r in rows]
    text = f"### {_title(rows)}\n\n{markdown_table(columns)}"
    if beside:
        text += (f"\n\nStudy: 12-epoch {_study_split(table)} accuracy; its times are its own "
                 "elapsed seconds.")
    elif has_study:
        study = [r for r in rows if not _nan(r["study_accuracy_mean"])]
        apart: dict[str, list] = {"dataset": [r["dataset"] for r in study]}
        if len(_distinct(study, "n")) > 1:
            apart["N"] = [int(r["n"]) for r in study]
        for measure, digits, suffix in (("accuracy", 2, ""), ("score", 2, ""),
                                        ("time", None, "_s")):
            apart[f"study {measure}"] = [
                _mean_std(float(r[f"study_{measure}_mean{suffix}"]),
                          float(r[f"study_{measure}_std{suffix}"]), digits) for r in study]
        why = ("searched all 15,625 architecture strings, not classes of isomorphic cells"
               if unique else f"measures 12-epoch {_study_split(table)} accuracy, not "
                              f"{accuracy}")
        hint = "" if unique else (f" (`--accuracy {STUDY_ACCURACY[table][0]}` compares like "
                                  "with like)")
        text += (f"\n\nThe study's Table {table} {why}, so it is not beside ours{hint}:\n\n"
                 + markdown_table(apart))
    return text


def _study_split(table: str) -> str:
    return "validation" if STUDY_ACCURACY[table] == ("valid_acc_12ep",) else "(split unstated)"
