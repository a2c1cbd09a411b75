"""Opening the DuckDB file through SQLAlchemy, and bulk-inserting DataFrames.

DuckDB locks its file per process: a pooled engine would keep the lock after use and a
second process (a Luigi worker, a notebook) could not open the file, even read-only. Engines
here use ``NullPool``, so the file is closed as soon as each ``with engine.begin()`` ends.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool


def connect(path: str | os.PathLike, read_only: bool = False) -> Engine:
    """SQLAlchemy engine on the DuckDB file ``path`` (created on first write unless read-only)."""
    path = Path(path)
    if read_only and not path.is_file():
        raise FileNotFoundError(f"no tfnas database at {path}; build it first (db.create_schema, "
                                "db.import_benchmark, db.load_shards)")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(f"duckdb:///{path}", poolclass=NullPool,
                            connect_args={"read_only": read_only})


def insert_frame(conn: Connection, table: str, frame: pd.DataFrame,
                 verb: str = "INSERT OR REPLACE") -> None:
    """``verb INTO table`` the rows of ``frame``, in ``conn``'s transaction.

    Columns are matched by name; the table's other columns get NULL.
    The frame is handed to DuckDB directly (a registered view), not row by row. DuckDB 2
    refuses ``register`` while a result of the connection is unfinished, so every read in
    ``db`` consumes its result fully (``.all()``, ``.scalar_one()``).
    """
    duck = conn.connection.driver_connection
    view = f"_frame_for_{table}"
    columns = ", ".join(frame.columns)
    duck.register(view, frame)
    try:
        conn.exec_driver_sql(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM {view}")
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction drops it anyway
            duck.unregister(view)
