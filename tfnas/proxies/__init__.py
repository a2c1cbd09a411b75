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

__all__ = ["ALIASES", "ENTRY_POINT_GROUP", "IMAGES", "LABELS", "Proxy", "Published",
           "ScoringRun", "check_batch_size", "check_proxies", "get", "names", "read_fingerprint",
           "register", "registry", "resolve"]

#: The entry-point group of installed packages that add proxies: each entry point names a
#: :class:`Proxy` (``my_pkg.my_proxy:PROXY``) or a module defining ``PROXY``; they are loaded
#: the first time the registry is read (:func:`registry`), after the built-in modules.
ENTRY_POINT_GROUP = "tfnas.proxies"

#: Other names of registered proxies, as other tools spell them; accepted wherever a proxy is
#: named (``check_proxies``: the pipeline's ``--proxies``, ``tfnas score``; the reports'
#: ``--proxies`` through :func:`resolve`), never stored. NAS-Bench-Suite-Zero / NASLib
#: (Krishnakumar et al., NeurIPS 2022; ``naslib/predictors/pruners/measures/``) call NASWOT
#: ``nwot``; zero-cost-nas (Abdelfattah et al., ICLR 2021) calls jacov ``jacob_cov``. NASLib's
#: other names (``jacov``, ``grad_norm``, ``snip``, ``grasp``, ``fisher``, ``synflow``,
#: ``l2_norm``, ``params``, ``flops``, ``zen``, ``plain``, ``epe_nas``) are tfnas's own.
ALIASES: dict[str, str] = {"nwot": "naswot", "jacob_cov": "jacov"}


@functools.cache
def registry() -> dict[str, Proxy]:
    """Every registered proxy by name, in name order: the modules of this package (each
    imported once), then the proxies of installed packages (entry-point group
    :data:`ENTRY_POINT_GROUP`, loaded here, lazily), then those :func:`register` adds for the
    process (a proxy file: :func:`tfnas.plugins.load_proxy_file`)."""
    found = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)
                         if not m.name.startswith("_")):
        proxy = importlib.import_module(f"{__name__}.{module}").PROXY
        if proxy.name != module:
            raise ImportError(f"tfnas/proxies/{module}.py registers the name {proxy.name!r}; "
                              "a proxy is named after its module")
        found[proxy.name] = proxy
    for proxy in _installed(set(found)):
        found[proxy.name] = proxy
    return dict(sorted(found.items()))


def _installed(taken: set[str]) -> list[Proxy]:
    """The proxies of the installed packages' ``tfnas.proxies`` entry points; one-line
    ``UserError`` naming the entry point when one is not a :class:`Proxy` or clashes."""
    from importlib.metadata import entry_points

    found = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        where = f"entry point {point.name} = {point.value} (group {ENTRY_POINT_GROUP})"
        loaded = point.load()
        proxy = getattr(loaded, "PROXY", loaded)
        if not isinstance(proxy, Proxy):
            raise UserError(f"{where} is a {type(proxy).__name__}, not a tfnas.proxies.Proxy; "
                            "point it at a Proxy or a module defining PROXY")
        if proxy.name in taken or proxy.name in ALIASES:
            raise UserError(f"{where} registers {proxy.name!r}, which is already a proxy name "
                            "or alias; rename the proxy")
        taken.add(proxy.name)
        found.append(proxy)
    return found


def register(proxy: Proxy) -> None:
    """Add ``proxy`` to the registry for the rest of the process (``get``, ``names``,
    ``check_proxies``, scoring); the registry stays in name order. One-line ``UserError``
    when its name is a registered proxy's or an alias (:data:`ALIASES`)."""
    if not isinstance(proxy, Proxy):
        raise UserError(f"register() takes a tfnas.proxies.Proxy, got {type(proxy).__name__}")
    table = registry()
    if proxy.name in table or proxy.name in ALIASES:
        what = (f"the alias of {ALIASES[proxy.name]}" if proxy.name in ALIASES
                else "a registered proxy")
        raise UserError(f"proxy name {proxy.name!r} is {what}; give the proxy another name")
    ordered = sorted([*table.items(), (proxy.name, proxy)])
    table.clear()  # in place: callers holding registry() see it
    table.update(ordered)


def names() -> tuple[str, ...]:
    """The registered proxy names, in name order."""
    return tuple(registry())


def get(name: str) -> Proxy:
    """The proxy called ``name``; one-line ``ValueError`` listing the valid names."""
    return registry()[check_proxies([name])[0]]


def resolve(name: str) -> str:
    """The registered name ``name`` stands for: the proxy of an alias (:data:`ALIASES`, e.g.
    ``nwot`` → ``naswot``), else ``name`` itself (unchecked: :func:`check_proxies` checks)."""
    return ALIASES.get(name, name)


def check_proxies(requested: Iterable[str], flag: str = "--proxies") -> tuple[str, ...]:
    """Validated registered proxy names in registry order, aliases resolved (:data:`ALIASES`);
    one-line ``ValueError`` naming ``flag`` for an unknown or empty name, a proxy named twice
    (also by an alias and its name), or an empty list."""
    typed = list(requested)
    requested = [resolve(name) for name in typed]
    unknown = [t for t, name in zip(typed, requested, strict=True) if name not in registry()]
    if unknown or not requested:
        what = (f"unknown proxy {', '.join(shorten(u) for u in unknown)}" if unknown
                else "no proxy given")
        raise UserError(f"{flag}: {what}; choose from {', '.join(registry())} (or the aliases "
                        f"{', '.join(f'{a} = {p}' for a, p in ALIASES.items())})")
    twice = [i for i, name in enumerate(requested) if name in requested[:i]]
    if twice:
        first = requested.index(requested[twice[0]])
        same = (f"{shorten(typed[first])} and {shorten(typed[twice[0]])} both name "
                f"{requested[first]}" if typed[first] != typed[twice[0]]
                else f"{shorten(typed[first])} is listed twice")
        raise UserError(f"{flag}: {same}; name each proxy once")
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
