"""Proxies from outside the package: a user's file loaded by path, and the contract check.

A proxy file is any Python file that defines ``PROXY = Proxy(...)`` exactly as a module of
``tfnas/proxies/`` does (``from tfnas.proxies import IMAGES, LABELS, Proxy, ScoringRun``).
:func:`load_proxy_file` imports it (``importlib.util.spec_from_file_location``, under a module
name made of the file's stem and hash, so two files never collide), checks what it defines and
registers it for the process (:func:`tfnas.proxies.register`); installed packages add proxies
through the ``tfnas.proxies`` entry-point group instead (:data:`tfnas.proxies.ENTRY_POINT_GROUP`).

Version: scores of a proxy file carry ``external:<16 hex>``, the first 16 hex digits of the
SHA-256 of the file's bytes (:func:`source_version`), as their ``tfnas_version``: the number
identifies the code that computed it, so an edited file gives other rows, never stale ones.

:func:`check_contract` is the registry's contract (``tests/test_registry.py`` runs it on every
built-in proxy; ``tfnas evaluate`` on a proxy file before scoring): on three architectures,
every score a float, never NaN or +inf, the same twice, the same with 1 and 2 threads, finite
for a normal architecture, unchanged by labels it does not declare, computable without images
when it declares none. Every failure is one line naming the proxy and the check.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tfnas.errors import MissingFileError, UserError
from tfnas.space import Arch

if TYPE_CHECKING:
    from tfnas.datasets import Batch, DatasetSpec
    from tfnas.proxies import Proxy, ScoringRun

#: The proxies registered from files in this process, by name (loading a file again replaces
#: its proxy; a built-in or installed one is never replaced).
_LOADED: dict[str, Proxy] = {}

#: The prefix of a proxy file's version (``external:`` + 16 hex of its source's SHA-256).
EXTERNAL = "external"

#: The architectures the contract is checked on: two ordinary cells and the empty one.
CONTRACT_ARCHS: tuple[Arch, ...] = (
    Arch(("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect",
          "nor_conv_1x1")),
    Arch(("avg_pool_3x3", "skip_connect", "nor_conv_1x1", "none", "nor_conv_3x3", "none")),
    Arch(("none",) * 6),
)


def source_version(path: str | Path) -> str:
    """``external:<16 hex>``: the first 16 hex digits of the SHA-256 of the file's bytes."""
    return f"{EXTERNAL}:{hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]}"


def load_proxy_file(path: str | Path, register: bool = True) -> Proxy:
    """The ``PROXY`` of the Python file ``path``, registered for the process unless
    ``register`` is false. One-line ``UserError`` naming the file for: a missing file, a
    syntax error, an error while importing it, no ``PROXY``, a ``PROXY`` that is not a
    :class:`tfnas.proxies.Proxy`, a name that is not an identifier or that is a built-in
    proxy's or an alias."""
    from tfnas import proxies

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such proxy file; give the path of a .py file "
                               "defining PROXY")
    name = path.name
    try:
        source = path.read_bytes()
        compile(source, str(path), "exec")
    except SyntaxError as err:
        raise UserError(f"{name}: syntax error at line {err.lineno}: {err.msg}; fix the "
                        "file") from None
    digest = hashlib.sha256(source).hexdigest()[:16]
    module_name = f"tfnas_proxy_file_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{name}: cannot be imported as a Python module; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: any error is the file's, said in one line
        del sys.modules[module_name]
        raise UserError(f"{name}: importing it raised {type(err).__name__}: "
                        f"{_one_line(err)}; fix the file") from None
    if not hasattr(module, "PROXY"):
        raise UserError(f"{name}: defines no PROXY; add PROXY = Proxy(name=..., ...) "
                        "(see docs/PROXY.md)")
    proxy = module.PROXY
    if not isinstance(proxy, proxies.Proxy):
        raise UserError(f"{name}: PROXY is a {type(proxy).__name__}, not a Proxy; build it "
                        "with tfnas.proxies.Proxy(...)")
    if not isinstance(proxy.name, str) or not proxy.name.isidentifier():
        raise UserError(f"{name}: PROXY's name {proxy.name!r} is not an identifier; name it "
                        "like a Python variable (it becomes a column name)")
    if _LOADED.get(proxy.name) is proxies.registry().get(proxy.name) is not None:
        del proxies.registry()[proxy.name]  # a file loaded before (perhaps edited): replaced
    if proxy.name in proxies.registry() or proxy.name in proxies.ALIASES:
        what = (f"the alias of {proxies.ALIASES[proxy.name]}" if proxy.name in proxies.ALIASES
                else "a registered proxy")
        raise UserError(f"{name}: PROXY's name {proxy.name!r} is {what}; rename it")
    if register:
        proxies.register(proxy)
        _LOADED[proxy.name] = proxy
    return proxy


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or "(no message)"


def contract_batch(spec: DatasetSpec, size: int = 8, seed: int = 11) -> Batch:
    """The contract's batch: ``size`` Gaussian images of ``spec``'s size with random labels of
    its classes (a fixed generator)."""
    import torch

    from tfnas.datasets import Batch

    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(size, 3, spec.image_size, spec.image_size, generator=generator)
    labels = torch.randint(0, spec.num_classes, (size,), generator=generator)
    return Batch(images, labels, "contract")


def check_contract(proxy: Proxy, spec: DatasetSpec | None = None, batch: Batch | None = None,
                   who: str | None = None, archs: Sequence[Arch] = CONTRACT_ARCHS) -> None:
    """One-line ``UserError`` naming ``who`` (default ``proxy <name>``) and the broken check
    unless ``proxy`` keeps the contract on ``archs`` (see the module docstring). ``spec``
    defaults to ImageNet16-120, ``batch`` to :func:`contract_batch`; the runs are on the CPU,
    seed 0. The thread tolerance is 1e-12 relative for a proxy whose settings say float64,
    else 1e-6."""
    import torch

    from tfnas.datasets import DATASETS, Batch
    from tfnas.proxies import IMAGES, LABELS, ScoringRun

    spec = spec or DATASETS["ImageNet16-120"]
    batch = batch if batch is not None else contract_batch(spec)
    who = who or f"proxy {proxy.name}"
    if not proxy.citation or not proxy.settings or "higher is better" not in proxy.convention:
        raise UserError(f"{who}: citation, settings and a convention saying 'higher is better' "
                        "are required (store a lower-is-better score negated)")
    if LABELS in proxy.reads and IMAGES not in proxy.reads:
        raise UserError(f"{who}: reads labels but not images; declare both")
    size = len(batch.images)
    if size < proxy.min_batch:
        raise UserError(f"{who}: min_batch {proxy.min_batch} is above the check's batch of "
                        f"{size}; pass a larger batch")

    def run(with_batch: Batch | None = batch) -> ScoringRun:
        reads = IMAGES in proxy.reads
        return ScoringRun(spec, 0, "cpu", with_batch if reads else None, size)

    def scores(make: Callable[[], ScoringRun], what: str) -> list[float]:
        found = []
        for arch in archs:
            try:
                value = proxy.score(arch, make())
            except UserError as err:
                if IMAGES not in proxy.reads and "has no image batch" in str(err):
                    raise UserError(f"{who} read images on {arch} but does not declare them; "
                                    "add IMAGES to reads") from None
                raise UserError(f"{who} raised on {arch} ({what}): {_one_line(err)}") from None
            except Exception as err:  # the proxy's code: said in one line, naming the arch
                raise UserError(f"{who} raised {type(err).__name__} on {arch} ({what}): "
                                f"{_one_line(err)}; a proxy must score every architecture "
                                "(-inf for a degenerate one)") from None
            if not isinstance(value, float):
                raise UserError(f"{who} returned a {type(value).__name__} for {arch}; return a "
                                "Python float (float(...))")
            if math.isnan(value) or value == math.inf:
                raise UserError(f"{who} scored {arch} {value}; a score is finite or -inf (a "
                                "degenerate case is -inf, never NaN or +inf)")
            found.append(value)
        return found

    relabel = IMAGES in proxy.reads and LABELS not in proxy.reads  # labels only if declared
    shuffled = Batch(batch.images, batch.labels.roll(1), batch.fingerprint) if relabel else None
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = scores(run, "1 thread")
        again = scores(run, "1 thread, again")
        # at the same thread count as `one`, so that only the labels differ
        other = scores(lambda: run(shuffled), "other labels") if relabel else one
        torch.set_num_threads(2)
        two = scores(run, "2 threads")
    finally:
        torch.set_num_threads(before)
    tolerance = 1e-12 if "float64" in proxy.settings else 1e-6
    for arch, a, b, c in zip(archs, one, again, two, strict=True):
        if a != b:
            raise UserError(f"{who} scored {arch} differently twice ({a!r}, {b!r}); a score "
                            "must be deterministic per (architecture, seed, batch)")
        if not (a == c or abs(a - c) <= tolerance * abs(a)):
            raise UserError(f"{who} scored the same architecture differently with 1 and 2 "
                            f"threads ({a!r}, {c!r} for {arch}); a score must not depend on "
                            "the thread count")
    if not math.isfinite(one[0]):
        raise UserError(f"{who} scored an ordinary architecture ({archs[0]}) {one[0]}; -inf is "
                        "for degenerate cases only")
    if relabel:
        for arch, a, b in zip(archs, one, other, strict=True):
            if a != b:
                raise UserError(f"{who} scored {arch} differently when only the labels changed "
                                f"({a!r}, {b!r}); add LABELS to reads")
