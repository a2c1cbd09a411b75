"""Loading the pipeline's Parquet shards into ``proxy_scores``, and reading ``arch_scores`` back.

Workers never write the database (DuckDB has one writer): each writes shard files, and
:func:`load_shards` loads them in one transaction with DuckDB's ``read_parquet``. Loading is
idempotent and order-independent: a row whose key (arch, dataset, proxy, seed, batch size,
data fingerprint, augment) is already stored is kept or replaced by whichever of the two has
the later ``created_at``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.connection import connect
from db.schema import DATASETS, ensure_schema, proxy_scores
from tfnas.space import NUM_ARCHS

#: The shard contract (COMMON.md): columns and Arrow types, exactly.
SHARD_SCHEMA = pa.schema([
    ("arch_code", pa.int64()), ("dataset", pa.string()), ("proxy", pa.string()),
    ("seed", pa.int64()), ("batch_size", pa.int64()), ("data_fingerprint", pa.string()),
    ("augment", pa.bool_()), ("score", pa.float64()), ("seconds", pa.float64()),
    ("device", pa.string()), ("tfnas_version", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
])
KEY = [c.name for c in proxy_scores.primary_key.columns]
_VALUES = [name for name in SHARD_SCHEMA.names if name not in KEY]


def write_shard(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` as a shard file with exactly :data:`SHARD_SCHEMA`, atomically."""
    path = Path(path)
    table = pa.Table.from_pandas(frame[SHARD_SCHEMA.names], schema=SHARD_SCHEMA,
                                 preserve_index=False)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(table, partial)
    os.replace(partial, path)
    return path


def _one_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def check_shard(path: Path) -> None:
    """Raise a one-line ``ValueError`` unless ``path`` is a Parquet file with the shard columns."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        raise ValueError(f"shard {path} is not a readable Parquet file ({_one_line(err)}); "
                         "delete it and re-run the task that wrote it") from None
    if sorted(schema.names) != sorted(SHARD_SCHEMA.names):
        raise ValueError(f"shard {path} has columns {', '.join(schema.names)}; expected exactly "
                         f"{', '.join(SHARD_SCHEMA.names)}")
    for field in SHARD_SCHEMA:
        actual = schema.field(field.name).type
        if actual != field.type and not (field.type == pa.string() and actual == pa.large_string()):
            raise ValueError(f"shard {path}: column {field.name} is {actual}, expected "
                             f"{field.type}")


def _check_values(conn: sa.Connection, files: list[str]) -> None:
    nulls = " OR ".join(f"{name} IS NULL" for name in SHARD_SCHEMA.names)
    bad = conn.execute(sa.text(
        f"SELECT filename, arch_code, dataset, proxy, score FROM read_parquet(:files, "
        f"filename = true, union_by_name = true) WHERE {nulls} OR arch_code NOT BETWEEN 0 "
        f"AND {NUM_ARCHS - 1} OR dataset NOT IN ({', '.join(map(repr, DATASETS))}) "
        "OR isnan(score) LIMIT 1"), {"files": files}).all()
    if bad:
        bad = bad[0]
        raise ValueError(f"shard {bad.filename} has an invalid row (arch_code={bad.arch_code}, "
                         f"dataset={bad.dataset}, proxy={bad.proxy}, score={bad.score}): needs "
                         f"arch_code 0..{NUM_ARCHS - 1}, dataset in {', '.join(DATASETS)}, no "
                         "NULLs and no NaN score; delete it and re-run the task that wrote it")


def load_shards(engine: Engine, paths: Iterable[str | os.PathLike]) -> int:
    """Load shard files into ``proxy_scores`` in one transaction; return the number of new rows.

    Every file is validated first (columns and types of the shard contract, values); nothing
    is loaded if any file is bad. Re-loading a shard adds nothing.
    """
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"shard {path} does not exist")
        check_shard(path)
    if not files:
        return 0
    names = [str(p) for p in files]
    update = ", ".join(f"{name} = excluded.{name}" for name in _VALUES)
    with engine.begin() as conn:
        ensure_schema(conn)
        _check_values(conn, names)
        count = sa.select(sa.func.count()).select_from(proxy_scores)
        before = conn.execute(count).scalar_one()
        conn.execute(sa.text(
            f"INSERT INTO proxy_scores BY NAME SELECT * FROM ("
            f"  SELECT * FROM read_parquet(:files, union_by_name = true)"
            f"  QUALIFY row_number() OVER (PARTITION BY {', '.join(KEY)}"
            f"                             ORDER BY created_at DESC) = 1) "
            f"ON CONFLICT DO UPDATE SET {update} "
            f"WHERE excluded.created_at > proxy_scores.created_at"), {"files": names})
        return conn.execute(count).scalar_one() - before


def read_arch_scores(path: str | os.PathLike, dataset: str) -> pd.DataFrame:
    """The ``arch_scores`` view for ``dataset``, one row per architecture, ordered by arch_code."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    engine = connect(path, read_only=True)
    try:
        with engine.connect() as conn:
            duck = conn.connection.driver_connection
            if not duck.execute("SELECT count(*) FROM duckdb_views() "
                                "WHERE view_name = 'arch_scores'").fetchone()[0]:
                raise ValueError(f"{path} has no arch_scores view: not a tfnas database "
                                 "(create one with db.create_schema)")
            frame = duck.execute("SELECT * FROM arch_scores WHERE dataset = ? ORDER BY arch_code",
                                 [dataset]).df()
    finally:
        engine.dispose()
    if frame.empty:
        raise ValueError(f"{path} has no proxy scores for {dataset} yet; run `luigi --module "
                         f"pipeline ScoreAll --dataset {dataset}`")
    return frame
