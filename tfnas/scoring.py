"""Score one architecture with every requested proxy: the unit of work of the pipeline.

Each proxy gets a freshly built network (same seed → bit-identical weights),
so the seconds recorded for a proxy are its full cost for that architecture,
network construction included. Every score is "higher is better" and never NaN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch

from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import dataset_spec
from tfnas.network import build_network
from tfnas.proxies import naswot_score, synflow_score
from tfnas.space import Arch, parse_arch

PROXIES: tuple[str, ...] = ("naswot", "synflow", "params", "flops")
DATA_PROXIES: frozenset[str] = frozenset({"naswot"})


class ProxyScore(NamedTuple):
    score: float
    seconds: float


def check_proxies(proxies: Sequence[str]) -> tuple[str, ...]:
    """Validate proxy names; one-line ``ValueError`` listing the valid ones."""
    unknown = [p for p in proxies if p not in PROXIES]
    if unknown or not proxies:
        raise ValueError(f"unknown proxy {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(PROXIES)}")
    return tuple(proxies)


def _timed(fn: Callable[[], float], device: torch.device) -> ProxyScore:
    start = time.perf_counter()
    score = float(fn())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return ProxyScore(score, time.perf_counter() - start)


def score_arch(
    arch: Arch | str,
    dataset: str,
    batch: torch.Tensor | None,
    proxies: Sequence[str] = PROXIES,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> dict[str, ProxyScore]:
    """Score ``arch`` on ``dataset`` with each proxy in ``proxies``.

    ``batch`` is the normalised image batch NASWOT reads (the same one for
    every architecture of a run); it may be ``None`` when no proxy reads data.
    The network is initialised with ``seed``.
    """
    arch = parse_arch(arch) if isinstance(arch, str) else arch
    spec = dataset_spec(dataset)
    proxies = check_proxies(proxies)
    device = torch.device(device)
    if batch is None and DATA_PROXIES.intersection(proxies):
        raise ValueError(f"proxies {', '.join(sorted(DATA_PROXIES & set(proxies)))} need an "
                         "image batch; pass --data")
    if batch is not None:
        batch = batch.to(device)
    input_shape = (3, spec.image_size, spec.image_size)

    def network() -> torch.nn.Module:
        return build_network(arch, spec.num_classes, seed=seed).to(device)

    run: dict[str, Callable[[], float]] = {
        "naswot": lambda: naswot_score(network(), batch),
        "synflow": lambda: synflow_score(network(), input_shape),
        "params": lambda: arch_params(arch, dataset),
        "flops": lambda: arch_flops(arch, dataset),
    }
    return {proxy: _timed(run[proxy], device) for proxy in proxies}
