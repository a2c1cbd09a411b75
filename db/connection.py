"""Opening the DuckDB file: for writing through SQLAlchemy, for reading with plain DuckDB.

Paths are paths: the file name goes to DuckDB as a string, never through a URL, so ``?``,
``#``, ``%``, spaces and non-ASCII characters are taken literally.

**One writer, all or nothing.** :func:`writing` never changes the database in place. It takes
an exclusive lock on the file (``flock``; a new file is created empty to hold it), checks that
the file is a tfnas database and reads every block of it (a corrupt one is refused before any
work), writes into a copy beside it (in a temporary folder when the folder's name holds ``?``,
where DuckDB cannot name its write-ahead log), and renames the copy over the file when the
block ends without an error. So a second writer meanwhile gets one line and changes nothing,
a reader reads the whole old or the whole new database, and a failure (an exception, a full
disk, kill -9) leaves the old database as it was — or, for a new one, no file (an empty one
after kill -9, which the next ``tfnas db init`` takes as new). Engines use ``NullPool``: each
``with engine.begin()`` opens the copy and closes it again.

**A tfnas database says so.** Its ``tfnas_schema`` table holds the schema version
(:data:`SCHEMA_VERSION`). Writers refuse a DuckDB file without it (another program's database)
unless it is empty; a database an older tfnas wrote (its tables but no marker) is upgraded by
every writer; readers of the reports tell the user to run ``tfnas db init`` on it.

Every DuckDB failure is turned into :class:`DatabaseError`, classified by DuckDB's exception
type and its exact phrase (locked, not a database, corrupt, other DuckDB version, disk full,
read-only): one line naming the file and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import duckdb

from tfnas.errors import UserError
from tfnas.messages import one_line, shorten

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

#: The table that marks a tfnas database, and the version of the schema this tfnas writes.
MARKER = "tfnas_schema"
SCHEMA_VERSION = 1
#: Tables every database a tfnas ever wrote has (how an unmarked older one is recognised).
_TFNAS_TABLES = frozenset({"architectures", "accuracies", "proxy_scores"})

Kind = Literal["tfnas", "older", "newer", "empty", "foreign"]


def init_hint(path: Path) -> str:
    """The commands that create a tfnas database at ``path``, as they would be typed."""
    return (f"create one with `tfnas db init --db {path}` (the scores shipped with tfnas) or "
            f"`luigi --module pipeline ScoreAll --dataset cifar10 --db {path}`")


class DatabaseError(UserError, OSError):
    """The database file cannot be used as asked; the message is one line with the fix."""


class DatabaseLocked(DatabaseError):
    """Another process is writing the database now (it may be free later)."""


# DuckDB's own words for each failure (DuckDB 1.5-2.x), matched whole, never a fragment.
_LOCKED = "Could not set lock on file"
_NOT_DUCKDB = "exists, but it is not a valid DuckDB database file"
_CORRUPT = ("Corrupt database file", "Could not read enough bytes from file")
_VERSION = "Trying to read a database file with version number"
_DISK_FULL = "No space left on device"
_READ_ONLY = ("Read-only file system", "Permission denied")


def classify(path: Path, err: BaseException) -> DatabaseError | None:
    """The one-line :class:`DatabaseError` for a DuckDB (or OS) error on the file ``path``
    that is about the file (locked, not a database, corrupt, other DuckDB version, disk full,
    read-only), recognised by DuckDB's exception type and exact phrase; ``None`` for any other
    error (a mistake in SQL, a constraint: not the file's fault)."""
    text = str(err)
    io = isinstance(err, duckdb.IOException)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC or \
            isinstance(err, duckdb.Error) and _DISK_FULL in text:
        return DatabaseError(f"database {path} could not be written: the disk is full; nothing "
                             "was changed (free some space, then run this again)")
    if isinstance(err, OSError) and err.errno in (errno.EROFS, errno.EACCES, errno.EPERM) \
            or io and any(phrase in text for phrase in _READ_ONLY):
        return DatabaseError(f"database {path} cannot be written here (read-only file system "
                             "or no permission); nothing was changed (give a --db in a folder "
                             "you can write)")
    if io and _LOCKED in text:
        return DatabaseLocked(
            f"database {path} is locked by another process that is writing it; wait until "
            "that process (e.g. a pipeline loading scores) has finished, then run this again")
    if io and _NOT_DUCKDB in text:
        return DatabaseError(f"database {path} is not a DuckDB database; give the tfnas "
                             f"database or {init_hint(path)}")
    if isinstance(err, duckdb.Error) and any(phrase in text for phrase in _CORRUPT):
        return DatabaseError(f"database {path} is corrupt ({one_line(err)}); restore it from a "
                             f"copy, or delete it and run `tfnas db init --db {path}`")
    if isinstance(err, duckdb.Error) and _VERSION in text:
        return DatabaseError(f"database {path} was written by another DuckDB version; rebuild "
                             "it with this tfnas")
    return None


def explain(path: Path, err: BaseException) -> DatabaseError:
    """:func:`classify`, or a one-line "cannot be used (<DuckDB's words>)"."""
    return classify(path, err) or DatabaseError(f"database {path} cannot be used "
                                                f"({one_line(err)})")


_NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                (stat.S_ISBLK, "a device"))


def check_path(path: Path) -> None:
    """One line unless ``path`` is missing or a regular file: a folder, a named pipe (DuckDB
    would wait on it forever), a socket or a device is refused before it is opened."""
    try:
        mode = path.stat().st_mode  # follows a link: what DuckDB would open
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as err:
        raise explain(path, err) from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
        raise DatabaseError(f"{shorten(str(path))} is {kind}, not a database file; give a "
                            "DuckDB file (`tfnas db init --db FILE` creates one)")


def database_kind(conn: duckdb.DuckDBPyConnection) -> Kind:
    """What the open database is: ``tfnas`` (this schema version), ``older`` (a tfnas before
    the marker), ``newer`` (a later schema version), ``empty`` (no table) or ``foreign``."""
    tables = {row[0] for row in conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    if MARKER in tables:
        version = conn.execute(f"SELECT max(version) FROM {MARKER}").fetchone()[0]
        return "newer" if version is not None and version > SCHEMA_VERSION else "tfnas"
    if _TFNAS_TABLES <= tables:
        return "older"
    return "empty" if not tables else "foreign"


def refuse(path: Path, kind: Kind) -> None:
    """One line for a database a tfnas report cannot read as it is (``older``, ``newer``,
    ``empty``, ``foreign``); nothing for ``tfnas``."""
    if kind == "older":
        raise DatabaseError(f"database {path} was written by an older tfnas; run `tfnas db "
                            f"init --db {path}` to upgrade it (its scores are kept)")
    if kind == "newer":
        raise DatabaseError(f"database {path} was written by a newer tfnas (schema version "
                            f"over {SCHEMA_VERSION}); upgrade tfnas to read it")
    if kind in ("empty", "foreign"):
        raise DatabaseError(f"database {path} is not a tfnas database (no {MARKER} table); "
                            f"{init_hint(path)}")


def open_read_only(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """A plain read-only DuckDB connection on ``path`` (no SQLAlchemy: the reports pay no
    import for it), whatever the database holds; :class:`DatabaseError` when it cannot be
    opened."""
    path = Path(path)
    check_path(path)
    if not path.is_file():
        raise DatabaseError(f"no tfnas database at {path}; {init_hint(path)}")
    if path.stat().st_size == 0:
        raise DatabaseError(f"database {path} is an empty file (an interrupted write?); "
                            f"run `tfnas db init --db {path}`")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as err:
        raise explain(path, err) from None


def open_database(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """:func:`open_read_only` on a tfnas database of this schema version; one line for any
    other (an older tfnas's: run ``tfnas db init`` on it)."""
    conn = open_read_only(path)
    try:
        refuse(Path(path), _kind(conn, Path(path)))
    except BaseException:
        conn.close()
        raise
    return conn


def _kind(conn: duckdb.DuckDBPyConnection, path: Path) -> Kind:
    try:
        return database_kind(conn)
    except duckdb.Error as err:
        raise explain(path, err) from None


def verify(path: Path, *, create: bool) -> bool:
    """Check the database a writer is about to change: a regular file, a DuckDB database, a
    tfnas one (or older, or empty — or missing, when ``create``) and every block of every
    table readable. Returns whether the file holds a database to start from (False: new or
    empty). One-line :class:`DatabaseError` otherwise."""
    check_path(path)
    if not path.exists() or path.stat().st_size == 0:
        if create:
            return False
        raise DatabaseError(f"no tfnas database at {path}; {init_hint(path)}")
    if Path(f"{path}.wal").exists():  # changes not yet in the file: fold them in first
        try:
            duckdb.connect(str(path)).close()  # closing checkpoints the write-ahead log
        except duckdb.Error as err:
            raise explain(path, err) from None
    conn = open_read_only(path)
    try:
        kind = _kind(conn, path)
        if kind == "newer" or kind == "foreign" or (kind == "empty" and not create):
            raise DatabaseError(
                f"database {path} is not a tfnas database (its tables are another program's); "
                "tfnas writes only its own databases: give another --db" if kind == "foreign"
                else f"database {path} holds no tfnas tables; {init_hint(path)}"
                if kind == "empty" else
                f"database {path} was written by a newer tfnas; upgrade tfnas to write it")
        tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()]
        for table in tables:  # reads every block: DuckDB checks each block's checksum
            conn.execute(f'SELECT bit_xor(hash(COLUMNS(*))) FROM "{table}"').fetchall()
    except duckdb.Error as err:
        raise explain(path, err) from None
    finally:
        conn.close()
    return kind != "empty"


def _engine(path: Path) -> Engine:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    # The database goes in connect_args, not in the URL: nothing of the path is parsed.
    # No rollback on return: the connection is closed at once (which rolls back), and after a
    # fatal DuckDB error (a full disk) a rollback would only log a second traceback.
    return sa.create_engine("duckdb://", poolclass=NullPool, pool_reset_on_return=None,
                            connect_args={"database": str(path), "read_only": False})


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` inside the block (created empty when missing);
    yields whether this call created it. One line when another process holds it."""
    created = False
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        created = True
    except FileExistsError:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise explain(path, err) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseLocked(f"database {path} is being written by another tfnas process; "
                                 "wait until it has finished, then run this again") from None
        if os.fstat(fd).st_ino != path.stat().st_ino:  # replaced while we waited to lock it
            raise DatabaseError(f"database {path} was just rewritten by another tfnas "
                                "process; run this again")
        yield created
    except BaseException:
        if created and path.exists() and path.stat().st_size == 0:
            path.unlink()
        raise
    finally:
        os.close(fd)


def _stage_prefix(path: Path) -> tuple[Path, str]:
    """Where the copy being written goes: beside the database (same file system), or in the
    system's temporary folder when the database's folder name holds ``?`` (DuckDB names its
    write-ahead log by inserting ``.wal`` before the first ``?`` of the path); and the name
    prefix of such stages, free of ``?`` and glob characters."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    unsafe = "?" in str(path.parent.resolve())
    return (Path(tempfile.gettempdir()) if unsafe else path.parent), f".tfnas-write-{key}-"


def _stage_folder(path: Path) -> Path:
    """A fresh folder for the copy being written (:func:`_stage_prefix`). Called with the lock
    held: what an interrupted writer of the same database left behind is removed first."""
    parent, prefix = _stage_prefix(path)
    for folder in {parent, path.parent}:
        for stale in folder.glob(f"{prefix}*"):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(path: str | os.PathLike, *, create: bool = True) -> Iterator[Engine]:
    """A SQLAlchemy engine that writes the tfnas database ``path``, all or nothing (see the
    module docstring): the file is locked and verified first (:func:`verify`; a missing or
    empty file only when ``create``), the writes go to a copy that replaces ``path`` when the
    block ends without an error. DuckDB and OS errors become :class:`DatabaseError`."""
    import sqlalchemy as sa

    path = Path(path)
    check_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatabaseError(f"cannot create the folder of database {path}: "
                            f"{err.strerror}") from None
    with _exclusive(path), contextlib.ExitStack() as stack:
        existing = verify(path, create=create)
        try:
            stage = _stage_folder(path)
        except OSError as err:
            raise explain(path, err) from None
        stack.callback(shutil.rmtree, stage, ignore_errors=True)
        copy = stage / "tfnas.duckdb"
        try:
            if existing:
                shutil.copyfile(path, copy)
            engine = _engine(copy)
            try:
                with engine.connect():  # opens the copy now: its errors become one line
                    pass
                yield engine
            finally:
                engine.dispose()
            duckdb.connect(str(copy)).close()  # any write-ahead log folded into the copy
            _fsync(copy)
            if stage.parent != path.parent:  # staged in the temporary folder
                partial = path.with_name(f"{_stage_prefix(path)[1]}partial")
                shutil.copyfile(copy, partial)
                _fsync(partial)
                copy = partial
            os.replace(copy, path)
        except (sa.exc.DBAPIError, duckdb.Error, OSError) as err:
            if isinstance(err, DatabaseError):
                raise
            known = classify(path, getattr(err, "orig", err))
            if known is None:  # not the file's fault: a bug keeps its traceback
                raise
            raise known from None


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
