"""The names of the proxies, shared by scoring (:mod:`tfnas.scoring`) and the reports; kept
apart so that reading and reporting scores does not import torch."""

from __future__ import annotations

from collections.abc import Sequence

PROXIES: tuple[str, ...] = ("naswot", "synflow", "params", "flops")
DATA_PROXIES: frozenset[str] = frozenset({"naswot"})  # the proxies that read an image batch


def check_proxies(proxies: Sequence[str]) -> tuple[str, ...]:
    """Validate proxy names; one-line ``ValueError`` listing the valid ones."""
    unknown = [p for p in proxies if p not in PROXIES]
    if unknown or not proxies:
        raise ValueError(f"unknown proxy {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(PROXIES)}")
    return tuple(proxies)
