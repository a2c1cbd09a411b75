"""The three NATS-Bench image datasets and the seeded minibatch the proxies read.

Formats (as distributed, read as NATS-Bench/AutoDL-Projects and torchvision read them:
``pickle.load(f, encoding="latin1")``; keys may be ``str`` or ``bytes``):

- ``cifar10``: ``cifar-10-batches-py/`` with ``data_batch_1..5`` and ``test_batch``;
  ``data`` N×3072 uint8 stored planar (3×32×32), ``labels`` 0..9.
- ``cifar100``: ``cifar-100-python/`` with ``train`` and ``test``; labels in ``fine_labels``.
- ``ImageNet16-120``: ``ImageNet16/`` with ``train_data_batch_1..10`` and ``val_data``
  (Chrabaszcz et al. 2017, 16×16 downsampled ImageNet); ``data`` N×768 planar (3×16×16),
  ``labels`` 1-based 1..1000. Like NATS-Bench's ``ImageNet16(..., use_num_of_class_only=120)``
  only labels 1..120 are kept, returned 0-based (0..119). ``split="test"`` reads ``val_data``.

A dataset ``path`` is the folder holding those subfolders (NATS-Bench convention:
``$TORCH_HOME/cifar.python``), or the subfolder itself, or an ``.npz`` file with ``x``
(uint8 N×H×W×3, RGB) and ``y`` (int64). An ``.npz`` is a sample of images: it is used whole
for any split, and its labels are returned as stored (e.g. ``-1`` for the 880 non-120 classes
of the ImageNet16 sample), since the proxies ignore labels.

The proxy batch (Mellor et al. 2021, NASWOT): one batch per (dataset, seed), shared by every
architecture, drawn from the training split with ``numpy.random.default_rng(seed).choice``
*without* replacement (a repeated image makes NASWOT's kernel singular), no augmentation by
default, normalised with NATS-Bench's per-dataset mean/std. The batch carries the images'
labels for the proxies that read them (an ``.npz`` whose labels are not the dataset's classes
gives those proxies a one-line error).

Trusted files. The official pickles are read with a restricted unpickler that admits only the
globals NumPy's array reconstruction needs; a pickle naming any other global (e.g. a payload
calling ``os.system``) is refused before anything in it runs. ``.npz`` files are read with
``allow_pickle=False``. A CIFAR-10/100 root without the dataset's folder gets the official
archive downloaded and checked (:mod:`tfnas.download`); ImageNet16-120 must be placed by hand.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tfnas.config import DEFAULT, ScoringConfig, torch_home
from tfnas.errors import MissingFileError, UserError
from tfnas.messages import one_line, shorten

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset as NATS-Bench trains on it; ``mean``/``std`` per RGB channel, 0..255 scale."""

    name: str
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("cifar10", 10, 32, (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
        DatasetSpec("cifar100", 100, 32, (129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
        DatasetSpec("ImageNet16-120", 120, 16, (122.68, 116.66, 104.01), (63.22, 61.26, 65.09)),
    )
}


class _Layout(NamedTuple):
    folder: str
    splits: dict[str, tuple[str, ...]]
    label_key: str
    one_based: bool  # ImageNet16: labels 1..1000, keep 1..num_classes
    crop_padding: int  # NATS-Bench training augmentation: RandomCrop(size, padding)
    source: str


_LAYOUTS: dict[str, _Layout] = {
    "cifar10": _Layout(
        "cifar-10-batches-py",
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        "labels", False, 4,
        "CIFAR-10 python version from https://www.cs.toronto.edu/~kriz/cifar.html"),
    "cifar100": _Layout(
        "cifar-100-python", {"train": ("train",), "test": ("test",)},
        "fine_labels", False, 4,
        "CIFAR-100 python version from https://www.cs.toronto.edu/~kriz/cifar.html"),
    "ImageNet16-120": _Layout(
        "ImageNet16",
        {"train": tuple(f"train_data_batch_{i}" for i in range(1, 11)), "test": ("val_data",)},
        "labels", True, 2,
        "16x16 Downsampled ImageNet (Imagenet16_train, Imagenet16_val) from "
        "https://image-net.org/download-images, as used by https://github.com/D-X-Y/NATS-Bench"),
}


class Batch(NamedTuple):
    """The proxy batch: normalised float32 N×3×H×W images, their labels (int64, as stored:
    may hold non-class values such as -1 for an ``.npz`` sample) and the fingerprint of the
    exact uint8 images read."""

    images: torch.Tensor
    labels: torch.Tensor
    fingerprint: str


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name`` (parsed once, then passed on); ``ValueError``
    listing the valid names."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise UserError(f"unknown dataset {shorten(name)}; valid datasets: "
                         f"{', '.join(DATASETS)}") from None


def default_data_root() -> Path:
    """``$TORCH_HOME/cifar.python`` (``TORCH_HOME`` defaults to ``~/.torch``), as NATS-Bench."""
    return torch_home() / "cifar.python"


class _ArraysOnly(pickle.Unpickler):
    """Admits only the globals that NumPy arrays in the official pickles need."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load global {module}.{name}: only NumPy "
                                         "arrays belong in a dataset file")
        return super().find_class(module, name)


def load_pickle(file: Path) -> Any:
    """Unpickle a dataset file (latin1 strings, as the Python 2 originals need) with
    :class:`_ArraysOnly`: a file that names any other global raises ``UnpicklingError``."""
    with open(file, "rb") as f:
        return _ArraysOnly(f, encoding="latin1").load()


def _read_pickle(file: Path, layout: _Layout) -> dict[str, Any]:
    try:
        entry = load_pickle(file)
        if not isinstance(entry, dict):
            raise UserError(f"holds a {type(entry).__name__}, not a dict")
        entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
        missing = [k for k in ("data", layout.label_key) if k not in entry]
        if missing:
            raise UserError(f"has no {' or '.join(map(repr, missing))} entry")
        return entry
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError, UnicodeDecodeError) as err:
        raise UserError(f"{file} is corrupt or not in the official format ({one_line(err)}); "
                         f"download it again: {layout.source}") from None


def _check_images(x: np.ndarray, spec: DatasetSpec, where: Path) -> None:
    s = spec.image_size
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (s, s, 3):
        raise UserError(f"{where}: {spec.name} needs uint8 images of shape N×{s}×{s}×3, got "
                         f"{x.dtype} {'×'.join(map(str, x.shape))}")


def _load_npz(spec: DatasetSpec, file: Path) -> tuple[np.ndarray, np.ndarray]:
    if not file.is_file():
        raise MissingFileError(f"image file {file} does not exist")
    try:
        with np.load(file) as npz:
            x, y = npz["x"], npz["y"]
    except KeyError as err:
        raise UserError(f"{file} needs arrays 'x' (uint8 N×H×W×3) and 'y' (labels): "
                         f"{err.args[0]}") from None
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as err:
        raise UserError(f"{file} is not a readable .npz with arrays 'x' and 'y' "
                         f"({one_line(err)})") from None
    _check_images(x, spec, file)
    if y.shape != (len(x),):
        raise UserError(f"{file}: 'y' has shape {y.shape}, expected ({len(x)},) like 'x'")
    return x, y.astype(np.int64)


def _dataset_folder(spec: DatasetSpec, path: Path, layout: _Layout) -> Path:
    first = layout.splits["train"][0]
    if path.is_dir() and not (path / layout.folder).is_dir() and (path / first).is_file():
        return path  # the dataset's own subfolder was given
    if (path / layout.folder).is_dir():
        return path / layout.folder
    if spec.name in ("cifar10", "cifar100"):
        from tfnas.download import ensure_cifar

        return ensure_cifar(spec.name, path)  # one-line DownloadError on failure
    raise MissingFileError(f"no {layout.folder}/ in {path}; give the folder holding "
                            f"{layout.folder}/ or an .npz file (default {default_data_root()}); "
                            f"{spec.name} cannot be downloaded automatically (ImageNet's terms "
                            f"of access): get {layout.source}")


def load_images(spec: DatasetSpec, path: str | os.PathLike, split: str = "train"
                ) -> tuple[np.ndarray, np.ndarray]:
    """All images of one split: ``(x uint8 N×H×W×3 RGB, y int64 N)``.

    ``path`` is the dataset root, the dataset's subfolder or an ``.npz`` sample (see the
    module docstring); a CIFAR root without the dataset is downloaded into first.
    ImageNet16-120 keeps labels 1..120 only and returns them 0-based.
    """
    layout = _LAYOUTS[spec.name]
    if split not in layout.splits:
        raise UserError(f"unknown split {split!r}; valid splits: {', '.join(layout.splits)}")
    path = Path(path).expanduser()
    if path.suffix.lower() == ".npz":
        return _load_npz(spec, path)
    if path.is_file():
        raise UserError(f"--data {path} is a file but not an .npz sample; give the dataset's "
                         "root folder or an .npz file")

    folder = _dataset_folder(spec, path, layout)
    names = layout.splits[split]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise MissingFileError(f"{spec.name} {split} split: missing {', '.join(missing)} in "
                                f"{folder}; expected {layout.folder}/ with "
                                f"{', '.join(names)}; get it: {layout.source}")
    s = spec.image_size
    xs, ys = [], []
    for name in names:  # one file in memory at a time, filtered before the next
        entry = _read_pickle(folder / name, layout)
        data = np.asarray(entry.pop("data"))
        labels = np.asarray(entry.pop(layout.label_key), dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * s * s:
            raise UserError(f"{folder / name}: {spec.name} stores uint8 rows of 3×{s}×{s} = "
                             f"{3 * s * s} values, got {data.dtype} "
                             f"{'×'.join(map(str, data.shape))}")
        if labels.shape != (len(data),):
            raise UserError(f"{folder / name}: {len(labels)} labels for {len(data)} images")
        x = data.reshape(-1, 3, s, s).transpose(0, 2, 3, 1)  # planar → N×H×W×C
        if layout.one_based:
            keep = (labels >= 1) & (labels <= spec.num_classes)
            x, labels = x[keep], labels[keep] - 1
        xs.append(np.ascontiguousarray(x))
        ys.append(labels)
        del entry, data
    return np.concatenate(xs), np.concatenate(ys)


def _augment(x: np.ndarray, rng: np.random.Generator, padding: int) -> np.ndarray:
    """NATS-Bench training augmentation on uint8 N×H×W×3: random horizontal flip, then a
    random crop of the original size from the image zero-padded by ``padding`` pixels."""
    n, size = len(x), x.shape[1]
    flip = rng.random(n) < 0.5
    x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    top, left = rng.integers(0, 2 * padding + 1, size=(2, n))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))
    return np.ascontiguousarray(windows[np.arange(n), top, left].transpose(0, 2, 3, 1))


def _normalise(x: np.ndarray, spec: DatasetSpec) -> torch.Tensor:
    """uint8 N×H×W×3 → float32 N×3×H×W, (x/255 − mean/255) / (std/255) as torchvision does."""
    import torch  # only here: reading specs and images must not pay torch's import time

    images = torch.from_numpy(x).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(spec.mean).div(255).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).div(255).view(1, 3, 1, 1)
    return images.sub(mean).div(std).contiguous()


def _fingerprint(x: np.ndarray, augment: bool) -> str:
    digest = hashlib.sha256(f"{'x'.join(map(str, x.shape))};augment={int(augment)};".encode())
    digest.update(np.ascontiguousarray(x).tobytes())
    return digest.hexdigest()[:16]


def labelled_fingerprint(images_fingerprint: str, labels: np.ndarray) -> str:
    """The fingerprint of a batch's images (``images_fingerprint``) and its ``labels`` in
    order: the identity of what a proxy that reads labels read (a loss of the same images
    under other labels is another score)."""
    labels = np.asarray(labels, dtype="<i8")
    digest = hashlib.sha256(f"{images_fingerprint};labels={len(labels)};".encode())
    digest.update(labels.tobytes())
    return digest.hexdigest()[:16]


def check_batch_fits(spec: DatasetSpec, images: int, batch_size: int, where: object) -> None:
    """One-line ``ValueError`` when ``batch_size`` exceeds the ``images`` available."""
    if batch_size > images:
        raise UserError(f"--batch-size {batch_size} is larger than the {images} {spec.name} "
                         f"training images in {where}; use a batch size of at most {images} "
                         "(images are never repeated: a duplicate makes NASWOT's K singular)")


def choose_images(spec: DatasetSpec, x: np.ndarray, y: np.ndarray,
                  config: ScoringConfig = DEFAULT) -> tuple[np.ndarray, np.ndarray, str]:
    """The configuration's uint8 images and labels, and their fingerprint (numpy only).

    Indices come from ``numpy.random.default_rng(seed).choice(N, batch_size, replace=False)``;
    ``augment`` then applies NATS-Bench's training augmentation drawn from the same generator.
    The fingerprint is the first 16 hex digits of the SHA-256 of the chosen uint8 images
    (before augmentation) and the augment flag: the identity of the images a score read (a
    score that also read the labels is keyed by :func:`labelled_fingerprint`).
    """
    check_batch_fits(spec, len(x), config.batch_size, "the images given")
    rng = np.random.default_rng(config.seed)
    index = rng.choice(len(x), size=config.batch_size, replace=False)
    chosen, labels = x[index], y[index]
    fingerprint = _fingerprint(chosen, config.augment)
    if config.augment:
        chosen = _augment(chosen, rng, _LAYOUTS[spec.name].crop_padding)
    return chosen, labels, fingerprint


def batch_fingerprint(spec: DatasetSpec, path: str | os.PathLike,
                      config: ScoringConfig = DEFAULT) -> str:
    """The fingerprint of the batch :func:`sample_batch` would draw (without torch)."""
    x, y = load_images(spec, path, "train")
    check_batch_fits(spec, len(x), config.batch_size, path)
    return choose_images(spec, x, y, config)[2]


def sample_batch(spec: DatasetSpec, path: str | os.PathLike,
                 config: ScoringConfig = DEFAULT) -> Batch:
    """The proxy minibatch of (dataset, seed): ``config.batch_size`` distinct training images,
    normalised, with their labels and fingerprint (:func:`choose_images`)."""
    x, y = load_images(spec, path, "train")
    check_batch_fits(spec, len(x), config.batch_size, path)
    chosen, labels, fingerprint = choose_images(spec, x, y, config)
    del x, y
    import torch

    return Batch(_normalise(chosen, spec), torch.from_numpy(labels.copy()), fingerprint)


def check_labels(spec: DatasetSpec, labels: torch.Tensor, proxies: list[str]) -> None:
    """One-line ``ValueError`` unless every label is one of ``spec``'s classes (the proxies
    named need labels: a loss on classes 0..num_classes-1)."""
    bad = int(((labels < 0) | (labels >= spec.num_classes)).sum())
    if bad:
        raise UserError(f"{bad} of the {len(labels)} images in the batch have no {spec.name} "
                         f"label (labels must be 0..{spec.num_classes - 1}); proxies "
                         f"{', '.join(proxies)} compute a loss on labels: use the official "
                         "dataset or an .npz with the dataset's labels")
