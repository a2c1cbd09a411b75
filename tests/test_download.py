"""First-use download of CIFAR-10/100 (:mod:`tfnas.download`) against a real HTTP server.

Every test that downloads starts a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) serving small
archives built here in the official layout, points ``TFNAS_CIFAR_MIRROR`` at it and injects
their checksums into ``tfnas.download.ARCHIVES`` with monkeypatch. An autouse guard makes any
attempt to open a URL that is not on 127.0.0.1 fail the test, so the official site is never
contacted.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import pickle
import socket
import struct
import tarfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tfnas import download
from tfnas.datasets import dataset_spec, load_images
from tfnas.download import Archive, DownloadError

LOCAL = "http://127.0.0.1:"
FILES = {
    "cifar10": ("cifar-10-python.tar.gz", "cifar-10-batches-py", "labels",
                {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}),
    "cifar100": ("cifar-100-python.tar.gz", "cifar-100-python", "fine_labels",
                 {"train": ["train"], "test": ["test"]}),
}


# --------------------------------------------------------------------------- archives


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    """A deterministic .tar.gz of ``members`` (bytes for a regular file, None otherwise)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            info.mtime = 1_230_000_000
            if data is None:
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def file_member(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def dir_member(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


@dataclass
class Built:
    """A small dataset in the official layout: archive bytes, member MD5s, images by split."""

    dataset: str
    files: dict[str, bytes]
    images: dict[str, tuple[np.ndarray, np.ndarray]]
    extra: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return FILES[self.dataset][0]

    @property
    def folder(self) -> str:
        return FILES[self.dataset][1]

    @property
    def archive(self) -> bytes:
        members = [dir_member(self.folder)]
        members += [file_member(f"{self.folder}/{name}", data)
                    for name, data in self.files.items()]
        return tar_gz(members + self.extra)

    def spec(self, *, archive_md5: str | None = None,
             files: dict[str, str] | None = None) -> Archive:
        """The ``Archive`` entry matching these files (overridable to inject mismatches)."""
        checked = {name: md5(data) for name, data in self.files.items()
                   if name != "batches.meta"}
        return Archive(self.filename, archive_md5 or md5(self.archive), self.folder,
                       files if files is not None else checked)


def build(dataset: str, seed: int = 0, n: int = 10) -> Built:
    """Pickles (protocol 2) of ``n`` random planar uint8 rows per file, as the originals."""
    _, _, label_key, splits = FILES[dataset]
    rng = np.random.default_rng([seed, len(dataset)])
    classes = 10 if dataset == "cifar10" else 100
    files: dict[str, bytes] = {}
    images: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split, names in splits.items():
        xs, ys = [], []
        for name in names:
            data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
            labels = [int(v) for v in rng.integers(0, classes, size=n)]
            entry = {"data": data, label_key: labels, "filenames": [f"{i}.png" for i in range(n)]}
            files[name] = pickle.dumps(entry, protocol=2)
            xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(labels, dtype=np.int64))
        images[split] = (np.concatenate(xs), np.concatenate(ys))
    if dataset == "cifar10":
        files["batches.meta"] = pickle.dumps(
            {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": n,
             "num_vis": 3072}, protocol=2)
    return Built(dataset, files, images)


# --------------------------------------------------------------------------- server

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Mirror:
    """The local server: ``routes`` maps a request path to bytes or a handler function."""

    base: str
    prefix: str
    routes: dict[str, bytes | Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def serve(self, filename: str, body: bytes | Route) -> str:
        self.routes[self.prefix + filename] = body
        return self.base + filename


def send_body(handler: BaseHTTPRequestHandler, body: bytes, length: int | None = None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/gzip")
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch):
    state = Mirror("", "/mirror/cifar/")

    class Handler(BaseHTTPRequestHandler):
        reset = False

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            state.requests.append(self.path)
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404)
            elif callable(route):
                route(self)
            else:
                send_body(self, route)

        def finish(self) -> None:
            super().finish()
            if self.reset:  # close with SO_LINGER 0: the client gets a TCP reset
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.base = f"{LOCAL}{server.server_address[1]}{state.prefix}"
    monkeypatch.setenv(download.MIRROR_VARIABLE, state.base)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch):
    """Fail the test on any URL not on 127.0.0.1 (the official site is never contacted)."""
    real = urllib.request.urlopen
    opened: list[str] = []

    def guarded(url, *args, **kwargs):
        text = url if isinstance(url, str) else url.full_url
        opened.append(text)
        if ":" in text and not text.startswith(LOCAL):  # no scheme: urlopen rejects it
            raise AssertionError(f"test tried to open {text}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)
    return opened


def install(monkeypatch: pytest.MonkeyPatch, mirror: Mirror, built: Built,
            body: bytes | Route | None = None, **spec: object) -> str:
    """Serve ``body`` (default the archive) and inject ``built``'s checksums; the URL."""
    monkeypatch.setitem(download.ARCHIVES, built.dataset, built.spec(**spec))
    return mirror.serve(built.filename, built.archive if body is None else body)


def contents(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def fails(root: Path, dataset: str = "cifar10") -> DownloadError:
    """Run load_images, expect a DownloadError, check it is one line and nothing was kept."""
    with pytest.raises(DownloadError) as info:
        load_images(dataset_spec(dataset), root)
    err = info.value
    assert isinstance(err, OSError)
    assert "\n" not in str(err)
    assert contents(root) == []  # no archive, no partial file, no .tfnas-download-* folder
    return err


# --------------------------------------------------------------------------- success


def test_cifar10_downloaded_on_first_use_then_read_locally(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    url = install(monkeypatch, mirror, built)
    root = tmp_path / "data" / "cifar.python"  # created by the download

    x, y = load_images(dataset_spec("cifar10"), root)

    assert mirror.requests == [mirror.prefix + "cifar-10-python.tar.gz"]
    assert url.startswith(LOCAL)
    np.testing.assert_array_equal(x, built.images["train"][0])
    np.testing.assert_array_equal(y, built.images["train"][1])
    assert x.shape == (50, 32, 32, 3) and x.dtype == np.uint8
    assert (root / "cifar-10-python.tar.gz").read_bytes() == built.archive
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(built.files)
    for name, data in built.files.items():
        assert (folder / name).read_bytes() == data
    assert contents(root) == sorted(
        ["cifar-10-python.tar.gz", "cifar-10-batches-py",
         *(f"cifar-10-batches-py/{name}" for name in built.files)])

    x2, y2 = load_images(dataset_spec("cifar10"), root)
    xt, yt = load_images(dataset_spec("cifar10"), root, "test")
    assert len(mirror.requests) == 1  # the second and third calls read the extracted folder
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(xt, built.images["test"][0])
    np.testing.assert_array_equal(yt, built.images["test"][1])


def test_cifar100_downloaded_on_first_use(tmp_path, mirror, monkeypatch):
    built = build("cifar100", seed=3)
    install(monkeypatch, mirror, built)

    x, y = load_images(dataset_spec("cifar100"), tmp_path)
    xt, yt = load_images(dataset_spec("cifar100"), tmp_path, "test")

    assert mirror.requests == [mirror.prefix + "cifar-100-python.tar.gz"]
    np.testing.assert_array_equal(x, built.images["train"][0])
    np.testing.assert_array_equal(y, built.images["train"][1])
    np.testing.assert_array_equal(xt, built.images["test"][0])
    np.testing.assert_array_equal(yt, built.images["test"][1])
    assert (tmp_path / "cifar-100-python.tar.gz").read_bytes() == built.archive
    assert contents(tmp_path) == ["cifar-100-python", "cifar-100-python.tar.gz",
                                  "cifar-100-python/test", "cifar-100-python/train"]


def test_kept_archive_is_extracted_again_without_network(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(built.archive)

    x, _ = load_images(dataset_spec("cifar10"), tmp_path)

    assert mirror.requests == []
    np.testing.assert_array_equal(x, built.images["train"][0])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tfnas-")]


def test_download_finished_elsewhere_first_is_kept(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)
    real_extract = download._extract

    def extract_then_other_download_finishes(*args, **kwargs):
        folder = real_extract(*args, **kwargs)
        (tmp_path / "cifar-10-batches-py").mkdir()
        (tmp_path / "cifar-10-batches-py" / "other").write_text("theirs")
        return folder

    monkeypatch.setattr(download, "_extract", extract_then_other_download_finishes)
    target = download.ensure_cifar("cifar10", tmp_path)

    assert target == tmp_path / "cifar-10-batches-py"
    assert contents(tmp_path) == ["cifar-10-batches-py", "cifar-10-batches-py/other",
                                  "cifar-10-python.tar.gz"]


# --------------------------------------------------------------------------- failures


def test_wrong_checksum_deletes_the_file(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    other = build("cifar10", seed=1).archive
    url = install(monkeypatch, mirror, built, body=other)

    err = fails(tmp_path)

    text = str(err)
    assert url in text
    assert f"has MD5 {md5(other)}, expected {md5(built.archive)}" in text
    assert "the file was deleted" in text
    assert mirror.requests == [mirror.prefix + "cifar-10-python.tar.gz"]


def test_truncated_body_is_not_kept(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    archive = built.archive
    half = len(archive) // 2

    def short(handler: BaseHTTPRequestHandler) -> None:
        send_body(handler, archive[:half], length=len(archive))
        handler.close_connection = True

    url = install(monkeypatch, mirror, built, body=short)
    err = fails(tmp_path)

    text = str(err)
    assert url in text
    assert f"truncated: {half} of {len(archive)} bytes" in text
    assert "run the command again" in text


def test_connection_reset_mid_body_is_not_kept(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    archive = built.archive

    def reset(handler: BaseHTTPRequestHandler) -> None:
        send_body(handler, archive[: len(archive) // 3], length=len(archive))
        handler.close_connection = True
        handler.reset = True

    url = install(monkeypatch, mirror, built, body=reset)
    err = fails(tmp_path)

    text = str(err)
    assert url in text
    assert "broke off" in text or "truncated" in text


def test_http_404_names_url_and_manual_placement(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    monkeypatch.setitem(download.ARCHIVES, "cifar10", built.spec())  # nothing served

    err = fails(tmp_path)

    text = str(err)
    url = mirror.base + "cifar-10-python.tar.gz"
    assert f"downloading {url} failed: HTTP 404" in text
    assert "TFNAS_CIFAR_MIRROR" in text
    assert "--data" in text and ".npz" in text
    assert str(tmp_path / "cifar-10-batches-py") in text
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in text


def test_connection_refused_names_url(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"{LOCAL}{port}/cifar/"
    monkeypatch.setenv(download.MIRROR_VARIABLE, base)

    err = fails(tmp_path)

    text = str(err)
    assert f"cannot reach {base}cifar-10-python.tar.gz" in text
    assert "no network?" in text
    assert "refused" in text.lower()


@pytest.mark.parametrize("evil", ["../../../evil", "cifar-10-batches-py/../../../../evil"])
def test_member_outside_the_folder_is_refused(tmp_path, mirror, monkeypatch, evil):
    built = build("cifar10")
    built.extra = [file_member(evil, b"owned")]
    root = tmp_path / "data"
    url = install(monkeypatch, mirror, built)

    err = fails(root)

    text = str(err)
    assert f"cannot extract {url} safely" in text
    assert "nothing was kept" in text
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path.parent / "evil").exists()
    assert contents(tmp_path) == ["data"]


def test_absolute_member_cannot_land_outside(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    outside = tmp_path / "abs_evil"
    built.extra = [file_member(str(outside), b"owned")]
    root = tmp_path / "data"
    install(monkeypatch, mirror, built)

    target = download.ensure_cifar("cifar10", root)

    # the data filter strips the leading "/": the member lands in the temporary folder, which
    # is deleted; only the checked dataset folder and the archive are kept
    assert target == root / "cifar-10-batches-py"
    assert not outside.exists()
    assert contents(root) == sorted(
        ["cifar-10-python.tar.gz", "cifar-10-batches-py",
         *(f"cifar-10-batches-py/{name}" for name in built.files)])
    assert contents(tmp_path) == ["data", *(f"data/{p}" for p in contents(root))]


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_link_member_is_refused(tmp_path, mirror, monkeypatch, kind):
    built = build("cifar10")
    link = tarfile.TarInfo("cifar-10-batches-py/passwd")
    link.type = kind
    link.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else "cifar-10-batches-py/test_batch"
    built.extra = [(link, None)]
    url = install(monkeypatch, mirror, built)

    err = fails(tmp_path)

    text = str(err)
    assert f"{url} holds 'cifar-10-batches-py/passwd'" in text
    assert "not a plain file or folder" in text and "refusing" in text


def test_extracted_file_checksum_mismatch_names_the_file(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    files = built.spec().files | {"data_batch_3": "0" * 32}
    url = install(monkeypatch, mirror, built, files=files)

    err = fails(tmp_path)

    text = str(err)
    assert f"cifar-10-batches-py/data_batch_3 extracted from {url}" in text
    assert f"has MD5 {md5(built.files['data_batch_3'])}, expected {'0' * 32}" in text
    assert "nothing was kept" in text


def test_archive_without_a_listed_file_is_not_kept(tmp_path, mirror, monkeypatch):
    built = build("cifar100")
    files = built.spec().files | {"meta": "1" * 32}
    url = install(monkeypatch, mirror, built, files=files)

    err = fails(tmp_path, "cifar100")

    assert f"{url} did not contain cifar-100-python/meta" in str(err)


def test_archive_that_is_not_a_tar_is_not_kept(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    garbage = b"<html>not a tar</html>" * 10
    url = install(monkeypatch, mirror, built, body=garbage, archive_md5=md5(garbage))

    err = fails(tmp_path)

    assert f"cannot extract {url} safely" in str(err)


# --------------------------------------------------------------------------- leftovers


def test_stale_download_folder_removed_fresh_one_left(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)
    stale = tmp_path / ".tfnas-download-killed1"
    (stale / "extracted" / "cifar-10-batches-py").mkdir(parents=True)
    (stale / "cifar-10-python.tar.gz.partial").write_bytes(built.archive[:100])
    (stale / "extracted" / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"half")
    old = time.time() - 2 * 3600
    for path in [stale, *stale.rglob("*")]:
        os.utime(path, (old, old))
    running = tmp_path / ".tfnas-download-running"  # another download still writing
    running.mkdir()
    (running / "cifar-10-python.tar.gz.partial").write_bytes(b"in progress")

    x, _ = load_images(dataset_spec("cifar10"), tmp_path)

    np.testing.assert_array_equal(x, built.images["train"][0])
    assert not stale.exists()
    assert (running / "cifar-10-python.tar.gz.partial").read_bytes() == b"in progress"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".tfnas-download-running", "cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert len(mirror.requests) == 1


def test_leftovers_of_an_interrupted_run_are_never_the_dataset(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    decoy = build("cifar10", seed=7)
    install(monkeypatch, mirror, built)
    # a complete-looking archive under its temporary name, a truncated one under the final
    # name, and a fully extracted folder inside a (recent) temporary folder
    (tmp_path / "cifar-10-python.tar.gz.partial").write_bytes(decoy.archive)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(built.archive[:200])
    inside = tmp_path / ".tfnas-download-x1y2" / "extracted" / "cifar-10-batches-py"
    inside.mkdir(parents=True)
    for name, data in decoy.files.items():
        (inside / name).write_bytes(data)

    x, y = load_images(dataset_spec("cifar10"), tmp_path)

    assert len(mirror.requests) == 1
    np.testing.assert_array_equal(x, built.images["train"][0])
    np.testing.assert_array_equal(y, built.images["train"][1])
    assert (tmp_path / "cifar-10-python.tar.gz").read_bytes() == built.archive
    for name, data in built.files.items():
        assert (tmp_path / "cifar-10-batches-py" / name).read_bytes() == data


# --------------------------------------------------------------------------- ImageNet, URL


def test_imagenet16_cannot_be_downloaded(tmp_path, mirror, local_only):
    with pytest.raises(FileNotFoundError) as info:
        load_images(dataset_spec("ImageNet16-120"), tmp_path)

    text = str(info.value)
    assert not isinstance(info.value, DownloadError)
    assert "\n" not in text
    assert "cannot be downloaded" in text
    assert "image-net.org" in text
    assert str(tmp_path) in text
    assert mirror.requests == [] and local_only == []
    assert contents(tmp_path) == []


@pytest.mark.parametrize("base", ["http://127.0.0.1:9/cifar", "http://127.0.0.1:9/cifar/"])
def test_archive_url_uses_the_mirror(monkeypatch, base):
    monkeypatch.setenv(download.MIRROR_VARIABLE, base)
    assert download.archive_url("cifar10") == "http://127.0.0.1:9/cifar/cifar-10-python.tar.gz"
    assert download.archive_url("cifar100") == "http://127.0.0.1:9/cifar/cifar-100-python.tar.gz"


@pytest.mark.parametrize("unset", [True, False])
def test_archive_url_official_without_mirror(monkeypatch, unset):
    if unset:
        monkeypatch.delenv(download.MIRROR_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(download.MIRROR_VARIABLE, "")
    assert download.archive_url("cifar10") == (
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
    assert download.archive_url("cifar100") == (
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz")


def test_real_checksums_untouched():
    assert download.ARCHIVES["cifar10"].md5 == "c58f30108f718f92721af3b95e74349a"
    assert download.ARCHIVES["cifar100"].md5 == "eb9058c3a382ffc7106e4002c42a8d85"


# --------------------------------------------------------------------------- disk full


class FullDisk(io.RawIOBase):
    """A file opened for writing that takes ``room`` bytes, then fails with ENOSPC."""

    def __init__(self, file: io.BufferedWriter, room: int) -> None:
        self.file, self.room = file, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if len(data) > self.room:
            self.file.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def close(self) -> None:
        self.file.close()
        super().close()


def test_disk_full_while_downloading(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)

    def small_disk(file, mode="r", *args, **kwargs):
        opened = open(file, mode, *args, **kwargs)
        return FullDisk(opened, room=1000) if "w" in mode else opened

    monkeypatch.setattr(download, "open", small_disk, raising=False)
    err = fails(tmp_path)

    text = str(err)
    assert f"disk full while downloading {mirror.base}cifar-10-python.tar.gz into {tmp_path}" in (
        text)
    assert "about 360 MB" in text


def test_disk_full_while_extracting(tmp_path, mirror, monkeypatch):
    built = build("cifar100")
    install(monkeypatch, mirror, built)

    def no_room(self, tarinfo, targetpath):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), targetpath)

    monkeypatch.setattr(tarfile.TarFile, "makefile", no_room)
    err = fails(tmp_path, "cifar100")

    text = str(err)
    assert f"disk full while downloading {mirror.base}cifar-100-python.tar.gz into {tmp_path}" in (
        text)
    assert "about 340 MB" in text


def test_guard_refuses_the_official_site(tmp_path, monkeypatch, local_only):
    monkeypatch.delenv(download.MIRROR_VARIABLE, raising=False)

    with pytest.raises(AssertionError, match="www.cs.toronto.edu"):
        download.download_cifar("cifar10", tmp_path)

    assert local_only == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    assert contents(tmp_path) == []


# ------------------------------------------------------- failure modes found in review


def test_chunked_body_broken_off_is_a_download_error(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    archive = built.archive

    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.write(b"%x\r\n" % len(archive) + archive[: len(archive) // 2])
        handler.wfile.flush()
        handler.close_connection = True

    url = install(monkeypatch, mirror, built, body=chunked)
    err = fails(tmp_path)

    assert url in str(err) and "broke off" in str(err)


def test_server_answering_garbage_is_a_download_error(tmp_path, monkeypatch):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        monkeypatch.setenv(download.MIRROR_VARIABLE, f"{LOCAL}{port}/")
        try:
            err = fails(tmp_path)
        finally:
            thread.join(5)
    assert "cannot reach" in str(err)


def test_mirror_without_scheme_is_a_download_error(tmp_path, monkeypatch, local_only):
    monkeypatch.setenv(download.MIRROR_VARIABLE, "mirror.invalid/cifar")

    err = fails(tmp_path)  # raises before any connection: no scheme, nothing to contact

    assert download.MIRROR_VARIABLE in str(err)


def test_disk_full_while_extracting_a_kept_archive(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(built.archive)

    def no_room(self, tarinfo, targetpath):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), targetpath)

    monkeypatch.setattr(tarfile.TarFile, "makefile", no_room)
    with pytest.raises(DownloadError, match="disk full") as info:
        load_images(dataset_spec("cifar10"), tmp_path)

    assert str(tmp_path) in str(info.value)
    assert mirror.requests == []


def test_stale_folder_with_a_vanished_entry_does_not_block(tmp_path, mirror, monkeypatch):
    built = build("cifar10")
    install(monkeypatch, mirror, built)
    stale = tmp_path / ".tfnas-download-killed2"
    stale.mkdir()
    (stale / "gone").symlink_to(tmp_path / "no-such-file")
    old = time.time() - 2 * 3600
    os.utime(stale / "gone", (old, old), follow_symlinks=False)
    os.utime(stale, (old, old))

    x, _ = load_images(dataset_spec("cifar10"), tmp_path)

    np.testing.assert_array_equal(x, built.images["train"][0])
    assert not stale.exists()
