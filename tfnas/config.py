"""The scoring configuration a proxy score is computed under, defined once.

A stored score is identified by (architecture, dataset, proxy) and this configuration: the
seed of the network initialisation and of the image batch, the number of images in the
batch, whether the batch was drawn with training augmentation, and the fingerprint of the
exact images read (:func:`tfnas.datasets.sample_batch`). The default is the study's: seed 0,
128 images, no augmentation (the NASWOT code's ``--augtype none``).

Seeds are integers in ``0 .. SEED_MAX`` (2³¹ − 1) on every path — command line, pipeline,
database — so no layer wraps a seed around (torch, numpy and DuckDB all hold it exactly).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tfnas.errors import UserError
from tfnas.messages import shorten

SEED_MAX = 2**31 - 1
DEFAULT_SEED = 0
DEFAULT_BATCH_SIZE = 128
#: The database every command and the pipeline use unless given ``--db`` (relative to the
#: working directory; shards and summaries go beside it).
DEFAULT_DB = "out/tfnas.duckdb"
#: ``data_fingerprint`` of scores computed without reading images (closed forms, Synflow …).
NO_DATA = "none"
#: The accuracy columns a proxy is judged against (NATS-Bench's test and validation accuracy
#: after 12 and 200 epochs; the store's views and the replays use these names).
ACCURACY_COLUMNS: tuple[str, ...] = ("test_acc_12ep", "test_acc_200ep", "valid_acc_12ep",
                                     "valid_acc_200ep")
#: A ``data_fingerprint`` holding this separator marks rows imported from another source
#: (``<source>:<digest>``, e.g. ``suite-zero:`` + 16 hex of the file's SHA-256;
#: :mod:`db.suite_zero`); tfnas's own fingerprints are hex or ``none``. Such rows are read only
#: when their fingerprint is asked for (``--fingerprint``), never by default or beside others.
IMPORTED_SEPARATOR = ":"
#: The study's proxies (NASWOT and Synflow, with the #params and FLOPs baselines): what the
#: pipeline scores and the reports show unless told otherwise; any registered proxy may be asked.
STUDY_PROXIES: tuple[str, ...] = ("naswot", "synflow", "params", "flops")


def torch_home() -> Path:
    """``$TORCH_HOME`` (``~/.torch`` when unset or empty), where NATS-Bench keeps its benchmark
    files and datasets."""
    return Path(os.environ.get("TORCH_HOME") or "~/.torch").expanduser()


def check_seed(value: object, flag: str = "--seed") -> int:
    """``value`` as a seed; one-line ``ValueError`` naming ``flag`` unless an integer in
    0..SEED_MAX (booleans, floats and strings such as ``"1.5"`` are refused)."""
    seed = as_integer(value)
    if seed is None or not 0 <= seed <= SEED_MAX:
        raise UserError(f"{flag} must be an integer in 0..{SEED_MAX}, got {shorten(value)}")
    return seed


def check_batch_size(value: object, flag: str = "--batch-size") -> int:
    """``value`` as a batch size (a positive integer); one-line ``ValueError`` naming ``flag``."""
    size = as_integer(value)
    if size is None or size < 1:
        raise UserError(f"{flag} must be a positive integer, got {shorten(value)}")
    return size


def as_integer(value: object) -> int | None:
    """An int, or a string of ASCII digits with an optional leading minus, as an int; else
    None (booleans, floats, ``"1.5"``, ``"¹"``, ``"١"`` …)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
        return int(value)
    return None


@dataclass(frozen=True)
class ScoringConfig:
    """Seed, batch size, augmentation and (optionally) the images' fingerprint of a score.

    ``fingerprint=None`` means "whichever images" when reading scores back (among rows that
    differ only in their images, the latest wins); scoring always records the fingerprint.
    """

    seed: int = DEFAULT_SEED
    batch_size: int = DEFAULT_BATCH_SIZE
    augment: bool = False
    fingerprint: str | None = None

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_batch_size(self.batch_size)

    def describe(self) -> str:
        """E.g. ``seed 0, batch 128, no augmentation`` (+ ``, images 6e7a9c56…``)."""
        text = (f"seed {self.seed}, batch {self.batch_size}, "
                f"{'augmented' if self.augment else 'no augmentation'}")
        # a fingerprint is 16 hex digits (imported rows: "<source>:" + 16, shown whole so it
        # can be typed back); a mistyped 500-character one is not echoed whole
        shown = self.fingerprint or ""
        limit = 20 + len(shown.partition(":")[0]) + 1 if ":" in shown[:21] else 20
        shown = shown if len(shown) <= limit else shown[:16] + "…"
        return text + (f", images {shown}" if shown else "")

    def pipeline_flags(self) -> str:
        """The flags that make ``luigi --module pipeline ScoreAll`` score this configuration
        (defaults left out; the images are whatever ``--data`` reads), e.g. ``--batch-size 96``."""
        parts = [f"--seeds {self.seed}"] if self.seed != DEFAULT_SEED else []
        if self.batch_size != DEFAULT_BATCH_SIZE:
            parts.append(f"--batch-size {self.batch_size}")
        if self.augment:
            parts.append("--augment")
        return " ".join(parts)


DEFAULT = ScoringConfig()
