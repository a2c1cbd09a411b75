"""Luigi parameters typed as comma lists: ``--proxies naswot,synflow``, ``--seeds 0,1,2``.

Luigi's own ``ListParameter`` wants JSON on the command line (``'["naswot"]'``);
these take what users type. Values are normalised to a canonical tuple (proxies in
:data:`tfnas.scoring.PROXIES` order, seeds sorted), so the order typed does not
change a task's identity, and invalid input fails with a one-line ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable

import luigi

from tfnas.scoring import PROXIES, check_proxies


class CommaListParameter(luigi.Parameter):
    """A tuple of strings written ``a,b,c``; subclasses validate and order the items."""

    def parse(self, text: str) -> tuple[str, ...]:
        return tuple(item.strip() for item in text.split(","))

    def serialize(self, value: Iterable) -> str:
        return ",".join(map(str, value))

    def normalize(self, value: str | Iterable) -> tuple:
        items = self.parse(value) if isinstance(value, str) else tuple(value)
        return self.canonical(items)

    def canonical(self, items: tuple) -> tuple:
        return items


class ProxyListParameter(CommaListParameter):
    """Proxy names from :data:`tfnas.scoring.PROXIES`, e.g. ``naswot,synflow``."""

    def canonical(self, items: tuple) -> tuple[str, ...]:
        chosen = set(check_proxies(items))
        return tuple(proxy for proxy in PROXIES if proxy in chosen)


class SeedListParameter(CommaListParameter):
    """Non-negative integer seeds, e.g. ``0,1,2``."""

    def canonical(self, items: tuple) -> tuple[int, ...]:
        seeds = []
        for item in items:
            try:
                seed = int(item)
            except (TypeError, ValueError):
                seed = -1
            if isinstance(item, bool) or seed < 0 or str(seed) != str(item).strip():
                raise ValueError(f"seeds must be non-negative integers like 0,1,2; got {item!r}")
            seeds.append(seed)
        return tuple(sorted(set(seeds)))
