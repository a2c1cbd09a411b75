"""One dataset's proxy scores, accuracies and scoring seconds as arrays indexed by ``arch_code``.

A search replays against these arrays instead of scoring networks: looking up a score is
``table.score[code]``. Conventions: higher score is better; −inf (singular NASWOT kernel,
zero synaptic flow) ranks below every finite score; an architecture without a score is NaN
and is never sampled. Ties in score are broken towards the lowest ``arch_code``, so every
choice a search makes is deterministic given its random draws.

Isomorphism-aware (:meth:`ScoreTable.unique`): one architecture per class of isomorphic cells
(:mod:`tfnas.isomorphism`) — the class's smallest scored ``arch_code`` — stands for the class;
the others count as unscored, and ``representative[code]`` maps any architecture (e.g. a
mutation's child) to its class's stand-in.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from tfnas.config import ACCURACY_COLUMNS as ACCURACIES
from tfnas.config import DEFAULT, ScoringConfig
from tfnas.ensembles import PREFIX as ENSEMBLE_PREFIX
from tfnas.errors import UserError
from tfnas.messages import shorten
from tfnas.space import NUM_ARCHS

if TYPE_CHECKING:
    import pandas as pd

#: One dataset's scores as ``db.read.Scores`` holds them: column name → numpy array, or the
#: same as a DataFrame. Everything here reads columns only (``frame[name]``, ``name in
#: frame``, iterating the names), so both work and the reports need no pandas.
Columns = Union[Mapping[str, Any], "pd.DataFrame"]


@functools.cache
def iso_class_of() -> np.ndarray:
    """The isomorphism class id (smallest member's code) of every ``arch_code``."""
    from tfnas.isomorphism import iso_classes
    from tfnas.space import all_archs

    classes = iso_classes(all_archs())
    return np.array([classes[arch] for arch in all_archs()], dtype=np.int64)


def one_per_class(frame: Columns) -> Columns:
    """The rows of the class representatives: per ``iso_class``, the smallest ``arch_code``
    (a frame for a frame, columns for columns)."""
    classes = np.asarray(frame["iso_class"], dtype=np.int64)
    codes = np.asarray(frame["arch_code"], dtype=np.int64)
    smallest = np.full(classes.max() + 1 if len(classes) else 0, np.iinfo(np.int64).max)
    np.minimum.at(smallest, classes, codes)
    keep = codes == smallest[classes]
    if hasattr(frame, "loc"):
        return frame[keep]
    return {name: np.asarray(values)[keep] for name, values in frame.items()}


def score_hint(dataset: str, proxy: str, config: ScoringConfig = DEFAULT) -> str:
    """The command that scores ``proxy`` on ``dataset`` in ``config`` (quoted in errors); for a
    rank ensemble (:mod:`tfnas.ensembles`), the command that scores its members; with a
    fingerprint (``--fingerprint``), the command given ``--data`` those images (the pipeline
    takes no fingerprint: it is the images')."""
    members = "MEMBERS" if proxy.startswith(ENSEMBLE_PREFIX) else proxy
    flags = " ".join(filter(None, [f"--dataset {dataset} --proxies {members}",
                                   config.pipeline_flags(),
                                   "--data IMAGES" if config.fingerprint else ""]))
    command = f"`luigi --module pipeline ScoreAll {flags}`"
    meaning = []
    if members != proxy:
        meaning.append(f"MEMBERS the members of the rank ensemble {proxy} (`tfnas sql - <<< "
                       f"\"SELECT members FROM ensembles WHERE name = '{proxy}'\"`)")
    if config.fingerprint:  # the pipeline cannot be told a fingerprint: it is the images'
        meaning.append(f"IMAGES the images of fingerprint {shorten(config.fingerprint)}")
    return command + (f" with {' and '.join(meaning)}" if meaning else "")


def check_accuracy(accuracy: str) -> None:
    """One-line ``ValueError`` for an unknown accuracy column."""
    if accuracy not in ACCURACIES:
        raise UserError(f"--accuracy: unknown accuracy column {shorten(accuracy)}; choose from "
                         f"{', '.join(ACCURACIES)}")


def stored_proxies(frame: Columns) -> list[str]:
    """The proxies with a score column in one dataset's columns (``db.read.read_scores``)."""
    return sorted(c[: -len("_seconds")] for c in frame if c.endswith("_seconds"))


@dataclass(frozen=True)
class ScoreTable:
    """Arrays of length 15,625 indexed by ``arch_code`` for one (dataset, proxy, accuracy).

    ``score``: the proxy (NaN = not scored); ``accuracy``: in %; ``seconds``: the stored
    wall time of scoring that architecture with the proxy. ``rank[code]`` is 0 for the best
    scored architecture (ties → lowest code), and scored architectures rank before unscored;
    ``code_of_rank`` is its inverse.
    """

    dataset: str
    proxy: str
    accuracy_name: str
    score: np.ndarray
    accuracy: np.ndarray
    seconds: np.ndarray
    representative: np.ndarray | None = None  # set by unique(): code → its class's stand-in
    config: ScoringConfig = DEFAULT  # the scoring configuration the scores were read for
    rank: np.ndarray = field(init=False)
    code_of_rank: np.ndarray = field(init=False)
    scored: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        unscored = np.isnan(self.score)
        order = np.lexsort((np.arange(NUM_ARCHS), -self.score, unscored))
        rank = np.empty(NUM_ARCHS, dtype=np.int64)
        rank[order] = np.arange(NUM_ARCHS)
        object.__setattr__(self, "rank", rank)
        object.__setattr__(self, "code_of_rank", order)
        object.__setattr__(self, "scored", np.flatnonzero(~unscored))

    @property
    def complete(self) -> bool:
        """Whether every architecture of the space (every class, for a unique table) is scored."""
        if self.representative is None:
            return len(self.scored) == NUM_ARCHS
        return not np.isnan(self.score[self.representative]).any()

    def unique(self) -> ScoreTable:
        """This table with one architecture per class of isomorphic cells: the class's
        smallest scored ``arch_code`` keeps its score, the others become unscored."""
        classes = iso_class_of()
        scored = self.scored
        stand_in = np.full(NUM_ARCHS, NUM_ARCHS, dtype=np.int64)
        np.minimum.at(stand_in, classes[scored], scored)  # smallest scored code per class
        keep = np.zeros(NUM_ARCHS, dtype=bool)
        keep[stand_in[stand_in < NUM_ARCHS]] = True
        representative = stand_in[classes]
        representative = np.where(representative < NUM_ARCHS, representative, np.arange(
            NUM_ARCHS))  # a class with no scored member: itself (unscored, never chosen)
        return ScoreTable(self.dataset, self.proxy, self.accuracy_name,
                          np.where(keep, self.score, np.nan), self.accuracy, self.seconds,
                          representative, self.config)

    @classmethod
    def from_frame(cls, frame: Columns, proxy: str, accuracy: str = "test_acc_12ep",
                   config: ScoringConfig = DEFAULT) -> ScoreTable:
        """From one dataset's rows of the ``arch_scores`` view (``db.read_arch_scores``), as
        columns or a frame.

        Raises a one-line ``ValueError`` when the proxy has no scores for the dataset or when
        a scored architecture lacks the requested accuracy.
        """
        check_accuracy(accuracy)
        datasets = list(dict.fromkeys(np.asarray(frame["dataset"]).tolist()))
        if len(datasets) > 1:
            raise UserError(f"expected one dataset's rows of arch_scores, got "
                             f"{', '.join(map(str, datasets))}")
        dataset = str(datasets[0]) if len(datasets) else "this dataset"
        if proxy not in frame:
            raise UserError(f"no {proxy} scores for {dataset} in the database (it has "
                             f"{', '.join(stored_proxies(frame)) or 'none'}): run "
                             f"{score_hint(dataset, proxy, config)} first")
        score = np.asarray(frame[proxy], dtype=float)
        scored = ~np.isnan(score)
        if not scored.any():
            images, other = (f" from images {shorten(config.fingerprint)}",
                             "leave --fingerprint out (then the images covering the most "
                             "architectures are read) or ") if config.fingerprint else ("", "")
            raise UserError(f"no {proxy} scores{images} for {dataset} in the database: {other}"
                            f"run {score_hint(dataset, proxy, config)} first")
        known = np.asarray(frame[accuracy], dtype=float)[scored]
        missing = int(np.isnan(known).sum())
        if missing:
            raise UserError(
                f"{accuracy} is unknown for {missing} of the {int(scored.sum())} {proxy}-scored "
                f"architectures of {dataset}: import accuracies with `luigi --module pipeline "
                f"ImportBenchmark --benchmark PATH` or pick another accuracy column")
        codes = np.asarray(frame["arch_code"], dtype=np.int64)[scored]
        arrays = {name: np.full(NUM_ARCHS, np.nan) for name in ("score", "accuracy", "seconds")}
        arrays["score"][codes] = score[scored]
        arrays["accuracy"][codes] = known
        arrays["seconds"][codes] = np.asarray(frame[f"{proxy}_seconds"], dtype=float)[scored]
        return cls(dataset, proxy, accuracy, **arrays, config=config)
