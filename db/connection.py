"""Opening the DuckDB file: for writing through SQLAlchemy, for reading with plain DuckDB.

Paths are paths: the file name goes to DuckDB as a string, never through a URL, so ``?``,
``#``, ``%``, spaces and non-ASCII characters are taken literally. One DuckDB quirk remains:
it names the write-ahead log by inserting ``.wal`` before the first ``?`` of the resolved
path, so a database inside a folder whose name holds ``?`` cannot commit in place; writes to
such a database are staged in a temporary copy that replaces the file once they succeed.

DuckDB locks its file per process: a pooled engine would keep the lock after use and a second
process (a Luigi worker, a notebook) could not open the file, even read-only. Engines here use
``NullPool``, so the file is closed as soon as each ``with engine.begin()`` ends.

Every DuckDB failure on open (no such file, not a database, locked by a writer, corrupt) is
turned into :class:`DatabaseError`: one line naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from tfnas.messages import one_line

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine



def init_hint(path: Path) -> str:
    """The commands that create a tfnas database at ``path``, as they would be typed."""
    return (f"create one with `tfnas db init --db {path}` (the scores shipped with tfnas) or "
            f"`luigi --module pipeline ScoreAll --dataset cifar10 --db {path}`")


class DatabaseError(OSError):
    """The database file cannot be used as asked; the message is one line with the fix."""


def explain(path: Path, err: duckdb.Error) -> DatabaseError:
    """A one-line :class:`DatabaseError` for a DuckDB error on the file ``path``."""
    text = str(err)
    if "lock" in text.lower():
        why = ("is locked by another process that is writing it; wait until that process "
               "(e.g. a pipeline loading scores) has finished, then run this again")
    elif "not a valid DuckDB database" in text or "unable to open" in text.lower() \
            or isinstance(err, duckdb.SerializationException):
        why = (f"is not a DuckDB database (or is corrupt); give the tfnas database or "
               f"{init_hint(path)}")
    elif "version" in text.lower() and "storage" in text.lower():
        why = "was written by another DuckDB version; rebuild it with this tfnas"
    else:
        why = f"cannot be read ({one_line(err)})"
    return DatabaseError(f"database {path} {why}")


def open_read_only(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A plain read-only DuckDB connection on ``path`` (no SQLAlchemy: the reports pay no
    import for it); :class:`DatabaseError` when it cannot be opened."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseError(f"no tfnas database at {path}; {init_hint(path)}")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise explain(path, err) from None


def _engine(path: Path) -> Engine:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    # The database goes in connect_args, not in the URL: nothing of the path is parsed.
    return sa.create_engine("duckdb://", poolclass=NullPool,
                            connect_args={"database": str(path), "read_only": False})


def _wal_unsafe(path: Path) -> bool:
    return "?" in str(path.parent.resolve())


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[Engine]:
    """A SQLAlchemy engine that writes the DuckDB file ``path`` (created with its folder).

    Inside a folder whose name holds ``?`` the writes go to a temporary copy that replaces
    ``path`` atomically when the block ends without an error (see the module docstring).
    DuckDB errors on opening become :class:`DatabaseError`.
    """
    import sqlalchemy as sa

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatabaseError(f"cannot create the folder of database {path}: "
                            f"{err.strerror}") from None
    with contextlib.ExitStack() as stack:
        target = path
        if _wal_unsafe(path):
            stage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tfnas-db-")))
            target = stage / "tfnas.duckdb"
            if path.exists():
                shutil.copyfile(path, target)
        engine = _engine(target)
        try:
            try:
                with engine.connect():  # opens the file now: its errors become one line
                    pass
            except sa.exc.DBAPIError as err:
                raise explain(path, err.orig) from None
            yield engine
        finally:
            engine.dispose()
        if target != path:
            partial = path.with_name(path.name + ".tfnas-partial")
            shutil.copyfile(target, partial)
            os.replace(partial, path)


def insert_frame(conn: Connection, table: str, frame: pd.DataFrame,
                 verb: str = "INSERT OR REPLACE") -> None:
    """``verb INTO table`` the rows of ``frame``, in ``conn``'s transaction.

    Columns are matched by name; the table's other columns get NULL.
    The frame is handed to DuckDB directly (a registered view), not row by row. DuckDB 2
    refuses ``register`` while a result of the connection is unfinished, so every read in
    ``db`` consumes its result fully (``.all()``, ``.scalar_one()``).
    """
    columns = ", ".join(frame.columns)
    with registered(conn, f"_frame_for_{table}", frame) as view:
        conn.exec_driver_sql(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM {view}")


@contextlib.contextmanager
def registered(conn: Connection, view: str, frame: pd.DataFrame) -> Iterator[str]:
    """``frame`` readable as the view ``view`` by ``conn``'s SQL inside the block (handed to
    DuckDB directly, not row by row)."""
    duck = conn.connection.driver_connection
    duck.register(view, frame)
    try:
        yield view
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction drops it anyway
            duck.unregister(view)
