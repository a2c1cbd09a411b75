"""Training-free proxies, one module each; this package lists them (the registry).

Every public module of this package (a name without a leading ``_``) is one proxy and defines
``PROXY``, a :class:`tfnas.proxies._contract.Proxy` named after the module: its citation, what
it reads, its convention (higher is better), its settings and its scorer. Scoring, the
pipeline's ``--proxies``, ``tfnas score`` and the database's ``proxies`` table all read this
registry, so adding a proxy is adding a module (and its test file), nothing else.
``_contract.py`` holds the contract, ``_engine.py`` the fast path of NASWOT and Synflow.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable

from tfnas.errors import UserError
from tfnas.messages import shorten
from tfnas.proxies._contract import (
    IMAGES,
    LABELS,
    Proxy,
    Published,
    ScoringRun,
    read_fingerprint,
)

__all__ = ["IMAGES", "LABELS", "Proxy", "Published", "ScoringRun", "check_batch_size",
           "check_proxies", "get", "names", "read_fingerprint", "registry"]


@functools.cache
def registry() -> dict[str, Proxy]:
    """Every registered proxy by name, in name order (each module imported once)."""
    found = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)
                         if not m.name.startswith("_")):
        proxy = importlib.import_module(f"{__name__}.{module}").PROXY
        if proxy.name != module:
            raise ImportError(f"tfnas/proxies/{module}.py registers the name {proxy.name!r}; "
                              "a proxy is named after its module")
        found[proxy.name] = proxy
    return found


def names() -> tuple[str, ...]:
    """The registered proxy names, in name order."""
    return tuple(registry())


def get(name: str) -> Proxy:
    """The proxy called ``name``; one-line ``ValueError`` listing the valid names."""
    return registry()[check_proxies([name])[0]]


def check_proxies(requested: Iterable[str], flag: str = "--proxies") -> tuple[str, ...]:
    """Validated proxy names in registry order; one-line ``ValueError`` naming ``flag`` for an
    unknown or empty name, a name listed twice, or an empty list."""
    requested = list(requested)
    unknown = [name for name in requested if name not in registry()]
    if unknown or not requested:
        what = (f"unknown proxy {', '.join(shorten(u) for u in unknown)}" if unknown
                else "no proxy given")
        raise UserError(f"{flag}: {what}; choose from {', '.join(registry())}")
    twice = [name for i, name in enumerate(requested) if name in requested[:i]]
    if twice:
        raise UserError(f"{flag}: {shorten(twice[0])} is listed twice; name each proxy once")
    return tuple(name for name in registry() if name in requested)


def check_batch_size(names: Iterable[str], batch_size: int) -> None:
    """One-line ``ValueError`` when ``batch_size`` is below a proxy's ``min_batch`` (e.g.
    NASWOT's kernel or TE-NAS's NTK over a single image)."""
    short = [name for name in names if batch_size < get(name).min_batch]
    if short:
        need = max(get(name).min_batch for name in short)
        raise UserError(f"--batch-size {batch_size} is too small for {', '.join(short)}: "
                         f"{'it compares' if len(short) == 1 else 'they compare'} the images "
                         f"of a batch; use --batch-size {need} or more")
