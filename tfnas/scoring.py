"""Score architectures with the requested proxies of the registry: the pipeline's unit of work.

Each proxy scores the architectures through its fast path where it has one (NASWOT and
Synflow: :mod:`tfnas.proxies._engine`, the same numbers as on the built network), else one
architecture at a time on its freshly built, seeded network. Every score is "higher is
better"; a NaN is an error, never stored.

``seconds`` is the wall time of that proxy for that architecture, its weights and (on CUDA)
synchronisation included; when several architectures share one pass it is the pass's time
divided by their number, and a pass several proxies read (one loss gradient, one input
Jacobian: :mod:`tfnas.proxies._gradients`) is counted once, by the first proxy that needs it.
The first call for a (seed, dataset, device) also draws the seed's init streams (~0.1 s).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch

from tfnas import proxies
from tfnas.errors import UserError
from tfnas.proxies import IMAGES, LABELS, ScoringRun
from tfnas.space import Arch


class ProxyScore(NamedTuple):
    score: float
    seconds: float


def check_run(run: ScoringRun, names: Sequence[str]) -> None:
    """One-line ``ValueError`` when the run lacks what the proxies read: images, or labels of
    the dataset's classes, or finite pixel values, or a batch as large as they need."""
    proxies.check_batch_size(names, run.batch_size)
    needs = {name: proxies.get(name).reads for name in names}
    readers = sorted(name for name, reads in needs.items() if reads)
    if not readers:
        return
    if run.batch is None:
        raise UserError(f"proxies {', '.join(readers)} read images: pass --data")
    if not torch.isfinite(run.batch.images).all():
        raise UserError("the image batch contains NaN or inf; check the input images")
    label_readers = sorted(name for name, reads in needs.items() if LABELS in reads)
    if label_readers:
        from tfnas.datasets import check_labels

        check_labels(run.spec, run.batch.labels, label_readers)
    assert all(reads <= {IMAGES, LABELS} for reads in needs.values())


def score_archs(archs: Sequence[Arch], run: ScoringRun, names: Sequence[str]
                ) -> list[dict[str, ProxyScore]]:
    """Score ``archs`` with each proxy of ``names`` (validated); one dict per architecture.

    On a GPU pass a group of architectures at once (the fast paths run them as grouped
    convolutions); on a CPU one at a time, which keeps NASWOT's codes bit-identical to the
    built network's.
    """
    names = proxies.check_proxies(names)
    check_run(run, names)
    archs = list(archs)
    results: list[dict[str, ProxyScore]] = [{} for _ in archs]
    if not archs:
        return results
    device = torch.device(run.device)

    def record(result: dict, arch: Arch, name: str, score: float, seconds: float) -> None:
        score = float(score)
        if math.isnan(score) or score == math.inf:
            raise UserError(f"{name} returned {score} for {arch} on {run.spec.name}; scores "
                             "are finite or -inf (a degenerate case is -inf, never NaN or "
                             "+inf)")
        result[name] = ProxyScore(score, seconds)

    grouped = [n for n in names if proxies.get(n).score_many is not None]
    single = [n for n in names if n not in grouped]
    for name in grouped:  # one pass over all the architectures
        start = time.perf_counter()
        with _naming(f"{name} on {len(archs)} architectures of {run.spec.name}"):
            scores = proxies.get(name).score_many(archs, run)
        _synchronize(device)
        took = (time.perf_counter() - start) / len(archs)
        for result, arch, score in zip(results, archs, scores, strict=True):
            record(result, arch, name, score, took)
    for result, arch in zip(results, archs, strict=True):  # architecture by architecture, so
        for name in single:  # passes shared by proxies (run.shared) are computed once each
            start = time.perf_counter()
            with _naming(f"{name} on {arch} ({run.spec.name})"):
                score = proxies.get(name).score(arch, run)
            _synchronize(device)
            record(result, arch, name, score, time.perf_counter() - start)
    return [{name: result[name] for name in names} for result in results]


@contextlib.contextmanager
def _naming(what: str) -> Iterator[None]:
    """An error raised inside carries a note saying what was being scored (shown under its
    traceback, e.g. in Luigi's log of a failed shard)."""
    try:
        yield
    except Exception as err:
        if hasattr(err, "add_note"):  # Python 3.11+
            err.add_note(f"tfnas: while scoring {what}")
        raise


def score_arch(arch: Arch, run: ScoringRun, names: Sequence[str]) -> dict[str, ProxyScore]:
    """:func:`score_archs` for one architecture."""
    return score_archs([arch], run, names)[0]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
