"""``tfnas sql``: run a ``.sql`` file (or text) against the database through the DuckDB that
tfnas itself uses, read-only.

Statements are split with DuckDB's own parser and run in order; each query (SELECT, SHOW,
DESCRIBE, PRAGMA, EXPLAIN …) has its rows printed (DuckDB's own compact table, or CSV);
statements that only change the session (``SET VARIABLE topk = 20``) print nothing. This is
the same engine that wrote the file, so no separate DuckDB CLI (whose storage version must
match) is needed.
Errors are one line naming the file, the statement and DuckDB's message.

Read-only means for everything, so that a shared ``.sql`` file cannot change any data. The
database is opened with DuckDB's own switches (:data:`LOCKED_DOWN`), not a list of refused
statement words:

* ``read_only`` — nothing in the database changes (INSERT, DELETE, CREATE TABLE …; also no
  in-memory database can be attached, as DuckDB opens it read-only too);
* ``enable_external_access = false`` — no file but the database itself, and no URL, is opened:
  no ``COPY … TO``, ``EXPORT``/``IMPORT DATABASE``, ``ATTACH`` of another database (read-only or
  not), ``INSTALL`` or ``LOAD`` of an extension, no secrets. **Reading files is refused too**
  (``read_csv``, ``read_parquet``, ``FROM 'x.csv'``, ``glob``): DuckDB's only way to allow some
  (``allowed_directories``/``allowed_paths``) allows writing there as well, so no file is
  allowed. Load a file into a database of your own with DuckDB to query it;
* ``autoinstall_known_extensions``/``autoload_known_extensions = false`` — a function of an
  extension that is not built in (``read_xlsx``, ``st_point``) is an error instead of a
  download; ``allow_community_extensions``/``allow_unsigned_extensions = false`` too;
* ``temp_directory = ''`` — no spill files: a query needing more memory than DuckDB's limit
  fails instead of writing ``<database>.tmp``;
* ``lock_configuration = true`` — no setting can be changed (``SET threads``, ``SET
  enable_external_access``, ``RESET``, ``PRAGMA threads``), so the statements cannot undo the
  above. Session state that changes no file still works: ``SET VARIABLE``/``getvariable``
  (the shipped queries use it), ``SET schema``/``search_path``, ``TEMP`` tables, views and
  macros, in memory only.

A statement these refuse is a one-line :class:`~db.connection.DatabaseError` saying that
``tfnas sql is read-only`` and why (DuckDB's message).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TextIO

import duckdb

from db.connection import DatabaseError, explain, open_read_only
from tfnas.errors import MissingFileError, UserError
from tfnas.messages import one_line

#: Rows a result prints at most as a table (DuckDB's own rendering, as its CLI does: the
#: first and last rows around a '·' row beyond it); --csv prints every row.
MAX_ROWS = 10_000
_QUERIES = {duckdb.StatementType.SELECT, duckdb.StatementType.PRAGMA,
            duckdb.StatementType.EXPLAIN}

#: the DuckDB configuration of ``tfnas sql`` (with ``read_only=True``); see the module text.
#: ``lock_configuration`` comes last, although DuckDB applies all of them before locking.
LOCKED_DOWN = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "temp_directory": "",
    "lock_configuration": True,
}

_READ_ONLY = "tfnas sql is read-only"


def read_sql(path: Path) -> str:
    """The text of a .sql file; one-line errors for a missing or non-text file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        from tfnas.queries import names

        raise MissingFileError(f"no SQL file {path}; the shipped queries run by name: "
                               f"{', '.join(names())} (e.g. `tfnas sql topk`)") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a UTF-8 text file of SQL statements") from None
    except OSError as err:
        raise OSError(f"cannot read {path}: {err.strerror}") from None


def open_locked(database: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """``database`` opened read-only with :data:`LOCKED_DOWN`; :class:`DatabaseError` when it
    cannot be opened."""
    path = Path(database)
    # the checks and one-line messages of every reader (missing, empty, a folder, not a
    # database, locked by a writer); DuckDB keeps one instance per file and process, so that
    # plain connection is closed before the locked one opens the file afresh
    open_read_only(path).close()
    try:
        return duckdb.connect(str(path), read_only=True, config=dict(LOCKED_DOWN))
    except duckdb.ConnectionException as err:
        if "different configuration" not in str(err):
            raise explain(path, err) from None
        raise DatabaseError(f"database {path} is open elsewhere in this process; tfnas sql "
                            "opens it with its own read-only settings, so close the other "
                            "connection first") from None
    except duckdb.Error as err:
        raise explain(path, err) from None


def refusal(err: duckdb.Error) -> str:
    """DuckDB's message for ``err``, led by why ``tfnas sql`` refused the statement when one of
    :data:`LOCKED_DOWN` (or ``read_only``) did."""
    text = str(err)
    if isinstance(err, duckdb.PermissionException):
        why = (f"{_READ_ONLY} and opens no file but the database (no COPY TO, EXPORT, ATTACH, "
               "INSTALL, LOAD, nor reading files)")
    elif "configuration has been locked" in text:
        why = f"{_READ_ONLY} and changes no setting (SET VARIABLE works)"
    elif "read-only mode" in text:
        why = f"{_READ_ONLY} and changes no database"
    elif isinstance(err, duckdb.CatalogException) and "extension" in text:
        why = f"{_READ_ONLY} and installs or loads no extension but those built in"
    elif isinstance(err, duckdb.OutOfMemoryException):
        why = ("the statement needs more memory than DuckDB may use (tfnas sql writes no "
               "spill files)")
    else:
        return one_line(err)
    return f"{why}: {one_line(err)}"


def run_sql(database: str | os.PathLike, file: str | os.PathLike, text: str | None = None,
            csv: bool = False, out: TextIO | None = None) -> int:
    """Run every statement of ``file`` (or of ``text``, named ``file``) against ``database``
    read-only (see the module text: nothing anywhere is written, attached, installed or
    loaded, no setting changes), printing each result to ``out``; return the number of
    statements run."""
    import sys

    import pandas  # noqa: F401 -- DuckDB's .df() (--csv) needs it

    out = out or sys.stdout
    file = Path(file)
    source = read_sql(file) if text is None else text
    try:
        statements = duckdb.extract_statements(source)
    except duckdb.Error as err:
        raise UserError(f"{file}: {one_line(err)}") from None
    if not statements:
        raise UserError(f"{file} holds no SQL statement")
    width = shutil.get_terminal_size((120, 24)).columns
    conn = open_locked(database)
    try:
        for number, statement in enumerate(statements, start=1):
            try:
                if statement.type not in _QUERIES:
                    conn.execute(statement)
                    continue
                relation = conn.sql(statement.query)
                if relation is None:  # (a PRAGMA that returns nothing)
                    continue
                if csv:
                    relation.df().to_csv(out, index=False)
                    continue
                with contextlib.redirect_stdout(out):
                    relation.show(max_rows=MAX_ROWS, max_width=width)
            except duckdb.Error as err:  # the file opened: whatever fails is the statement's
                raise DatabaseError(f"{file}, statement {number} of {len(statements)}: "
                                    f"{refusal(err)}") from None
    finally:
        conn.close()
    return len(statements)
