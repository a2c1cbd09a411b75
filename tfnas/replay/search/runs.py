"""What a search run reports, computed from the architectures it evaluated.

A run is summarised from ``visited``: the ``arch_code``s it evaluated, in order. Conventions:

- *chosen*: the best visited architecture by proxy (−inf lowest; ties → lowest arch_code).
- *optimal*: the best accuracy among the visited architectures (what an oracle would pick).
- *population*: mean and standard deviation (ddof 0) over the distinct visited architectures;
  the score statistics use finite scores only (``population_score_count`` of them).
- *seconds*: simulated search time = Σ stored scoring seconds of the DISTINCT visited
  architectures, i.e. a search that caches scores and does not re-score a revisited
  architecture (regularized evolution can revisit; random search never does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tfnas.replay.search.arrays import ScoreTable

if TYPE_CHECKING:
    import pandas as pd


def _masked_mean_std(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean and std (ddof 0) of ``values`` where ``mask`` (NaN for an empty row;
    values outside the mask may be anything, −inf included)."""
    count = np.count_nonzero(mask, axis=1)
    kept = np.where(mask, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = kept.sum(axis=1) / count
        kept -= mean[:, None]
        kept *= mask
        kept *= kept
        return mean, np.sqrt(kept.sum(axis=1) / count)


def summarise_runs(table: ScoreTable, visited: np.ndarray) -> pd.DataFrame:
    """:func:`run_columns` as a DataFrame, one row per run."""
    import pandas as pd

    return pd.DataFrame(run_columns(table, visited))


def run_columns(table: ScoreTable, visited: np.ndarray) -> dict[str, np.ndarray]:
    """What each run reports (one element per row of ``visited``, shape runs × evaluations):
    chosen, score, accuracy, optimal_arch, optimal_accuracy, optimal_score, evaluations,
    distinct, seconds, population_accuracy_mean/_std, population_score_mean/_std/_count."""
    visited = np.asarray(visited, dtype=np.int64)
    rows = np.arange(len(visited))
    chosen = table.code_of_rank[table.rank[visited].min(axis=1)]
    optimal = visited[rows, table.accuracy[visited].argmax(axis=1)]

    codes = np.sort(visited, axis=1)
    distinct = np.ones(codes.shape, dtype=bool)
    distinct[:, 1:] = codes[:, 1:] != codes[:, :-1]
    accuracy_mean, accuracy_std = _masked_mean_std(table.accuracy[codes], distinct)
    scores = table.score[codes]
    finite = distinct & np.isfinite(scores)
    score_mean, score_std = _masked_mean_std(scores, finite)
    return {
        "chosen": chosen,
        "score": table.score[chosen],
        "accuracy": table.accuracy[chosen],
        "optimal_arch": optimal,
        "optimal_accuracy": table.accuracy[optimal],
        "optimal_score": table.score[optimal],
        "evaluations": np.full(len(visited), visited.shape[1]),
        "distinct": distinct.sum(axis=1),
        "seconds": (table.seconds[codes] * distinct).sum(axis=1),
        "population_accuracy_mean": accuracy_mean,
        "population_accuracy_std": accuracy_std,
        "population_score_mean": score_mean,
        "population_score_std": score_std,
        "population_score_count": finite.sum(axis=1),
    }
