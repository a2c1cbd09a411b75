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
:func:`evolve_together`); the loop is over cycles. Random stream, in order:
``rng.integers(0, 15625, (R, P))`` for the initial population, then per cycle
``rng.random(R)`` (the winner's place k, by inverting the cumulative distribution),
``rng.integers(0, 6, R)`` (edge) and ``rng.integers(1, 5, R)`` (op offset: new op =
(old + offset) mod 5). Run r reads element r of each draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tfnas.replay.search.arrays import ScoreTable, score_hint
from tfnas.replay.search.runs import summarise_runs
from tfnas.space import NUM_ARCHS, NUM_EDGES, OPS

EDGE_PLACE = len(OPS) ** np.arange(NUM_EDGES)  # arch_code digit k has place value 5^k


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
                          runs: int, rng: np.random.Generator) -> pd.DataFrame:
    """``runs`` independent REA searches; one row per run (columns of :func:`summarise_runs`)."""
    return summarise_runs(table, evolve(table, cycles, population, tournament, runs, rng))


def check_evolution(table: ScoreTable, cycles: int, population: int, tournament: int,
                    runs: int) -> None:
    """One-line ``ValueError`` unless REA can run on ``table`` with these settings."""
    if not table.complete:
        hint = score_hint(table.dataset, table.proxy, table.config)
        raise ValueError(f"regularized evolution mutates across the whole space, but only "
                         f"{len(table.scored)} of {NUM_ARCHS} architectures of {table.dataset} "
                         f"have {table.proxy} scores: run {hint} without --limit first")
    if not 1 <= tournament <= population <= cycles:
        raise ValueError(f"need 1 <= tournament <= population <= cycles, got tournament="
                         f"{tournament}, population={population}, cycles={cycles}")
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")


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


def evolve_together(tables: Sequence[ScoreTable], cycles: int, population: int, tournament: int,
                    runs: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
    """:func:`evolve` for several cells (a table and its own generator each) in one loop over
    cycles: cell i's result is exactly ``evolve(tables[i], ..., rngs[i])``, since each cell
    draws only from its own generator in its own order; numpy's per-call cost is shared."""
    for table in tables:
        check_evolution(table, cycles, population, tournament, runs)
    rows = np.arange(len(tables) * runs)
    offset = np.repeat(np.arange(len(tables)) * NUM_ARCHS, runs)  # row → its cell's arrays
    code_of_rank = np.concatenate([np.argsort(table.rank) for table in tables])
    cumulative = np.cumsum(winner_probabilities(population, tournament))
    cumulative /= cumulative[-1]  # exactly 1 at the end: every u in [0, 1) finds a place
    members = np.concatenate([_initial(table, rng, runs, population)
                              for table, rng in zip(tables, rngs, strict=True)])
    # an isomorphism-aware table replaces every child by its class's stand-in
    representative = np.concatenate([np.arange(NUM_ARCHS) if table.representative is None
                                     else table.representative for table in tables])
    # Members as keys row·2^14 + rank (int32, whose rows sort fastest): with every row sorted
    # the flattened keys are sorted too, so one searchsorted finds each row's oldest member.
    key_type = np.int32 if len(rows) << NUM_ARCHS.bit_length() < 2**31 else np.int64
    rank = np.concatenate([table.rank for table in tables]).astype(key_type)
    base = (rows << NUM_ARCHS.bit_length()).astype(key_type)
    slot_key = base[:, None] + rank[offset[:, None] + members]  # by slot, oldest first from
    ranked = np.sort(slot_key, axis=1)  # slot ``cycle % population``; ranked: best first
    flat = ranked.reshape(-1)  # a view
    visited = np.empty((len(rows), cycles), dtype=np.int64)
    visited[:, :population] = members
    for cycle in range(population, cycles):
        u = np.concatenate([rng.random(runs) for rng in rngs])
        edge = np.concatenate([rng.integers(0, NUM_EDGES, runs) for rng in rngs])
        shift = np.concatenate([rng.integers(1, len(OPS), runs) for rng in rngs])
        place = np.searchsorted(cumulative, u, side="right")
        parent = code_of_rank[offset + flat[rows * population + place] - base]
        child = representative[offset + mutate(parent, edge, shift)]
        oldest = cycle % population
        child_key = base + rank[offset + child]
        flat[np.searchsorted(flat, slot_key[:, oldest])] = child_key
        ranked.sort(axis=1)  # one member out of place: cheap
        slot_key[:, oldest] = child_key
        visited[:, cycle] = child
    return np.split(visited, len(tables))
