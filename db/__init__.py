"""The tfnas benchmark database (DuckDB): schema, importers, shard loading, reading back.

- :mod:`db.connection`: opening the file (paths taken literally; one-line errors).
- :mod:`db.schema`: tables and views, defined once (SQLAlchemy Core).
- :mod:`db.benchmark`: NATS-Bench accuracies (official files, a table, or the embedded one).
- :mod:`db.shards`: the shard file contract (task identity + checksum).
- :mod:`db.load`: verified shards into ``proxy_scores``.
- :mod:`db.read`: reading scores back for the reports (plain DuckDB, fast to import).
- :mod:`db.bundle`: the scores shipped with tfnas, into a database (``tfnas db init``).

Typical use::

    with db.writing("tfnas.duckdb") as engine:
        db.create_schema(engine)
        db.import_benchmark(engine)                    # the embedded NATS-Bench table
    scores = db.read_scores("tfnas.duckdb").frames     # dataset -> DataFrame by arch_index

Submodules are imported on first use, so ``import db`` costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "writing": "db.connection", "open_read_only": "db.connection",
    "DatabaseError": "db.connection", "create_schema": "db.schema",
    "import_benchmark": "db.benchmark", "load_shards": "db.load", "read_scores": "db.read",
    "read_arch_scores": "db.read", "init_database": "db.bundle",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'db' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
