"""Shard files: the pipeline → database contract, with proof of what a shard holds.

A shard is ONE Parquet file with one row per (architecture, proxy) in the columns of
:data:`SHARD_SCHEMA`. Its key-value metadata carries

- ``tfnas.task``: the identity of the task that wrote it (:class:`ShardTask`: dataset,
  proxies, seed, batch size, augmentation, the fingerprint of the images read, the exact
  architecture codes), and
- ``tfnas.checksum``: the SHA-256 of its rows (every column, in order, exactly).

:func:`read_shard` accepts a file only if it reads, has the schema, its checksum matches its
rows, its rows are exactly the task's (architectures × proxies, once each, every constant
column equal to the task's) and, when the caller says which task it expects, the task is that
one. So a foreign, swapped, stale, truncated or bit-flipped shard is never taken for complete
by the pipeline (it is recomputed) and never loaded by the database (it is refused, named).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tfnas.messages import one_line

SHARD_SCHEMA = pa.schema([
    ("arch_code", pa.int64()), ("dataset", pa.string()), ("proxy", pa.string()),
    ("seed", pa.int64()), ("batch_size", pa.int64()), ("data_fingerprint", pa.string()),
    ("augment", pa.bool_()), ("score", pa.float64()), ("seconds", pa.float64()),
    ("device", pa.string()), ("tfnas_version", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
])
TASK_KEY, CHECKSUM_KEY = b"tfnas.task", b"tfnas.checksum"
_CONSTANT = ("dataset", "seed", "batch_size", "data_fingerprint", "augment")


class ShardError(ValueError):
    """A shard file that is not what it must be; the message is one line naming the file."""


@dataclass(frozen=True)
class ShardTask:
    """What a shard holds: the rows of ``arch_codes`` × ``proxies`` for one configuration."""

    dataset: str
    proxies: tuple[str, ...]
    seed: int
    batch_size: int
    augment: bool
    data_fingerprint: str
    arch_codes: tuple[int, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> ShardTask:
        fields = json.loads(text)
        return cls(**{**fields, "proxies": tuple(fields["proxies"]),
                      "arch_codes": tuple(fields["arch_codes"])})

    def digest(self) -> str:
        """A short hash of the identity (names the folder of a run's shards)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    def describe(self) -> str:
        return (f"{self.dataset}, proxies {','.join(self.proxies)}, seed {self.seed}, batch "
                f"{self.batch_size}, augment {self.augment}, images {self.data_fingerprint}, "
                f"{len(self.arch_codes)} architectures")


def table_checksum(table: pa.Table) -> str:
    """SHA-256 of the rows: each column's values in order, exactly (floats by their repr,
    which round-trips; timestamps as integers; strings as their bytes)."""
    digest = hashlib.sha256()
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.binary())
        values = [repr(v) for v in column.to_pylist()]
        digest.update(f"{name}:{len(values)}:".encode())
        digest.update("\x1f".join(values).encode())
    return digest.hexdigest()


def write_shard(table: pa.Table, task: ShardTask, path: str | os.PathLike) -> Path:
    """Write ``table`` (exactly :data:`SHARD_SCHEMA`) as the shard of ``task``, atomically
    (a temporary file renamed into place)."""
    path = Path(path)
    table = table.cast(SHARD_SCHEMA).replace_schema_metadata(
        {TASK_KEY: task.to_json().encode(), CHECKSUM_KEY: table_checksum(table).encode()})
    check_rows(table, task, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
    return path


def check_rows(table: pa.Table, task: ShardTask, path: Path) -> None:
    """:class:`ShardError` unless ``table``'s rows are exactly ``task``'s."""
    def bad(why: str) -> ShardError:
        return ShardError(f"shard {path} {why}; it is not the shard of {task.describe()}")

    expected = {name: getattr(task, name) for name in _CONSTANT}
    for name, value in expected.items():
        found = set(table.column(name).to_pylist())
        if found - {value}:
            shown = ", ".join(repr(v) for v in sorted(found - {value}, key=repr)[:3])
            raise bad(f"has rows with {name} {shown}")
    pairs = list(zip(table.column("arch_code").to_pylist(), table.column("proxy").to_pylist(),
                     strict=True))
    wanted = {(code, proxy) for code in task.arch_codes for proxy in task.proxies}
    if len(pairs) != len(set(pairs)):
        raise bad("has an (architecture, proxy) twice")
    if set(pairs) != wanted:
        missing, extra = len(wanted - set(pairs)), len(set(pairs) - wanted)
        raise bad(f"lacks {missing} and has {extra} foreign (architecture, proxy) rows")
    scores = table.column("score").to_pylist()
    if any(score != score or score == float("inf") for score in scores):
        raise bad("has a NaN or +inf score")
    if any(not (s >= 0 and s != float("inf")) for s in table.column("seconds").to_pylist()):
        raise bad("has a negative or infinite time")
    for name in ("device", "tfnas_version", "created_at"):
        if table.column(name).null_count:
            raise bad(f"has NULL {name}")


def read_shard(path: str | os.PathLike, expected: ShardTask | None = None) -> pa.Table:
    """The verified rows of the shard file ``path`` (see the module docstring).

    ``expected``: the task the caller needs; ``None`` verifies the shard against the task it
    names itself (rows, checksum). Raises :class:`ShardError` (one line) otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise ShardError(f"shard {path} does not exist")
    try:
        table = pq.read_table(path)
        table.validate(full=True)  # e.g. invalid UTF-8 in a string column (not checked on read)
    except (OSError, pa.ArrowException, ValueError) as err:
        raise ShardError(f"shard {path} is not a readable Parquet file ({one_line(err)})"
                         ) from None
    meta = table.schema.metadata or {}
    if table.schema.remove_metadata() != SHARD_SCHEMA:
        try:
            names = ", ".join(table.column_names)
        except UnicodeDecodeError:
            names = "with undecodable names"
        raise ShardError(f"shard {path} has columns {names} of other types than the shard "
                         f"schema ({', '.join(SHARD_SCHEMA.names)})")
    try:
        task = ShardTask.from_json(meta[TASK_KEY])
        checksum = meta[CHECKSUM_KEY].decode()
    except (KeyError, ValueError, TypeError) as err:
        raise ShardError(f"shard {path} carries no readable task identity or checksum "
                         f"({one_line(err)})") from None
    table = table.replace_schema_metadata(None)
    if table_checksum(table) != checksum:
        raise ShardError(f"shard {path} does not match its checksum (corrupt or edited)")
    if expected is not None and task != expected:
        raise ShardError(f"shard {path} belongs to another task ({task.describe()}), not to "
                         f"{expected.describe()}")
    check_rows(table, task, path)
    return table


def shard_tasks(dataset: str, proxies: Sequence[str], seed: int, batch_size: int,
                augment: bool, data_fingerprint: str, codes: Sequence[int],
                shards: int) -> list[ShardTask]:
    """The ``shards`` tasks of a run: shard i holds codes ``[i::shards]`` of the sorted list."""
    codes = sorted(int(c) for c in codes)
    return [ShardTask(dataset, tuple(proxies), seed, batch_size, augment, data_fingerprint,
                      tuple(codes[i::shards])) for i in range(shards)]
