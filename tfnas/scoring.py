"""Score architectures with every requested proxy: the unit of work of the pipeline.

NASWOT and Synflow run on :mod:`tfnas.engine`, which computes exactly what
:func:`tfnas.proxies.naswot_score` and :func:`tfnas.proxies.synflow_score` compute on
``build_network(arch, classes, seed=seed)``, without building the network (the
same seed gives the same initial weights). Params and FLOPs are closed forms.
Every score is "higher is better" and never NaN.

``seconds`` is the wall time of that proxy for that architecture, its weights and
(on CUDA) synchronisation included; when several architectures share one pass
(:func:`score_archs`), it is the pass's time divided by their number. The first call
for a (seed, dataset, device) also draws the seed's init streams (~0.1 s).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import dataset_spec
from tfnas.engine import Group, naswot_kernels, synflow_sums
from tfnas.init_weights import InitStream
from tfnas.proxies.naswot import kernel_logdet, no_tf32
from tfnas.proxies.synflow import log_synflow
from tfnas.proxy_names import DATA_PROXIES, PROXIES, check_proxies
from tfnas.space import Arch, parse_arch


class ProxyScore(NamedTuple):
    score: float
    seconds: float


@functools.lru_cache(maxsize=4)
def init_stream(seed: int, num_classes: int, device: torch.device) -> InitStream:
    """The seed's initial weights on ``device``, kept for the next architectures."""
    return InitStream(seed, num_classes, device)


def score_archs(
    archs: Sequence[Arch | str],
    dataset: str,
    batch: torch.Tensor | None,
    proxies: Sequence[str] = PROXIES,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> list[dict[str, ProxyScore]]:
    """Score several architectures, each proxy in one pass over all of them.

    On a GPU a pass over a few dozen architectures (grouped convolutions) is far
    faster than one pass each; on a CPU pass one architecture at a time
    (:func:`score_arch`), which keeps NASWOT's codes bit-identical to the built network's.
    ``batch`` is the normalised image batch NASWOT reads (the same for every
    architecture of a run); it may be ``None`` when no proxy reads data.
    """
    archs = [parse_arch(a) if isinstance(a, str) else a for a in archs]
    spec = dataset_spec(dataset)
    proxies = check_proxies(proxies)
    if not archs:
        return []
    device = torch.device(device)
    if batch is None and DATA_PROXIES.intersection(proxies):
        raise ValueError(f"proxies {', '.join(sorted(DATA_PROXIES & set(proxies)))} need an "
                         "image batch; pass --data")
    if batch is not None:
        if not torch.isfinite(batch).all():
            raise ValueError("NASWOT batch contains NaN or inf; check the input images")
        batch = batch.to(device)
    group = Group(archs, spec.num_classes)
    input_shape = (3, spec.image_size, spec.image_size)

    def stream() -> InitStream:
        return init_stream(seed, spec.num_classes, device)

    run: dict[str, Callable[[], list[float]]] = {
        "naswot": lambda: [kernel_logdet(k) for k in naswot_kernels(group, batch, stream())
                           .cpu()],
        "synflow": lambda: [log_synflow(s) for s in synflow_sums(group, input_shape, stream())
                            .tolist()],
        "params": lambda: [arch_params(a, dataset) for a in archs],
        "flops": lambda: [arch_flops(a, dataset) for a in archs],
    }
    results: list[dict[str, ProxyScore]] = [{} for _ in archs]
    for proxy in proxies:
        start = time.perf_counter()
        with no_tf32():
            scores = run[proxy]()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter() - start) / len(archs)
        for result, score in zip(results, scores, strict=True):
            result[proxy] = ProxyScore(float(score), seconds)
    return results


def score_arch(
    arch: Arch | str,
    dataset: str,
    batch: torch.Tensor | None,
    proxies: Sequence[str] = PROXIES,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, ProxyScore]:
    """Score ``arch`` on ``dataset`` with each proxy in ``proxies``.

    ``batch`` is the normalised image batch NASWOT reads (the same one for every
    architecture of a run); it may be ``None`` when no proxy reads data.
    The network's initial weights are those of ``build_network(arch, classes, seed=seed)``.
    """
    return score_archs([arch], dataset, batch, proxies, seed, device)[0]
