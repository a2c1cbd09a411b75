"""The random stream of a search experiment, defined once.

An *experiment* is (search, proxy, dataset, N) replayed with a seed: random search with N
samples, or regularized evolution (N does not apply: 0). Its runs draw from one generator,

    numpy.random.default_rng([seed, crc32("<label> <proxy>"), dataset number, N])

with ``<label>`` ``random`` or ``REA``, ``crc32`` :func:`zlib.crc32` of the UTF-8 text and the
dataset number its position in :data:`tfnas.datasets.DATASETS` (cifar10 0, cifar100 1,
ImageNet16-120 2). Runs are drawn :data:`CHUNK` at a time, one chunk after the other from
that generator (:func:`chunks`); for random search this equals drawing all runs at once.

Every path reads this stream: ``tfnas tables`` (Tables I–V and ``--proxies``: Table I's and
Table II's NASWOT cells at N = 100 are the same experiment, so the same numbers),
:func:`tfnas.replay.search.random_search` and
:func:`~tfnas.replay.search.regularized_evolution` given an integer seed, ``tfnas plot``'s
search curves, and :class:`tfnas.api.Database`'s ``random_search`` / ``rea``. The seed is not
tied to the table a cell is printed in, so the answer to an experiment does not depend on
how it was asked for. REA's cycles, population and tournament are not part of the seed:
a shorter budget is a prefix of a longer one (:mod:`tfnas.replay.search.evolution`).
"""

from __future__ import annotations

import zlib

import numpy as np

from tfnas.datasets import DATASETS
from tfnas.errors import UserError

#: Runs replayed at once: bounds memory whatever the number of runs.
CHUNK = 2000
#: A search's name → its label in the stream's key (and in ``tfnas tables --proxies``' titles).
SEARCHES: dict[str, str] = {"random": "random", "rea": "REA"}


def search_rng(seed: int, search: str, proxy: str, dataset: str, n: int | None = None
               ) -> np.random.Generator:
    """The generator of the experiment (``search`` "random" or "rea", ``proxy``, ``dataset``,
    random search's ``n``; None or 0 for REA) replayed with ``seed`` (see the module text)."""
    if search not in SEARCHES:
        raise UserError(f"unknown search {search!r}; choose from {', '.join(SEARCHES)}")
    if dataset not in DATASETS:
        raise UserError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    key = zlib.crc32(f"{SEARCHES[search]} {proxy}".encode())
    return np.random.default_rng([int(seed), key, list(DATASETS).index(dataset), int(n or 0)])


def chunks(runs: int) -> list[int]:
    """The sizes of the chunks ``runs`` runs are replayed in (:data:`CHUNK` each, the rest
    last)."""
    return [min(CHUNK, runs - start) for start in range(0, runs, CHUNK)]
