"""Random search with a training-free proxy (Mellor et al., "Neural Architecture Search without
Training", ICML 2021, Algorithm 1): sample N distinct architectures, pick the best by proxy.

Runs are vectorised: all R runs draw their samples together with Floyd's algorithm for a
uniform N-subset without replacement (Bentley & Floyd, "A sample of brilliance", CACM 1987),
which costs O(N·R) instead of a permutation of the whole space per run. Random stream: one
``rng.random((R, N))`` call; step i of run r reads ``u[r, i]`` (see :func:`floyd_sample`).
Given an integer seed instead of a generator, the generator is the experiment's
(:func:`tfnas.replay.search.streams.search_rng`), so the runs are exactly those
``tfnas tables --search-seed SEED`` replays for (random, proxy, dataset, N).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tfnas.errors import UserError
from tfnas.replay.search.arrays import ScoreTable, score_hint
from tfnas.replay.search.runs import summarise_runs
from tfnas.replay.search.streams import search_rng

if TYPE_CHECKING:
    import pandas as pd


def floyd_sample(u: np.ndarray, population: int) -> np.ndarray:
    """Row-wise uniform samples without replacement from ``range(population)``.

    ``u`` (R × N, uniform in [0, 1)) drives Floyd's algorithm: at step i, with
    j = population − N + i, draw t = ⌊u[:, i]·(j+1)⌋ ∈ [0, j]; take t unless already taken,
    else take j. Returns the R × N sampled indices in the order taken.
    """
    runs, n = u.shape
    rows = np.arange(runs)
    taken = np.zeros((runs, population), dtype=bool)
    picks = np.empty((runs, n), dtype=np.int64)
    for i, j in enumerate(range(population - n, population)):
        t = np.minimum((u[:, i] * (j + 1)).astype(np.int64), j)
        pick = np.where(taken[rows, t], j, t)
        taken[rows, pick] = True
        picks[:, i] = pick
    return picks


def check_random_search(table: ScoreTable, n: int, runs: int) -> None:
    """One-line ``ValueError`` unless ``runs`` random searches of ``n`` can run on ``table``."""
    available = len(table.scored)
    if not 1 <= n <= available:
        more = (f" (or score more: {score_hint(table.dataset, table.proxy, table.config)})"
                if not table.complete else "")
        raise UserError(f"random search samples N distinct architectures without replacement; "
                         f"N={n} but {table.dataset} has {available} {table.proxy}-scored "
                         f"architectures: pick N in 1..{available}{more}")
    if runs < 1:
        raise UserError(f"runs must be at least 1, got {runs}")


def random_search(table: ScoreTable, n: int, runs: int, rng: np.random.Generator | int
                  ) -> pd.DataFrame:
    """``runs`` independent random searches over the scored architectures of ``table``, each
    sampling ``n`` distinct ones; one row per run (columns of :func:`summarise_runs`).
    ``rng``: a generator, or an integer seed: the experiment's stream, as ``tfnas tables``
    replays it (:func:`tfnas.replay.search.streams.search_rng`)."""
    return summarise_runs(table, random_picks(table, n, runs, rng))


def random_picks(table: ScoreTable, n: int, runs: int, rng: np.random.Generator | int
                 ) -> np.ndarray:
    """The ``arch_code``s each of ``runs`` random searches evaluates (runs × n); ``rng`` as
    in :func:`random_search`."""
    check_random_search(table, n, runs)
    if not isinstance(rng, np.random.Generator):
        rng = search_rng(rng, "random", table.proxy, table.dataset, n)
    return table.scored[floyd_sample(rng.random((runs, n)), len(table.scored))]
