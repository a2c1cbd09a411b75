"""Markdown pipe tables for the reports printed by ``tfnas tables`` and ``tfnas correlations``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def format_number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or 3 significant digits where decimals would hide
    it (|value| ≥ 1e5 such as parameter counts, or below 10^-digits such as µs timings); the
    empty string for None/NaN (nothing published)."""
    if value is None or math.isnan(value):
        return ""
    if value != 0 and not 10**-digits <= abs(value) < 1e5:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def markdown_table(columns: Mapping[str, Sequence]) -> str:
    """A pipe table of ``columns`` (heading → cells), the cells as they are (format numbers
    first)."""
    lines = ["| " + " | ".join(map(str, columns)) + " |",
             "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |"
              for row in zip(*columns.values(), strict=True)]
    return "\n".join(lines)
