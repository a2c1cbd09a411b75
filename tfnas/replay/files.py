"""Writing report files atomically: a partial file is never left under the final name."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _replace(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)
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
