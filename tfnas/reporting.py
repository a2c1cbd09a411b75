"""Input and output of the reports (tables, correlations, figures): reading the database and
writing CSV files. The science lives in :mod:`tfnas.tables`, :mod:`tfnas.correlations` and
:mod:`tfnas.plots`, which take and return DataFrames.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from tfnas.datasets import DATASETS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Every seed's score of the default configuration (batch 128, no augmentation) for the
#: (dataset, proxy) pairs scored with two or more seeds; among rows with other data
#: fingerprints the latest wins, as in the arch_scores view.
SEED_SCORES_SQL = """
WITH several_seeds AS (
    SELECT dataset, proxy FROM proxy_scores
    WHERE batch_size = 128 AND NOT augment
    GROUP BY dataset, proxy HAVING count(DISTINCT seed) > 1
)
SELECT dataset, proxy, seed, arch_code, score
FROM proxy_scores JOIN several_seeds USING (dataset, proxy)
WHERE batch_size = 128 AND NOT augment
QUALIFY row_number() OVER (PARTITION BY dataset, proxy, seed, arch_code
                           ORDER BY created_at DESC, data_fingerprint) = 1
ORDER BY dataset, proxy, seed, arch_code
"""


@contextmanager
def read_only(path: str | os.PathLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain read-only DuckDB connection on the tfnas database ``path`` (the reports read
    with SQL alone: no SQLAlchemy engine, whose import alone costs a third of a second).
    Same one-line errors as ``db.read_arch_scores`` for a missing file or a foreign database."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no tfnas database at {path}; build it first (db.create_schema, "
                                "db.import_benchmark, db.load_shards)")
    conn = duckdb.connect(str(path), read_only=True)
    try:
        if not conn.execute("SELECT count(*) FROM duckdb_views() "
                            "WHERE view_name = 'arch_scores'").fetchone()[0]:
            raise ValueError(f"{path} has no arch_scores view: not a tfnas database "
                             "(create one with db.create_schema)")
        yield conn
    finally:
        conn.close()


def load_scores(path: str | os.PathLike) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each scored dataset's rows of the ``arch_scores`` view ordered by arch_code (as
    ``db.read_arch_scores`` reads them, over one connection), and a note per dataset left out.

    Raises a one-line error when no dataset has scores (or ``path`` is missing or not a tfnas
    database).
    """
    with read_only(path) as conn:
        frames = {dataset: conn.execute("SELECT * FROM arch_scores WHERE dataset = ? "
                                        "ORDER BY arch_code", [dataset]).df()
                  for dataset in DATASETS}
    scores = {dataset: frame for dataset, frame in frames.items() if not frame.empty}
    errors = {dataset: f"{path} has no proxy scores for {dataset} yet; run `luigi --module "
                       f"pipeline ScoreAll --dataset {dataset}`"
              for dataset in DATASETS if dataset not in scores}
    if not scores:
        raise ValueError(next(iter(errors.values())))
    return scores, [f"skipped {dataset}: {error}" for dataset, error in errors.items()]


def load_seed_scores(path: str | os.PathLike) -> pd.DataFrame:
    """Long frame (dataset, proxy, seed, arch_code, score) of :data:`SEED_SCORES_SQL`."""
    with read_only(path) as conn:
        return conn.execute(SEED_SCORES_SQL).df()


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``frame`` to ``path`` atomically (a partial file is never left under the name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    frame.to_csv(partial, index=False)
    os.replace(partial, path)
    return path


def save_figure(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``figure`` as PNG at ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    figure.savefig(partial, format="png", dpi=dpi)
    os.replace(partial, path)
    return path
