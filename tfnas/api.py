"""tfnas from Python, in the spirit of NATS-Bench's API
(``api = create(None, 'tss', fast_mode=True); api.get_more_info(index, dataset)``)::

    from tfnas.api import Database

    tfnas = Database()                        # out/tfnas.duckdb (tfnas.config.DEFAULT_DB)
    tfnas.info(9930, "cifar10")               # NATS-Bench index 9930: scores, accuracies, costs
    tfnas.info("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
               "|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|", "cifar10")
    frame = tfnas.frame("cifar10")            # indexed by arch_index: frame.loc[9930]
    runs = tfnas.random_search("cifar10", "naswot", n=100, runs=500, seed=0)

Conventions:

- An architecture is asked for by NATS-Bench's ``arch_index`` (an ``int`` in 0..15624, or a
  string of digits) or by its NATS-Bench arch string. tfnas's own ``arch_code`` (a different
  numbering: Σₖ op_id(edge k)·5ᵏ) is never taken as a key; it is returned as a field.
- Scores are read for one scoring configuration (:class:`tfnas.config.ScoringConfig`; default
  seed 0, batch 128, no augmentation, per proxy the images covering the most architectures),
  as ``tfnas tables`` / ``correlations`` read them. Every score is higher-is-better; −inf is a
  degenerate case; NaN means "not scored". Rank ensembles (``ens_*``) are read like proxies.
- The search replays have ``tfnas tables``' defaults (accuracy ``test_acc_12ep``; random
  search N = 100; REA 1000 cycles, population 64, tournament 20; 500 runs; seed 0) and its
  random stream (:func:`tfnas.replay.search.streams.search_rng`): the same experiment and
  seed give exactly the numbers ``tfnas tables --search-seed SEED`` prints.
- Mistakes (unknown index, malformed string, unknown dataset, a proxy with no scores) raise
  :class:`tfnas.errors.UserError` with a one-line message; a missing or foreign database
  raises :class:`db.connection.DatabaseError` (also a ``UserError``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfnas.config import DEFAULT, DEFAULT_DB, ScoringConfig, as_integer
from tfnas.datasets import DATASETS
from tfnas.errors import UserError
from tfnas.messages import shorten
from tfnas.space import NUM_ARCHS, Arch, parse_arch

if TYPE_CHECKING:
    import pandas as pd

    from db.read import Scores

__all__ = ["Database", "arch_index", "arch_str"]

#: ``tfnas tables``' defaults, which the replays here share.
DEFAULT_ACCURACY = "test_acc_12ep"
DEFAULT_RUNS = 500
DEFAULT_N = 100


@functools.cache
def _benchmark() -> tuple[tuple[str, ...], dict[str, int], np.ndarray]:
    """NATS-Bench's arch string of every index, its inverse, and the index of every
    ``arch_code`` (the embedded benchmark's ``meta_archs`` order,
    :func:`db.benchmark.nats_bench_index`)."""
    from db.benchmark import nats_bench_index

    index = nats_bench_index().sort_index()
    strings = tuple(index.to_numpy().tolist())
    of_code = np.empty(NUM_ARCHS, dtype=np.int64)
    for i, text in enumerate(strings):
        of_code[parse_arch(text).code] = i
    return strings, {text: i for i, text in enumerate(strings)}, of_code


def arch_index(key: int | str) -> int:
    """NATS-Bench's ``arch_index`` of ``key``: an index (``int``, numpy integer or a string of
    ASCII digits) in 0..15624, or a NATS-Bench arch string. One-line ``UserError`` otherwise."""
    if isinstance(key, np.integer):
        key = int(key)
    number = as_integer(key) if isinstance(key, int | str) else None
    if number is not None:
        if not 0 <= number < NUM_ARCHS:
            raise UserError(f"NATS-Bench index {number} is outside 0..{NUM_ARCHS - 1}; give an "
                            "index in that range or an architecture string")
        return number
    if isinstance(key, Arch):
        return _benchmark()[1][str(key)]
    if not isinstance(key, str):
        raise UserError(f"an architecture is a NATS-Bench index (int) or arch string, got "
                        f"{type(key).__name__} {shorten(key)}")
    return _benchmark()[1][str(parse_arch(key))]


def arch_str(key: int | str) -> str:
    """NATS-Bench's arch string of ``key`` (an index or an arch string, as :func:`arch_index`)."""
    return _benchmark()[0][arch_index(key)]


def _check_dataset(dataset: str) -> str:
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {shorten(dataset)}; choose from "
                        f"{', '.join(DATASETS)}")
    return dataset


def _number(value: Any) -> float:
    """A stored number as a float (NULL / masked → NaN)."""
    if value is None or value is np.ma.masked:
        return math.nan
    return float(value)


class Database:
    """A tfnas database, read-only: scores, accuracies and costs of NATS-Bench TSS
    architectures, and the search replays (see the module text for the conventions).

    ``path``: the DuckDB file (``None``: :data:`tfnas.config.DEFAULT_DB`, relative to the
    working directory; build it with ``tfnas db init``). ``config``: the scoring
    configuration whose scores are read (default seed 0, batch 128, no augmentation); use
    another stored one with e.g. ``Database(path, ScoringConfig(batch_size=64))``. Scores are
    read once per dataset and kept; a database changed meanwhile needs a new ``Database``.
    """

    def __init__(self, path: str | os.PathLike | None = None,
                 config: ScoringConfig = DEFAULT) -> None:
        from db.connection import open_database

        self.path = Path(DEFAULT_DB if path is None else path)
        self.config = config
        open_database(self.path).close()  # a missing or foreign file: one line, now
        self._read: dict[tuple[str, tuple[str, ...] | None], Scores] = {}

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r}, {self.config.describe()})"

    # --- reading -------------------------------------------------------------------------

    def _scores(self, dataset: str, proxies: Sequence[str] | None = None) -> Scores:
        """:func:`db.read.read_scores` of one dataset (``proxies`` None: every stored proxy,
        no ensemble), checked and kept."""
        from db.read import read_scores

        _check_dataset(dataset)
        key = (dataset, None if proxies is None else tuple(proxies))
        if key not in self._read:
            if proxies is not None:
                self._check_proxies(dataset, proxies)
            self._read[key] = read_scores(self.path, self.config, [dataset], proxies)
        return self._read[key]

    def proxies(self, dataset: str) -> list[str]:
        """The proxies stored for ``dataset`` in this configuration, then the rank ensembles
        whose members are all stored."""
        scores = self._scores(dataset)
        from tfnas.replay.search.arrays import stored_proxies

        return stored_proxies(scores.columns[dataset]) + list(scores.ensembles)

    def _check_proxies(self, dataset: str, proxies: Sequence[str]) -> None:
        known = self.proxies(dataset)
        for proxy in proxies:
            if proxy not in known:
                raise UserError(f"proxy {shorten(proxy)} has no {dataset} scores in {self.path} "
                                f"for {self.config.describe()}; stored: "
                                f"{', '.join(known) or 'none'}")

    def frame(self, dataset: str, proxies: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per scored architecture of ``dataset``, indexed by NATS-Bench's
        ``arch_index`` (``frame.loc[9930]``), with ``arch_code``, ``arch_str``,
        ``iso_class``, the four accuracy columns (%) and per proxy ``<proxy>`` and
        ``<proxy>_seconds``; ``proxies``: those (rank ensembles included; default every
        stored proxy). Rows are in ``arch_code`` order."""
        return self._scores(dataset, proxies).frames[dataset]

    def info(self, arch: int | str, dataset: str, proxies: Sequence[str] | None = None
             ) -> dict[str, Any]:
        """What tfnas holds about one architecture (NATS-Bench index or arch string) on
        ``dataset``, like NATS-Bench's ``get_more_info``: ``arch_index``, ``arch_str``,
        ``arch_code``, ``dataset``, ``config`` (the configuration read, in words),
        ``accuracy`` {test_acc_12ep, test_acc_200ep, valid_acc_12ep, valid_acc_200ep: %},
        ``cost`` {params (a count), flops_m (millions of MACs), latency_s, source},
        ``scores`` {proxy: score} and ``seconds`` {proxy: seconds to score it}; ``proxies``:
        which scores (rank ensembles included; default every stored proxy). NaN where a
        value is not stored (an architecture a proxy did not score)."""
        from db.connection import open_database
        from db.sql import ACCURACY_COLUMNS

        index = arch_index(arch)
        text = _benchmark()[0][index]
        code = parse_arch(text).code
        scores = self._scores(dataset, proxies).columns[dataset]
        names = [c[: -len("_seconds")] for c in scores if c.endswith("_seconds")]
        at = np.flatnonzero(scores["arch_code"] == code)
        conn = open_database(self.path)
        try:
            accuracy = conn.execute(f"SELECT {', '.join(ACCURACY_COLUMNS)} FROM arch_accuracies "
                                    "WHERE dataset = ? AND arch_code = ?",
                                    [dataset, code]).fetchone()
            cost = conn.execute("SELECT params, flops_m, latency_s, source FROM costs WHERE "
                                "dataset = ? AND arch_code = ? ORDER BY source = 'nats-bench' "
                                "DESC, source LIMIT 1", [dataset, code]).fetchone()
        finally:
            conn.close()
        return {
            "arch_index": index, "arch_str": text, "arch_code": code, "dataset": dataset,
            "config": self.config.describe(),
            "accuracy": {name: _number(accuracy[i] if accuracy else None)
                         for i, name in enumerate(ACCURACY_COLUMNS)},
            "cost": {"params": int(cost[0]) if cost else None,
                     "flops_m": _number(cost[1] if cost else None),
                     "latency_s": _number(cost[2] if cost else None),
                     "source": cost[3] if cost else None},
            "scores": {name: _number(scores[name][at[0]]) if len(at) else math.nan
                       for name in names},
            "seconds": {name: _number(scores[f"{name}_seconds"][at[0]]) if len(at) else math.nan
                        for name in names},
        }

    # --- search replays --------------------------------------------------------------------

    def _table(self, dataset: str, proxy: str, accuracy: str, unique: bool):
        from tfnas.replay.search import ScoreTable

        columns = self._scores(dataset, [proxy]).columns[dataset]
        table = ScoreTable.from_frame(columns, proxy, accuracy, self.config)
        return table.unique() if unique else table

    def random_search(self, dataset: str, proxy: str, n: int = DEFAULT_N,
                      runs: int = DEFAULT_RUNS, seed: int = 0,
                      accuracy: str = DEFAULT_ACCURACY, unique: bool = False) -> pd.DataFrame:
        """``runs`` random searches (N = ``n`` distinct architectures, the best by ``proxy``;
        ties → lowest arch_code), one row per run: ``chosen`` (its arch_code; ``chosen_index``
        its arch_index), ``accuracy`` (``accuracy`` column, %), ``score``, ``seconds``
        (simulated search time), ``optimal_*`` and ``population_*``
        (:func:`tfnas.replay.search.runs.run_columns`). The random stream of ``tfnas tables
        --search-seed seed``: the mean and std (ddof 0) of ``accuracy`` are its "chosen" row
        of this (proxy, dataset, N). ``unique``: over classes of isomorphic cells."""
        from tfnas.replay.search import random_search
        from tfnas.replay.tables import check_options

        check_options(runs, accuracy, [n])
        result = random_search(self._table(dataset, proxy, accuracy, unique), n, runs, seed)
        return self._with_index(result)

    def rea(self, dataset: str, proxy: str, runs: int = DEFAULT_RUNS, seed: int = 0,
            accuracy: str = DEFAULT_ACCURACY, cycles: int = 1000, population: int = 64,
            tournament: int = 20, unique: bool = False) -> pd.DataFrame:
        """``runs`` regularized-evolution searches (Real et al. 2019; the answer is the best by
        ``proxy`` in the whole history), one row per run with the columns of
        :meth:`random_search`, on the random stream of ``tfnas tables --search-seed seed``
        (its Tables IV / V and "REA <proxy>" cells). Needs every architecture scored."""
        from tfnas.replay.search import regularized_evolution
        from tfnas.replay.tables import check_options

        check_options(runs, accuracy)
        result = regularized_evolution(self._table(dataset, proxy, accuracy, unique), cycles,
                                       population, tournament, runs, seed)
        return self._with_index(result)

    @staticmethod
    def _with_index(result: pd.DataFrame) -> pd.DataFrame:
        """Runs with the NATS-Bench index of the chosen and optimal architectures beside their
        arch_codes."""
        of_code = _benchmark()[2]
        result.insert(1, "chosen_index", of_code[result["chosen"].to_numpy()])
        result.insert(result.columns.get_loc("optimal_arch") + 1, "optimal_index",
                      of_code[result["optimal_arch"].to_numpy()])
        return result
