"""Fetch the official CIFAR-10 / CIFAR-100 archives on first use (standard library only).

The python-version archives of https://www.cs.toronto.edu/~kriz/cifar.html are downloaded
into the data root with a progress bar, checked against their published MD5, extracted with
tarfile's ``data`` filter (no member outside the target folder, no links, no devices) and the
extracted files checked against their MD5s too. Nothing is half-written: the archive is
streamed into a temporary file renamed only after its checksum matches, and extracted into a
temporary folder renamed into place only after every file checks out.

``TFNAS_CIFAR_MIRROR`` (a base URL) replaces the official base URL, e.g. for an air-gapped
site serving the same files; the checksums are never relaxed. ImageNet16-120 cannot be
downloaded (ImageNet's terms of access): :func:`ensure_dataset` says where to get it.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from tfnas.errors import UserError
from tfnas.messages import one_line

OFFICIAL_BASE = "https://www.cs.toronto.edu/~kriz/"
MIRROR_VARIABLE = "TFNAS_CIFAR_MIRROR"
CHUNK = 1 << 20


class Archive(NamedTuple):
    """An official archive: its file name, MD5, the folder it unpacks to, and the MD5 of every
    file in that folder that tfnas reads."""

    filename: str
    md5: str
    folder: str
    files: Mapping[str, str]


#: Checksums as published with the datasets (and used by torchvision's loaders).
ARCHIVES: dict[str, Archive] = {
    "cifar10": Archive(
        "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py",
        {"data_batch_1": "c99cafc152244af753f735de768cd75f",
         "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
         "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
         "data_batch_4": "634d18415352ddfa80567beed471001a",
         "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
         "test_batch": "40351d587109b95175f43aff81a1287e"}),
    "cifar100": Archive(
        "cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python",
        {"train": "16019d7e3df5f24257cddd939b257f8d",
         "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"}),
}


class DownloadError(UserError, OSError):
    """A download or extraction that failed; the message is one line and names the fix."""


def archive_url(dataset: str) -> str:
    """Where ``dataset``'s archive is fetched from: the official base URL or the mirror."""
    base = os.environ.get(MIRROR_VARIABLE) or OFFICIAL_BASE
    if not base.startswith(("http://", "https://")):
        raise DownloadError(f"{MIRROR_VARIABLE}={base!r} is not an http:// or https:// URL; "
                            "set it to the base URL that serves the CIFAR archives")
    return base.rstrip("/") + "/" + ARCHIVES[dataset].filename


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_hint(dataset: str, root: Path) -> str:
    archive = ARCHIVES[dataset]
    return (f"place {archive.filename} from {OFFICIAL_BASE.rstrip('/')}/cifar.html extracted as "
            f"{root / archive.folder} by hand, set {MIRROR_VARIABLE} to a mirror, or pass "
            "--data with an .npz of images")


def _fetch(url: str, target: Path, expected_md5: str, hint: str) -> None:
    """Stream ``url`` into ``target`` (a temporary name), checking length and MD5."""
    try:
        response = urllib.request.urlopen(url, timeout=60)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as err:
        err.close()
        raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}; {hint}"
                            ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as err:
        reason = getattr(err, "reason", None) or one_line(err)
        raise DownloadError(f"cannot reach {url} ({reason}); no network? {hint}") from None
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    with response, open(target, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {url}",
                  disable=None) as progress:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as err:  # dropped
                    raise DownloadError(f"download of {url} broke off after {received} bytes "
                                        f"({one_line(err)}); run the command again") from None
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                progress.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError(f"download of {url} is truncated: {received} of {total} bytes; "
                            "run the command again")
    if digest.hexdigest() != expected_md5:
        raise DownloadError(f"{url} has MD5 {digest.hexdigest()}, expected {expected_md5} (the "
                            f"file was deleted); the server sent another file: {hint}")


def _extract(archive: Path, into: Path, spec: Archive, url: str) -> Path:
    """Extract ``archive`` into the folder ``into`` and check ``spec.files`` in it."""
    if not hasattr(tarfile, "data_filter"):
        raise DownloadError("this Python's tarfile has no 'data' extraction filter (needs "
                            "Python 3.10.12, 3.11.4, 3.12 or newer); upgrade Python or extract "
                            f"{url} by hand")
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar.getmembers():
                if not (member.isfile() or member.isdir()):
                    raise DownloadError(f"{url} holds {member.name!r}, which is not a plain file "
                                        "or folder; refusing to extract it")
            tar.extractall(into, filter="data")
    except tarfile.TarError as err:  # includes the data filter's refusals (../, absolute …)
        raise DownloadError(f"cannot extract {url} safely ({one_line(err)}); nothing was "
                            "kept") from None
    folder = into / spec.folder
    for name, md5 in spec.files.items():
        path = folder / name
        if not path.is_file():
            raise DownloadError(f"{url} did not contain {spec.folder}/{name}; nothing was kept")
        if md5_of(path) != md5:
            raise DownloadError(f"{spec.folder}/{name} extracted from {url} has MD5 "
                                f"{md5_of(path)}, expected {md5}; nothing was kept")
    return folder


def _converted(err: OSError, dataset: str, url: str, root: Path) -> DownloadError:
    """An OSError while downloading or extracting, as a one-line :class:`DownloadError`."""
    if isinstance(err, DownloadError):
        return err
    if err.errno == errno.ENOSPC:
        return DownloadError(f"disk full while downloading {url} into {root}; free "
                             f"{_free_needed(dataset)} there and run the command again")
    return DownloadError(f"cannot download {url} into {root}: {one_line(err)}")


def download_cifar(dataset: str, root: str | os.PathLike) -> Path:
    """Download, check and extract ``dataset`` (``cifar10``/``cifar100``) into ``root``;
    return the dataset folder. Raises :class:`DownloadError` (one line, nothing left behind)."""
    spec = ARCHIVES[dataset]
    root = Path(root).expanduser()
    url = archive_url(dataset)
    hint = _manual_hint(dataset, root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_downloads(root)
        with tempfile.TemporaryDirectory(prefix=".tfnas-download-", dir=root) as work:
            work = Path(work)
            partial = work / (spec.filename + ".partial")
            _fetch(url, partial, spec.md5, hint)
            folder = _extract(partial, work / "extracted", spec, url)
            partial.replace(root / spec.filename)  # kept: a later check needs no download
            target = root / spec.folder
            if target.exists():  # a concurrent download finished first
                return target
            folder.replace(target)
            return target
    except OSError as err:
        raise _converted(err, dataset, url, root) from None


def _free_needed(dataset: str) -> str:
    return {"cifar10": "about 360 MB", "cifar100": "about 340 MB"}[dataset]


def stored_archive_is_valid(dataset: str, root: Path) -> bool:
    """Whether ``root`` holds the official archive with the right MD5 (re-extracted then)."""
    path = root / ARCHIVES[dataset].filename
    return path.is_file() and md5_of(path) == ARCHIVES[dataset].md5


def extract_stored(dataset: str, root: Path) -> Path:
    """Extract an archive already in ``root`` (checked by :func:`stored_archive_is_valid`)."""
    spec = ARCHIVES[dataset]
    source = str(root / spec.filename)
    try:
        remove_stale_downloads(root)
        with tempfile.TemporaryDirectory(prefix=".tfnas-download-", dir=root) as work:
            folder = _extract(root / spec.filename, Path(work), spec, source)
            target = root / spec.folder
            if not target.exists():
                folder.replace(target)
        return target
    except OSError as err:
        raise _converted(err, dataset, source, root) from None


def ensure_cifar(dataset: str, root: str | os.PathLike) -> Path:
    """``root``'s folder of ``dataset``, extracted from a stored archive or downloaded first."""
    root = Path(root).expanduser()
    target = root / ARCHIVES[dataset].folder
    if target.is_dir():
        return target
    if stored_archive_is_valid(dataset, root):
        return extract_stored(dataset, root)
    return download_cifar(dataset, root)


def remove_stale_downloads(root: Path, idle_seconds: float = 3600) -> None:
    """Delete the temporary folders that a killed download left in ``root`` (none of their
    files written for ``idle_seconds``: a download still running elsewhere is left alone)."""
    now = time.time()
    for leftover in root.glob(".tfnas-download-*"):
        times = []
        for entry in (leftover, *leftover.rglob("*")):
            try:
                times.append(entry.lstat().st_mtime)
            except FileNotFoundError:  # removed meanwhile (a download finishing elsewhere)
                continue
        if times and now - max(times) > idle_seconds:
            shutil.rmtree(leftover, ignore_errors=True)
