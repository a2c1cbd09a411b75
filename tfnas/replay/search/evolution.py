"""Regularized evolution (REA; Real et al., "Regularized Evolution for Image Classifier
Architecture Search", AAAI 2019) with a training-free proxy as the fitness.

Algorithm, per run: the population starts as ``population`` architectures drawn uniformly
from the space (with replacement, as in NATS-Bench's REA baseline) — or, isomorphism-aware
(:meth:`ScoreTable.unique`), uniformly over the classes of isomorphic cells, every child then
replaced by its class's stand-in. Each later cycle samples
``tournament`` members of the current population uniformly without replacement, takes the
best by proxy as parent (ties → lowest arch_code), mutates one uniformly chosen edge to a
uniformly chosen DIFFERENT op, appends the child and removes the oldest member. ``cycles``
counts every evaluated architecture, the initial population included. The answer is the best
architecture by proxy in the whole history.

The tournament is sampled through its winner: of P members ranked by proxy (best first; ties
→ lowest arch_code, equal codes in any order), the k-th best wins a uniform S-subset tournament
exactly when it is in the subset and the k − 1 better ones are not, with probability
C(P − k, S − 1) / C(P, S) (:func:`winner_probabilities`). Drawing k from that distribution
and taking the k-th best member gives the parent the same distribution as drawing the subset,
at the cost of one sort of a nearly sorted population instead of P keys per run and cycle.

Runs are vectorised across the R runs (and across cells with
:func:`evolve_together`); the loop is over cycles, in rank space: a member is its rank by
proxy, and a child's rank is one lookup in a per-cell table of every mutation of every rank.
Random stream, in order: ``rng.integers(0, 15625, (R, P))`` for the initial population, then
the later cycles in blocks of :data:`BLOCK`: ``rng.random((BLOCK, R))`` (the winner's place k,
by inverting the cumulative distribution) and ``rng.integers(0, 24, (BLOCK, R))`` (the
mutation m: edge m // 4 and op offset m % 4 + 1, new op = (old + offset) mod 5, i.e. edge
and offset uniform and independent). Cycle P + b·BLOCK + i of run r reads element (i, r) of
block b. Blocks are drawn whole whatever ``cycles`` is, so a shorter budget is a prefix of a
longer one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tfnas.errors import UserError
from tfnas.replay.search.arrays import ScoreTable, score_hint
from tfnas.replay.search.runs import summarise_runs
from tfnas.replay.search.streams import chunks, search_rng
from tfnas.space import NUM_ARCHS, NUM_EDGES, OPS

if TYPE_CHECKING:
    import pandas as pd

EDGE_PLACE = len(OPS) ** np.arange(NUM_EDGES)  # arch_code digit k has place value 5^k
BLOCK = 64  # cycles whose random draws are made at once


def mutate(parent: np.ndarray, edge: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Codes with op of ``edge`` changed from op o to (o + ``offset``) mod 5 (offset 1..4)."""
    place = EDGE_PLACE[edge]
    old = parent // place % len(OPS)
    return parent + ((old + offset) % len(OPS) - old) * place


def winner_probabilities(population: int, tournament: int) -> np.ndarray:
    """P(the k-th best of ``population`` members wins a tournament of ``tournament`` members
    drawn uniformly without replacement), k = 1..P: C(P − k, S − 1) / C(P, S)."""
    ways = [math.comb(population - k, tournament - 1) for k in range(1, population + 1)]
    return np.array(ways, dtype=float) / math.comb(population, tournament)


def regularized_evolution(table: ScoreTable, cycles: int, population: int, tournament: int,
                          runs: int, rng: np.random.Generator | int) -> pd.DataFrame:
    """``runs`` independent REA searches; one row per run (columns of :func:`summarise_runs`).

    ``rng``: a generator (all runs evolve at once from it), or an integer seed: the
    experiment's stream (:func:`tfnas.replay.search.streams.search_rng`), runs evolved
    :data:`~tfnas.replay.search.streams.CHUNK` at a time, exactly as ``tfnas tables
    --search-seed SEED`` replays them."""
    if isinstance(rng, np.random.Generator):
        return summarise_runs(table, evolve(table, cycles, population, tournament, runs, rng))
    import pandas as pd

    check_evolution(table, cycles, population, tournament, runs)
    stream = search_rng(rng, "rea", table.proxy, table.dataset)
    return pd.concat([summarise_runs(table, evolve(table, cycles, population, tournament, chunk,
                                                   stream)) for chunk in chunks(runs)],
                     ignore_index=True)


def check_evolution(table: ScoreTable, cycles: int, population: int, tournament: int,
                    runs: int) -> None:
    """One-line ``ValueError`` unless REA can run on ``table`` with these settings."""
    if not table.complete:
        hint = score_hint(table.dataset, table.proxy, table.config)
        raise UserError(f"regularized evolution mutates across the whole space, but only "
                         f"{len(table.scored)} of {NUM_ARCHS} architectures of {table.dataset} "
                         f"have {table.proxy} scores: run {hint} without --limit first")
    if not 1 <= tournament <= population <= cycles:
        raise UserError(f"need 1 <= tournament <= population <= cycles, got tournament="
                         f"{tournament}, population={population}, cycles={cycles}")
    if runs < 1:
        raise UserError(f"runs must be at least 1, got {runs}")


def evolve(table: ScoreTable, cycles: int, population: int, tournament: int, runs: int,
           rng: np.random.Generator) -> np.ndarray:
    """The architectures each REA run evaluates, in order (runs × cycles ``arch_code``s).

    The first c columns are exactly what a run with ``cycles`` = c evaluates (same stream).
    """
    return evolve_together([table], cycles, population, tournament, runs, [rng])[0]


def _initial(table: ScoreTable, rng: np.random.Generator, runs: int, population: int
             ) -> np.ndarray:
    """The initial population: uniform over the space, or over the classes of a unique table
    (one draw per member either way)."""
    if table.representative is None:
        return rng.integers(0, NUM_ARCHS, (runs, population))
    return table.scored[rng.integers(0, len(table.scored), (runs, population))]


@functools.cache
def mutations() -> np.ndarray:
    """``arch_code`` → the codes of its 24 mutations (NUM_ARCHS × 24): column m changes edge
    m // 4 by op offset m % 4 + 1 (:func:`mutate`)."""
    m = np.arange(NUM_EDGES * (len(OPS) - 1))
    return mutate(np.arange(NUM_ARCHS)[:, None], m // (len(OPS) - 1), m % (len(OPS) - 1) + 1)


def _child_ranks(table: ScoreTable) -> np.ndarray:
    """Rank → the ranks of its 24 mutations in ``table`` (each child replaced by its class's
    stand-in in a unique table), int32, flattened row-major."""
    children = mutations()[table.code_of_rank]
    if table.representative is not None:
        children = table.representative[children]
    return table.rank[children].astype(np.int32).ravel()


def evolve_together(tables: Sequence[ScoreTable], cycles: int, population: int, tournament: int,
                    runs: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
    """:func:`evolve` for several cells (a table and its own generator each) in one loop over
    cycles: cell i's result is exactly ``evolve(tables[i], ..., rngs[i])``, since each cell
    draws only from its own generator in its own order; numpy's per-call cost is shared."""
    for table in tables:
        check_evolution(table, cycles, population, tournament, runs)
    choices = NUM_EDGES * (len(OPS) - 1)
    rows = len(tables) * runs
    cell = np.repeat(np.arange(len(tables)), runs)  # row → its cell
    cumulative = np.cumsum(winner_probabilities(population, tournament))
    cumulative /= cumulative[-1]  # exactly 1 at the end: every u in [0, 1) finds a place
    members = np.concatenate([_initial(table, rng, runs, population)
                              for table, rng in zip(tables, rngs, strict=True)])
    # Members as keys row·2^14 + rank (int32 where it fits: its rows sort fastest): with every
    # row sorted (best first) the flattened keys are sorted too, so one searchsorted finds
    # each row's oldest member. ``history`` holds every run's keys, cycle by cycle.
    shift = NUM_ARCHS.bit_length()
    key_type = np.int32 if rows << shift < 2**31 else np.int64
    base = (np.arange(rows, dtype=key_type) << shift)
    history = np.empty((cycles, rows), dtype=key_type)
    history[:population] = (base[:, None] + np.concatenate(
        [table.rank for table in tables])[cell[:, None] * NUM_ARCHS + members]).T
    ranked = np.sort(np.ascontiguousarray(history[:population].T), axis=1)
    flat = ranked.reshape(-1)  # a view
    first = np.arange(rows) * population  # each row's best member in ``flat``
    child_of = np.concatenate([_child_ranks(table) for table in tables])
    at_rank = (cell * NUM_ARCHS * choices).astype(np.int64)  # row → its cell's child table
    for cycle in range(population, cycles):
        step = (cycle - population) % BLOCK
        if step == 0:
            u = np.concatenate([rng.random((BLOCK, runs)) for rng in rngs], axis=1)
            mutation = np.concatenate([rng.integers(0, choices, (BLOCK, runs)) for rng in rngs],
                                      axis=1)
        parent = flat[first + np.searchsorted(cumulative, u[step], side="right")] - base
        child = base + child_of[at_rank + parent * choices + mutation[step]]
        flat[np.searchsorted(flat, history[cycle - population])] = child  # replace the oldest
        ranked.sort(axis=1, kind="stable")  # one member out of place: timsort is nearly linear
        history[cycle] = child
    code_of_rank = np.concatenate([table.code_of_rank for table in tables])
    visited = np.ascontiguousarray(code_of_rank[cell * NUM_ARCHS + (history - base)].T)
    return np.split(visited, len(tables))
