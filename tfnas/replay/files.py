"""Writing report files atomically: a partial file is never left under the final name."""

from __future__ import annotations

import os
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


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` as CSV, atomically."""
    return _replace(Path(path), lambda partial: frame.to_csv(partial, index=False))


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG at ``path``, atomically."""
    return _replace(Path(path), lambda partial: figure.savefig(partial, format="png", dpi=dpi))
