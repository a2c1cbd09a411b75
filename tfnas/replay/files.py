"""Writing report files atomically: a partial file is never left under the final name; and
checking, before any work, that a folder can be written (:func:`check_writable`, also the
pipeline's check of its output folder)."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfnas.errors import UnwritableError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def check_writable(folder: Path, flag: str | None = "--db") -> None:
    """One-line :class:`~tfnas.errors.UnwritableError` (its message starting with ``flag:``,
    unless ``flag`` is None) unless ``folder`` exists as a writable folder or could be created
    in one (nothing is created here): checked before any work, so no hour of scoring and no
    report ends in a write error."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        why = "not a folder" if not existing.is_dir() else "not writable"
        raise UnwritableError(f"{flag + ': ' if flag else ''}cannot write in {folder} "
                              f"({existing} is {why}); choose a folder you can write")


def _replace(path: Path, write) -> Path:
    partial = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(partial)
        os.replace(partial, path)
    except OSError as err:  # checked before any work (check_writable); e.g. the disk filled
        raise UnwritableError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def write_csv(table: Sequence[Mapping] | pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` (a frame, or rows with the same keys) to ``path`` as CSV, atomically;
    rows are written as pandas writes a frame (NaN and None empty, floats in full)."""
    if hasattr(table, "to_csv"):
        return _replace(Path(path), lambda partial: table.to_csv(partial, index=False))

    def cell(value: object) -> object:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else (
            repr(float(value)) if isinstance(value, float) else value)

    def write(partial: Path) -> None:
        with open(partial, "w", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(table[0] if table else [])
            writer.writerows([cell(value) for value in row.values()] for row in table)

    return _replace(Path(path), write)


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG at ``path``, atomically."""
    return _replace(Path(path), lambda partial: figure.savefig(partial, format="png", dpi=dpi))
