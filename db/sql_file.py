"""``tfnas sql``: run a ``.sql`` file (or text) against the database through the DuckDB that
tfnas itself uses, read-only.

Statements are split with DuckDB's own parser and run in order; each query (SELECT, SHOW,
DESCRIBE, PRAGMA, EXPLAIN …) has its rows printed (a table, or CSV); statements that only
change the session (``SET VARIABLE topk = 20``) print nothing. This is the same engine that
wrote the file, so no separate DuckDB CLI (whose storage version must match) is needed.
Errors are one line naming the file, the statement and DuckDB's message.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

import duckdb

from db.connection import DatabaseError, explain, open_read_only
from tfnas.messages import one_line

_QUERIES = {duckdb.StatementType.SELECT, duckdb.StatementType.PRAGMA,
            duckdb.StatementType.EXPLAIN}


def read_sql(path: Path) -> str:
    """The text of a .sql file; one-line errors for a missing or non-text file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no SQL file {path}; the ready-made queries are in queries/"
                                ) from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file of SQL statements") from None
    except OSError as err:
        raise OSError(f"cannot read {path}: {err.strerror}") from None


def run_sql(database: str | os.PathLike, file: str | os.PathLike, text: str | None = None,
            csv: bool = False, out: TextIO | None = None) -> int:
    """Run every statement of ``file`` (or of ``text``, named ``file``) against ``database``
    read-only, printing each result to ``out``; return the number of statements run."""
    import sys

    import pandas as pd

    out = out or sys.stdout
    file = Path(file)
    source = read_sql(file) if text is None else text
    try:
        statements = duckdb.extract_statements(source)
    except duckdb.Error as err:
        raise ValueError(f"{file}: {one_line(err)}") from None
    if not statements:
        raise ValueError(f"{file} holds no SQL statement")
    conn = open_read_only(database)
    try:
        for number, statement in enumerate(statements, start=1):
            try:
                result = conn.execute(statement)
                shows = statement.type in _QUERIES and conn.description is not None
                frame = result.df() if shows else None
            except duckdb.IOException as err:
                raise explain(Path(database), err) from None
            except duckdb.Error as err:
                raise DatabaseError(f"{file}, statement {number} of {len(statements)}: "
                                    f"{one_line(err)}") from None
            if frame is None:
                continue
            if csv:
                frame.to_csv(out, index=False)
            else:
                with pd.option_context("display.max_rows", None, "display.max_columns", None,
                                       "display.width", 200, "display.max_colwidth", 120):
                    print(frame.to_string(index=False), file=out)
                print(file=out)
    finally:
        conn.close()
    return len(statements)
