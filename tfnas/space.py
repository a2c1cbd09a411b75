"""The NATS-Bench topology search space (TSS; identical to NAS-Bench-201).

A cell is a DAG of 4 nodes; each of its 6 edges i→j (i < j) carries one of 5
operations. An architecture is written as NATS-Bench writes it::

    |op~0|+|op~0|op~1|+|op~0|op~1|op~2|

i.e. node 1 ← node 0; node 2 ← nodes 0, 1; node 3 ← nodes 0, 1, 2.

Dong et al., "NATS-Bench: Benchmarking NAS Algorithms for Architecture
Topology and Size", TPAMI 2021.

Identifiers. ``arch_code`` = Σₖ op_id(edge k)·5ᵏ with edge 0 the first edge of
the string and op ids in the order of :data:`OPS`; it is defined by the space
alone. NATS-Bench's ``arch_index`` is a different numbering that only the
benchmark defines, so it is looked up through :class:`BenchmarkIndex`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tfnas.errors import MissingFileError, UserError
from tfnas.messages import shorten

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
OP_ID: dict[str, int] = {op: i for i, op in enumerate(OPS)}

#: The 6 edges as (target node, source node), in the order of the arch string.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES  # 15,625

EXPECTED_FORM = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
_TOKEN = re.compile(r"([a-z0-9_]+)~([0-9]+)")  # matched whole (fullmatch): no "$" before a "\n"


@dataclass(frozen=True, order=True)
class Arch:
    """One cell of the TSS space: the op on each of the 6 edges, in string order."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != NUM_EDGES:
            raise UserError(f"an architecture has {NUM_EDGES} edges, got {len(self.ops)} ops")
        for op in self.ops:
            if op not in OP_ID:
                raise UserError(f"unknown op {op!r}; valid ops: {', '.join(OPS)}")

    @classmethod
    def from_str(cls, text: str) -> Arch:
        """Parse a NATS-Bench arch string strictly; raise ``ValueError`` naming the bad token."""
        return parse_arch(text)

    @classmethod
    def from_code(cls, code: int) -> Arch:
        """Inverse of :attr:`code`."""
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < NUM_ARCHS:
            raise UserError(f"arch_code must be an integer in 0..{NUM_ARCHS - 1}, got {code!r}")
        ops = []
        for _ in range(NUM_EDGES):
            code, op_id = divmod(code, len(OPS))
            ops.append(OPS[op_id])
        return cls(tuple(ops))

    @property
    def code(self) -> int:
        """``arch_code`` = Σₖ op_id(edge k)·5ᵏ, edge 0 first in the string."""
        return sum(OP_ID[op] * len(OPS) ** k for k, op in enumerate(self.ops))

    def __str__(self) -> str:
        return format_arch(self)

    def mutations(self) -> list[Arch]:
        """The 24 architectures that differ from this one on exactly one edge."""
        return [
            Arch(self.ops[:k] + (op,) + self.ops[k + 1 :])
            for k in range(NUM_EDGES)
            for op in OPS
            if op != self.ops[k]
        ]


def _bad(text: str, why: str) -> UserError:
    return UserError(f"malformed architecture string {shorten(text)}: {why}; "
                     f"expected {EXPECTED_FORM}")


def parse_arch(text: str) -> Arch:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` into an :class:`Arch`.

    Every deviation (unknown op, wrong source-node index, wrong number of
    edges or nodes, stray characters or whitespace) raises ``ValueError``
    naming the offending token and showing the expected form.
    """
    if not isinstance(text, str):
        raise TypeError(f"architecture string must be str, got {type(text).__name__}")
    nodes = text.split("+")
    if len(nodes) != 3:
        raise _bad(text, f"found {len(nodes)} node groups separated by '+', need 3")
    ops: list[str] = []
    for target, group in enumerate(nodes, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise _bad(text, f"node group {shorten(group)} must start and end with '|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != target:
            raise _bad(text, f"node {target} needs {target} input edge(s), got {len(tokens)} "
                             f"in {shorten(group)}")
        for source, token in enumerate(tokens):
            match = _TOKEN.fullmatch(token)
            if match is None:
                raise _bad(text, f"token {shorten(token)} is not of the form op~source")
            op, src = match.group(1), match.group(2)
            if op not in OP_ID:
                raise _bad(text, f"unknown op {shorten(op)} in token {shorten(token)}; "
                                 f"valid ops: {', '.join(OPS)}")
            if int(src) != source or src != str(source):
                raise _bad(text, f"token {shorten(token)} of node {target} must read from node "
                                 f"{source}")
            ops.append(op)
    return Arch(tuple(ops))


def format_arch(arch: Arch) -> str:
    """Format an :class:`Arch` as a NATS-Bench arch string."""
    groups = []
    start = 0
    for target in (1, 2, 3):
        tokens = [f"{arch.ops[start + s]}~{s}" for s in range(target)]
        groups.append("|" + "|".join(tokens) + "|")
        start += target
    return "+".join(groups)


def read_archs_file(path: str | os.PathLike, flag: str = "--archs-file") -> list[Arch]:
    """The architectures listed in a text file: one arch string per line; blank lines and
    everything after a ``#`` are skipped. One-line errors name ``flag``, the file and the line
    (a missing or unreadable file, a binary file, a bad string, an empty list)."""
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise MissingFileError(f"{flag} {path} does not exist; give a text file with one "
                                "NATS-Bench arch string per line") from None
    except UnicodeDecodeError:
        raise UserError(f"{flag} {path} is not a UTF-8 text file; give a text file with one "
                         "NATS-Bench arch string per line") from None
    except OSError as err:
        raise UserError(f"cannot read {flag} {path}: {err.strerror or err}") from None
    archs = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            try:
                archs.append(parse_arch(text))
            except ValueError as err:
                raise UserError(f"{flag} {path}:{number}: {err}") from None
    if not archs:
        raise UserError(f"{flag} {path} lists no architectures")
    return archs


def seeded_order() -> list[int]:
    """Every ``arch_code`` in the fixed random order ``numpy.random.default_rng(0)
    .permutation(15625)``: the first N are the pipeline's ``--limit N`` sample, so a smaller
    sample is a subset of a larger one, and partial coverage grows by prefix."""
    import numpy as np

    return np.random.default_rng(0).permutation(NUM_ARCHS).tolist()


def all_archs() -> Iterator[Arch]:
    """All 15,625 architectures in ``arch_code`` order (0, 1, …, 15,624)."""
    return (Arch.from_code(code) for code in range(NUM_ARCHS))


class BenchmarkIndex:
    """NATS-Bench ``arch_index`` ↔ :class:`Arch`, as defined by a loaded benchmark.

    Built from the benchmark's (index, arch string) pairs; every string is
    validated and the pairs must form a bijection onto the space's archs.
    """

    def __init__(self, pairs: Iterable[tuple[int, str]]) -> None:
        self._by_index: dict[int, Arch] = {}
        self._by_arch: dict[Arch, int] = {}
        for index, text in pairs:
            arch = parse_arch(text)
            index = int(index)
            if index in self._by_index or arch in self._by_arch:
                raise UserError(f"benchmark lists arch_index {index} / {text!r} twice")
            self._by_index[index] = arch
            self._by_arch[arch] = index

    def __len__(self) -> int:
        return len(self._by_index)

    def arch(self, index: int) -> Arch:
        """The architecture with NATS-Bench index ``index``."""
        try:
            return self._by_index[int(index)]
        except KeyError:
            raise KeyError(f"arch_index {index} is not in the loaded benchmark "
                           f"({len(self)} architectures)") from None

    def index(self, arch: Arch | str) -> int:
        """The NATS-Bench index of ``arch`` (an :class:`Arch` or an arch string)."""
        arch = parse_arch(arch) if isinstance(arch, str) else arch
        try:
            return self._by_arch[arch]
        except KeyError:
            raise KeyError(f"{arch} is not in the loaded benchmark") from None

    def indices(self) -> Sequence[int]:
        return sorted(self._by_index)


def lookup(key: str | int, *, by: str, benchmark: BenchmarkIndex | None = None) -> Arch:
    """Explicit look-up: ``by`` is ``"str"``, ``"code"`` (arch_code) or ``"index"`` (NATS-Bench).

    An integer alone is ambiguous between ``arch_code`` and NATS-Bench's
    ``arch_index``, so the caller always says which.
    """
    if by == "str":
        return parse_arch(str(key))
    if by == "code":
        return Arch.from_code(int(key))
    if by == "index":
        if benchmark is None:
            raise UserError("look-up by NATS-Bench index needs a loaded benchmark "
                             "(pass benchmark=BenchmarkIndex(...))")
        return benchmark.arch(int(key))
    raise UserError(f"unknown look-up {by!r}; use by='str', 'code' or 'index'")
