"""Regularized evolution (REA; Real et al., "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019) with a training-free proxy as the fitness.

Algorithm, per run: the population starts as ``population`` architectures drawn uniformly
from the space (with replacement, as in NATS-Bench's REA baseline). Each later cycle samples
``tournament`` members of the current population uniformly without replacement, takes the
best by proxy as parent (ties → lowest arch_code), mutates one uniformly chosen edge to a
uniformly chosen DIFFERENT op, appends the child and removes the oldest member. ``cycles``
counts every evaluated architecture, the initial population included. The answer is the best
architecture by proxy in the whole history.

Runs are vectorised across the R runs; the loop is over cycles. Random stream, in order:
``rng.integers(0, 15625, (R, P))`` for the initial population, then per cycle
``rng.random((R, P))`` (tournament: the members with the S smallest keys),
``rng.integers(0, 6, R)`` (edge) and ``rng.integers(1, 5, R)`` (op offset: new op =
(old + offset) mod 5). Run r reads row r of each draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfnas.search.arrays import ScoreTable, score_hint
from tfnas.search.runs import summarise_runs
from tfnas.space import NUM_ARCHS, NUM_EDGES, OPS

EDGE_PLACE = len(OPS) ** np.arange(NUM_EDGES)  # arch_code digit k has place value 5^k


def mutate(parent: np.ndarray, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Codes with op of ``edge`` changed from op o to (o + ``offset``) mod 5 (offset 1..4)."""
    place = EDGE_PLACE[edge]
    old = parent // place % len(OPS)
    return parent + ((old + offset) % len(OPS) - old) * place


def regularized_evolution(table: ScoreTable, cycles: int, population: int, tournament: int,
                          runs: int, rng: np.random.Generator) -> pd.DataFrame:
    """``runs`` independent REA searches; one row per run (columns of :func:`summarise_runs`)."""
    return summarise_runs(table, evolve(table, cycles, population, tournament, runs, rng))


def evolve(table: ScoreTable, cycles: int, population: int, tournament: int, runs: int,
           rng: np.random.Generator) -> np.ndarray:
    """The architectures each REA run evaluates, in order (runs × cycles ``arch_code``s).

    The first c columns are exactly what a run with ``cycles`` = c evaluates (same stream).
    """
    if not table.complete:
        raise ValueError(f"regularized evolution mutates across the whole space, but only "
                         f"{len(table.scored)} of {NUM_ARCHS} architectures of {table.dataset} "
                         f"have {table.proxy} scores: run {score_hint(table.dataset, table.proxy)}"
                         f" without --limit first")
    if not 1 <= tournament <= population <= cycles:
        raise ValueError(f"need 1 <= tournament <= population <= cycles, got tournament="
                         f"{tournament}, population={population}, cycles={cycles}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    rows = np.arange(runs)
    rank = table.rank.astype(np.int16)  # 0..15624 fits; halves the memory traffic per cycle
    members = rng.integers(0, NUM_ARCHS, (runs, population))
    member_rank = rank[members]
    visited = np.empty((runs, cycles), dtype=np.int64)
    visited[:, :population] = members
    outside = np.int16(np.iinfo(np.int16).max)  # the rank given to members not in the tournament
    for cycle in range(population, cycles):
        keys = rng.random((runs, population))
        threshold = np.partition(keys, tournament - 1, axis=1)[:, tournament - 1 : tournament]
        contenders = np.where(keys <= threshold, member_rank, outside)
        parent = members[rows, contenders.argmin(axis=1)]
        child = mutate(parent, rng.integers(0, NUM_EDGES, runs), rng.integers(1, len(OPS), runs))
        oldest = cycle % population
        members[:, oldest] = child
        member_rank[:, oldest] = rank[child]
        visited[:, cycle] = child
    return visited
