"""What every proxy module declares (:class:`Proxy`), and what a scoring run hands each proxy
(:class:`ScoringRun`): the dataset, the seed, the device and the proxy batch.

The contract: one module per proxy in ``tfnas/proxies/``, named
after the proxy, declaring the paper and reference code, what it reads, its settings (batch,
input, BN mode, initialisation, dtype, aggregation over layers) and its convention. Stored
scores are **higher is better** (a paper's "lower is better" is negated: ``negated=True``),
deterministic per (architecture, seed, batch) and independent of the thread count, and never
NaN: a degenerate case is −inf.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfnas.config import DEFAULT_BATCH_SIZE, NO_DATA
from tfnas.datasets import Batch, DatasetSpec, labelled_fingerprint
from tfnas.errors import UserError
from tfnas.space import Arch

if TYPE_CHECKING:
    import torch

    from tfnas.init_weights import InitStream
    from tfnas.network import TinyNetwork

#: What a proxy may read besides the architecture.
IMAGES, LABELS = "images", "labels"
READS = (IMAGES, LABELS)


def read_fingerprint(reads: Collection[str], images_fingerprint: str | None,
                     labels: Sequence[int] | None) -> str:
    """The ``data_fingerprint`` a score is stored under: the identity of what its proxy read
    (``reads``) — ``none`` (NO_DATA) for a data-free proxy, whatever images the run had; the
    images' fingerprint for a proxy that reads images; the fingerprint of the images and their
    ``labels`` (:func:`tfnas.datasets.labelled_fingerprint`) for one that reads labels too."""
    if IMAGES not in reads and LABELS not in reads:
        return NO_DATA
    if images_fingerprint is None:
        raise UserError("this proxy reads images, but the run has no image batch; pass --data")
    if LABELS not in reads:
        return images_fingerprint
    return labelled_fingerprint(images_fingerprint, labels)


@dataclass(frozen=True)
class Published:
    """A correlation a paper reports for the proxy: ``statistic`` (spearman, kendall or
    pearson) per dataset, measured against the accuracy column ``accuracy`` of our database
    (e.g. ``test_acc_200ep``), and where it was published."""

    statistic: str
    values: Mapping[str, float]
    accuracy: str
    source: str


@dataclass(frozen=True)
class ScoringRun:
    """One scoring run: the dataset, the seed of the weights (and of the batch), the device,
    the proxy batch (``None`` when no proxy of the run reads images) and the configured batch
    size (the number of images, or of Gaussian inputs for data-free proxies that draw them)."""

    spec: DatasetSpec
    seed: int = 0
    device: str = "cpu"
    batch: Batch | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.batch is not None and len(self.batch.images) != self.batch_size:
            object.__setattr__(self, "batch_size", len(self.batch.images))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return 3, self.spec.image_size, self.spec.image_size

    @property
    def images(self) -> torch.Tensor:
        """The normalised image batch on the run's device."""
        if self.batch is None:
            raise UserError("this proxy reads images, but the run has no image batch; pass "
                             "--data")
        return _on_device(self.batch.images, self.device)

    @property
    def labels(self) -> torch.Tensor:
        """The batch's labels (int64) on the run's device."""
        if self.batch is None:
            raise UserError("this proxy reads labels, but the run has no image batch; pass "
                             "--data")
        return _on_device(self.batch.labels, self.device)

    def network(self, arch: Arch, bn: bool = True, **shape: int) -> TinyNetwork:
        """``arch``'s freshly initialised network (the run's seed) on the run's device;
        ``shape``: ``width``/``depth`` of a narrower or shallower copy (``build_network``)."""
        from tfnas.network import build_network

        return build_network(arch, self.spec.num_classes, seed=self.seed, bn=bn,
                             **shape).to(self.device)

    def shared(self, arch: Arch, name: str, compute: Callable[[], Any]) -> Any:
        """The result of a pass several proxies read (e.g. the loss gradient), computed once
        per architecture: ``compute()`` for the first proxy that asks, kept until the run
        moves to another architecture."""
        if self._memo.get("arch") != arch:
            self._memo.clear()
            self._memo["arch"] = arch
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def init_stream(self) -> InitStream:
        """The seed's initial weights, drawn once per (seed, classes, device)."""
        return _init_stream(self.seed, self.spec.num_classes, str(self.device))


@functools.lru_cache(maxsize=4)
def _init_stream(seed: int, num_classes: int, device: str) -> InitStream:
    from tfnas.init_weights import InitStream

    return InitStream(seed, num_classes, device)


@functools.lru_cache(maxsize=8)
def _on_device_cached(tensor_id: int, device: str, tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to(device)


def _on_device(tensor: torch.Tensor, device: str) -> torch.Tensor:
    return tensor if str(tensor.device) == str(device) else _on_device_cached(
        id(tensor), str(device), tensor)


@dataclass(frozen=True)
class Proxy:
    """A training-free proxy: its metadata and its scorer.

    ``score(arch, run)`` scores one architecture (building the network it needs);
    ``score_many(archs, run)``, where a proxy has one, is a faster path that must give the
    same numbers (a test asserts it). ``reads`` ⊆ {images, labels}. ``convention`` says what
    the stored number is and when it is −inf; ``settings`` states batch, input, BN mode,
    initialisation, dtype and aggregation. ``min_batch``: the smallest batch the score means
    something for (2 for a statistic across the images of the batch).
    """

    name: str
    citation: str
    reads: frozenset[str]
    convention: str
    settings: str
    score: Callable[[Arch, ScoringRun], float]
    score_many: Callable[[Sequence[Arch], ScoringRun], list[float]] | None = None
    negated: bool = False
    published: tuple[Published, ...] = field(default=())
    min_batch: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.reads) - set(READS)
        if unknown:
            raise UserError(f"proxy {self.name}: unknown reads {sorted(unknown)}")

    def scores(self, archs: Sequence[Arch], run: ScoringRun) -> list[float]:
        """Scores of ``archs``: the fast path where there is one, else one by one."""
        if self.score_many is not None:
            return self.score_many(archs, run)
        return [self.score(arch, run) for arch in archs]

    def metadata(self) -> dict[str, object]:
        """The row of the database's ``proxies`` table."""
        return {"proxy": self.name, "citation": self.citation,
                "reads": ", ".join(sorted(self.reads)) or "nothing (architecture only)",
                "convention": self.convention, "settings": self.settings,
                "negated": self.negated}

    def published_rows(self) -> list[dict[str, object]]:
        """The rows of the database's ``published`` table."""
        return [{"proxy": self.name, "statistic": p.statistic, "dataset": dataset,
                 "accuracy": p.accuracy, "value": value, "source": p.source}
                for p in self.published for dataset, value in p.values.items()]
