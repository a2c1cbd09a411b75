"""Running independent pieces of a report on every core: :func:`fork_map`.

The replays are numpy loops over many small arrays, which hold the GIL most of the time, so
threads do not overlap them; forked processes do, and they inherit the imported modules and
the data instead of importing and loading them again. Where ``fork`` is not the platform's
safe default (anything but Linux) the pieces run one after the other, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

T = TypeVar("T")
R = TypeVar("R")


def workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def fork_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(item) for item in items]``, the items after the first in forked worker
    processes (Linux) while this process computes the first; one BLAS thread in each.
    ``fn`` and the items must be picklable (a module-level function); each item should be
    about one core's share."""
    # One BLAS thread per process (OpenBLAS threads spin and would fight the workers), also
    # when nothing is forked, so that float sums do not depend on the number of cores.
    with threadpool_limits(1, user_api="blas"):
        if len(items) <= 1 or not sys.platform.startswith("linux"):
            return [fn(item) for item in items]
        with ProcessPoolExecutor(len(items) - 1,
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            rest = [pool.submit(fn, item) for item in items[1:]]
            first = fn(items[0])
            return [first] + [future.result() for future in rest]


def share(costs: Sequence[float], parts: int) -> list[list[int]]:
    """Indices of ``costs`` split into at most ``parts`` groups of about equal total cost
    (largest first, each to the group with the least so far); empty groups dropped."""
    groups: list[list[int]] = [[] for _ in range(max(1, parts))]
    loads = [0.0] * len(groups)
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += costs[index]
    return [sorted(group) for group in groups if group]
