"""Loading the pipeline's shard files into ``proxy_scores``.

Workers never write the database (DuckDB has one writer): each writes shard files
(:mod:`db.shards`), and :func:`load_shards` loads them in one transaction. Every file is
verified first — readable, its checksum, its rows exactly its task's, and the task the caller
expects — and nothing is loaded if any file fails. Loading is idempotent and order-independent:
a row whose key (arch, dataset, proxy, seed, batch size, data fingerprint, augment) is already
stored is kept or replaced by whichever of the two has the later ``created_at``. The proxies'
metadata (what each number is) is written beside them, so the database describes itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db.schema import ensure_schema, proxy_scores, register_proxies
from db.shards import SHARD_SCHEMA, ShardError, ShardTask, read_shard

KEY = [c.name for c in proxy_scores.primary_key.columns]
_VALUES = [name for name in SHARD_SCHEMA.names if name not in KEY]


def load_shards(engine: Engine, shards: Sequence[str | os.PathLike] |
                Mapping[str | os.PathLike, ShardTask | None],
                proxies: Sequence[dict] = (), published: Sequence[dict] = ()) -> int:
    """Load shard files into ``proxy_scores`` in one transaction; return the new rows.

    ``shards``: paths, or path → the :class:`~db.shards.ShardTask` the file must hold.
    ``proxies`` / ``published``: rows of the ``proxies`` and ``published`` tables (from
    :meth:`tfnas.proxies.Proxy.metadata`); every proxy in the shards must be described, here
    or by an earlier load. Raises :class:`~db.shards.ShardError` naming a bad file.
    """
    expected = dict(shards) if isinstance(shards, Mapping) else dict.fromkeys(shards)
    try:
        tables = [read_shard(path, task) for path, task in expected.items()]
    except ShardError as err:
        raise ShardError(f"{err}; nothing was loaded: delete the file and re-run the task that "
                         "wrote it") from None
    if not tables:
        return 0
    rows = pa.concat_tables(tables)
    described = {row["proxy"] for row in proxies}
    update = ", ".join(f"{name} = excluded.{name}" for name in _VALUES)
    with engine.begin() as conn:
        ensure_schema(conn)
        register_proxies(conn, list(proxies), list(published))
        known = {r[0] for r in conn.exec_driver_sql("SELECT proxy FROM proxies").all()}
        unknown = sorted(set(rows.column("proxy").to_pylist()) - known - described)
        if unknown:
            raise ShardError(f"shards hold scores of {', '.join(unknown)}, which the database "
                             "does not describe; pass their metadata (tfnas.proxies registry)")
        duck = conn.connection.driver_connection
        duck.register("_shard_rows", rows)
        try:
            count = sa.select(sa.func.count()).select_from(proxy_scores)
            before = conn.execute(count).scalar_one()
            conn.exec_driver_sql(
                f"INSERT INTO proxy_scores BY NAME SELECT * FROM ("
                f"  SELECT * FROM _shard_rows"
                f"  QUALIFY row_number() OVER (PARTITION BY {', '.join(KEY)}"
                f"                             ORDER BY created_at DESC) = 1) "
                f"ON CONFLICT DO UPDATE SET {update} "
                f"WHERE excluded.created_at > proxy_scores.created_at")
            return conn.execute(count).scalar_one() - before
        finally:
            duck.unregister("_shard_rows")


def stored_rows(path: str | os.PathLike, tasks: Sequence[ShardTask]) -> int:
    """How many of the rows of ``tasks`` the database at ``path`` holds (0 when the file is
    missing or unreadable): a run is loaded only when this equals its row count."""
    import duckdb

    from db.connection import DatabaseError, open_read_only

    wanted = [(task.dataset, code, proxy, task.seed, task.batch_size, task.data_fingerprint,
               task.augment) for task in tasks for code in task.arch_codes
              for proxy in task.proxies]
    if not wanted or not Path(path).is_file():
        return 0
    try:
        conn = open_read_only(path)
    except DatabaseError:
        return 0
    try:
        columns = ["dataset", "arch_code", "proxy", "seed", "batch_size", "data_fingerprint",
                   "augment"]
        frame = pa.table(dict(zip(columns, map(list, zip(*wanted, strict=True)), strict=True)))
        conn.register("_wanted", frame)
        return conn.execute(
            f"SELECT count(*) FROM proxy_scores JOIN _wanted USING ({', '.join(columns)})"
        ).fetchone()[0]
    except duckdb.Error:  # not a tfnas database (e.g. empty): nothing of the run is stored
        return 0
    finally:
        conn.close()
