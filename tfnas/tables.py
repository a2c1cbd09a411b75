"""Tables I–V of the study ("Training Free Neural Architecture Search": NASWOT and Synflow on
NATS-Bench TSS), replayed against the database with :mod:`tfnas.search`.

- Table I: random search with NASWOT for N = 10, 100, 1000.
- Table II: random search with NASWOT (N = 100 by default; the study leaves N unstated).
- Table III: random search with Synflow (same N).
- Tables IV / V: regularized evolution with NASWOT / Synflow, 1000 cycles, population 64,
  tournament 20.

Every (table, dataset, N) cell runs R independent searches and reports three rows:
``chosen`` (the architecture the search returns: accuracy, proxy score and simulated search
time, mean and std over runs), ``optimal`` (the best accuracy among the architectures each
run evaluated, and that architecture's score) and ``population`` (mean and std of accuracy
and finite scores over every distinct architecture the runs evaluated, pooled). Std is ddof 0.
Search time is simulated: Σ stored scoring seconds of the distinct architectures a run
evaluated (the study's times are its own elapsed seconds). The study's numbers
(``study_*`` columns, from ``study_tables.csv``) are on the ``chosen`` rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tfnas.datasets import DATASETS
from tfnas.markdown import format_number, markdown_table
from tfnas.search import ScoreTable, random_search, summarise_runs
from tfnas.search.arrays import check_names
from tfnas.search.evolution import check_evolution, evolve_together
from tfnas.space import NUM_ARCHS

STUDY_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "study_tables.csv"
TABLE_1_SIZES: tuple[int, ...] = (10, 100, 1000)
REA_SETTINGS: dict[str, int] = {"cycles": 1000, "population": 64, "tournament": 20}
TABLES: dict[str, tuple[str, str]] = {  # table → (search, proxy)
    "I": ("random", "naswot"), "II": ("random", "naswot"), "III": ("random", "synflow"),
    "IV": ("rea", "naswot"), "V": ("rea", "synflow"),
}
SETTINGS = ["n", "cycles", "population", "tournament"]
MEASURES = ["accuracy_mean", "accuracy_std", "score_mean", "score_std", "time_mean_s",
            "time_std_s"]


def load_study(path: str | os.PathLike | None = STUDY_CSV) -> pd.DataFrame | None:
    """The study's Tables I–V (one row per cell), or None when the file is absent."""
    if path is None or not Path(path).is_file():
        return None
    return pd.read_csv(path)


def _pooled(runs: pd.DataFrame, name: str, count: str) -> tuple[float, float]:
    """Mean and std over all runs' items pooled, from each run's count, mean and std."""
    n, mean, std = runs[count], runs[f"{name}_mean"], runs[f"{name}_std"]
    ok = n > 0
    n, mean, std = n[ok], mean[ok], std[ok]
    pooled = float((n * mean).sum() / n.sum())
    second = float((n * (std**2 + mean**2)).sum() / n.sum())
    return pooled, float(np.sqrt(max(second - pooled**2, 0.0)))


def summarise_cell(runs: pd.DataFrame) -> list[dict]:
    """The ``chosen``, ``optimal`` and ``population`` rows of one cell's runs."""
    def mean_std(values: pd.Series) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        return float(values.mean()), float(values.std(ddof=0))

    population = runs.assign(population_accuracy_count=runs["distinct"])
    rows = [
        ("chosen", mean_std(runs["accuracy"]), mean_std(runs["score"]),
         mean_std(runs["seconds"])),
        ("optimal", mean_std(runs["optimal_accuracy"]), mean_std(runs["optimal_score"]),
         (np.nan, np.nan)),
        ("population", _pooled(population, "population_accuracy", "population_accuracy_count"),
         _pooled(population, "population_score", "population_score_count"), (np.nan, np.nan)),
    ]
    return [dict(zip(["row", *MEASURES], [row, *acc, *score, *time], strict=True))
            for row, acc, score, time in rows]


def check_options(runs: int, accuracy: str, sizes: Sequence[int] = ()) -> None:
    """One-line ``ValueError`` for arguments no database could satisfy."""
    check_names("naswot", accuracy)
    if runs < 1:
        raise ValueError(f"--runs must be at least 1, got {runs}")
    for n in sizes:
        if not 1 <= n <= NUM_ARCHS:
            raise ValueError(f"--n must be in 1..{NUM_ARCHS} (random search samples without "
                             f"replacement from the {NUM_ARCHS} architectures), got {n}")


def replay(scores: Mapping[str, pd.DataFrame], plan: Mapping[str, Sequence[int]], *,
           runs: int, accuracy: str, seed: int, rea: Mapping[str, int]
           ) -> dict[str, tuple[list[dict], list[str]]]:
    """The summary rows (:func:`summarise_cell`, with the cell's settings) and notes of each
    table in ``plan`` (table → random-search sizes N). The regularized-evolution cells of all
    tables run in one loop over cycles (:func:`evolve_together`); each cell has its own
    generator, seeded by (seed, table, dataset, N), so the result does not depend on which
    tables are replayed together."""
    done = {table: ([], []) for table in plan}
    evolving = []
    for table, sizes in plan.items():
        search, proxy = TABLES[table]
        rows, notes = done[table]
        for dataset, frame in scores.items():
            try:
                lookup = ScoreTable.from_frame(frame, proxy, accuracy)
            except ValueError as err:
                notes.append(f"Table {table}, {dataset} skipped: {err}")
                continue
            for cell in ([{"n": n} for n in sizes] if search == "random" else [dict(rea)]):
                rng = np.random.default_rng([seed, list(TABLES).index(table),
                                             list(DATASETS).index(dataset), cell.get("n", 0)])
                key = {"table": table, "search": search, "proxy": proxy, "dataset": dataset,
                       **cell, "accuracy": accuracy, "runs": runs}
                try:
                    if search == "random":
                        result = random_search(lookup, cell["n"], runs, rng)
                        rows.extend(key | row for row in summarise_cell(result))
                    else:
                        check_evolution(lookup, runs=runs, **cell)
                        evolving.append((key, lookup, rng))
                except ValueError as err:
                    notes.append(f"Table {table}, {dataset} skipped: {err}")
    if evolving:
        keys, lookups, rngs = zip(*evolving, strict=True)
        visited = evolve_together(lookups, runs=runs, rngs=rngs, **rea)
        for key, lookup, codes in zip(keys, lookups, visited, strict=True):
            done[key["table"]][0].extend(key | row
                                         for row in summarise_cell(summarise_runs(lookup, codes)))
    return done


def assemble(table: str, rows: list[dict], notes: list[str],
             study: str | os.PathLike | None = STUDY_CSV) -> pd.DataFrame:
    """One table's frame from its :func:`replay` rows, the study's numbers on ``chosen`` rows.
    ``ValueError`` with the notes when no dataset could be replayed."""
    if not rows:
        raise ValueError("; ".join(notes))
    frame = pd.DataFrame(rows).reindex(columns=["table", "search", "proxy", "dataset",
                                                *SETTINGS, "accuracy", "runs", "row",
                                                *MEASURES])
    published = load_study(study)
    if published is None:
        notes.append(f"the study's numbers ({study}) are absent: printing ours alone")
        published = pd.DataFrame(columns=["table", "dataset", "n", *MEASURES])
    published = published[published["table"] == table]
    keys = ["table", "dataset"] + (["n"] if published["n"].notna().any() else [])
    frame["n"] = frame["n"].astype(float)
    published = published.astype({"n": float})[keys + MEASURES].rename(
        columns={m: f"study_{m}" for m in MEASURES})
    frame = frame.merge(published.assign(row="chosen"), on=[*keys, "row"], how="left")
    frame.attrs["notes"] = notes
    return frame


def search_table(scores: Mapping[str, pd.DataFrame], table: str, *, runs: int = 500,
                 accuracy: str = "test_acc_12ep", seed: int = 0,
                 sizes: Sequence[int] = (100,), rea: Mapping[str, int] = REA_SETTINGS,
                 study: str | os.PathLike | None = STUDY_CSV) -> pd.DataFrame:
    """One of Tables I–V over the datasets of ``scores`` (dataset → arch_scores rows).

    A dataset whose proxy scores or accuracies are missing is skipped with a note in
    ``frame.attrs["notes"]``; if every dataset is skipped, ``ValueError`` with the first note.
    """
    check_options(runs, accuracy, sizes)
    rows, notes = replay(scores, {table: sizes}, runs=runs, accuracy=accuracy, seed=seed,
                         rea=rea)[table]
    return assemble(table, rows, notes, study)


def table_1(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table I: random search with NASWOT, N = 10, 100, 1000 (``sizes``)."""
    return search_table(scores, "I", **{"sizes": TABLE_1_SIZES, **options})


def table_2(scores: Mapping[str, pd.DataFrame], n: int = 100, **options) -> pd.DataFrame:
    """Table II: random search with NASWOT, N = ``n``."""
    return search_table(scores, "II", sizes=(n,), **options)


def table_3(scores: Mapping[str, pd.DataFrame], n: int = 100, **options) -> pd.DataFrame:
    """Table III: random search with Synflow, N = ``n``."""
    return search_table(scores, "III", sizes=(n,), **options)


def table_4(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table IV: regularized evolution with NASWOT (``rea``: cycles, population, tournament)."""
    return search_table(scores, "IV", **options)


def table_5(scores: Mapping[str, pd.DataFrame], **options) -> pd.DataFrame:
    """Table V: regularized evolution with Synflow."""
    return search_table(scores, "V", **options)


def tables(scores: Mapping[str, pd.DataFrame], n: int = 100, runs: int = 500,
           accuracy: str = "test_acc_12ep", seed: int = 0, rea: Mapping[str, int] = REA_SETTINGS,
           study: str | os.PathLike | None = STUDY_CSV) -> dict[str, pd.DataFrame]:
    """Tables I–V by name ("I" … "V"), the same as :func:`table_1` … :func:`table_5` (Tables
    II and III with N = ``n``) but replayed together. A table no dataset can fill is an empty
    frame whose ``attrs["notes"]`` say why; ``ValueError`` if every table is empty or an
    argument is bad."""
    check_options(runs, accuracy, (*TABLE_1_SIZES, n))
    plan = {"I": TABLE_1_SIZES, "II": (n,), "III": (n,), "IV": (), "V": ()}
    result = {}
    for name, (rows, notes) in replay(scores, plan, runs=runs, accuracy=accuracy, seed=seed,
                                      rea=rea).items():
        try:
            result[name] = assemble(name, rows, notes, study)
        except ValueError as err:
            result[name] = pd.DataFrame()
            result[name].attrs["notes"] = [str(err)]
    if all(frame.empty for frame in result.values()):
        raise ValueError(f"no table could be computed: {result['I'].attrs['notes'][0]}")
    return result


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


def render(frame: pd.DataFrame) -> str:
    """Markdown: a title line and one row per (dataset, setting, row), ours beside the study's."""
    first = frame.iloc[0]
    if first["search"] == "random":
        sizes = ", ".join(str(int(n)) for n in frame["n"].unique())
        setting = f"random search, N = {sizes}"
    else:
        setting = (f"regularized evolution, {int(first['cycles'])} cycles, population "
                   f"{int(first['population'])}, tournament {int(first['tournament'])}")
    title = (f"Table {first['table']}: {first['proxy']}, {setting}; {int(first['runs'])} runs; "
             f"accuracy = {first['accuracy']} (%); time = simulated seconds (study: elapsed)")
    columns = {"dataset": frame["dataset"]}
    if first["table"] == "I":
        columns["N"] = frame["n"].astype(int)
    columns["row"] = frame["row"]
    for measure, label, digits in (("accuracy", "accuracy", 2), ("score", "score", 2),
                                   ("time", "time s", None)):
        suffix = "_s" if measure == "time" else ""
        for who, prefix in (("ours", ""), ("study", "study_")):
            mean = frame.get(f"{prefix}{measure}_mean{suffix}", pd.Series(np.nan, frame.index))
            std = frame.get(f"{prefix}{measure}_std{suffix}", pd.Series(np.nan, frame.index))
            columns[f"{label} ({who})"] = [_mean_std(m, s, digits) for m, s in
                                           zip(mean.astype(float), std.astype(float),
                                               strict=True)]
    return f"### {title}\n\n{markdown_table(pd.DataFrame(columns))}"
