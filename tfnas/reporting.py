"""Input and output of the reports (tables, correlations, figures): reading the database and
writing CSV files. The science lives in :mod:`tfnas.tables`, :mod:`tfnas.correlations` and
:mod:`tfnas.plots`, which take and return DataFrames.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

import db
from tfnas.datasets import DATASETS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Every seed's score of the default configuration (batch 128, no augmentation) for the
#: (dataset, proxy) pairs scored with two or more seeds; among rows with other data
#: fingerprints the latest wins, as in the arch_scores view.
SEED_SCORES_SQL = """
WITH default_config AS (
    SELECT dataset, proxy, seed, arch_code, score
    FROM proxy_scores
    WHERE batch_size = 128 AND NOT augment
    QUALIFY row_number() OVER (PARTITION BY dataset, proxy, seed, arch_code
                               ORDER BY created_at DESC, data_fingerprint) = 1
)
SELECT * FROM default_config
WHERE (dataset, proxy) IN (SELECT (dataset, proxy) FROM default_config
                           GROUP BY dataset, proxy HAVING count(DISTINCT seed) > 1)
ORDER BY dataset, proxy, seed, arch_code
"""


def load_scores(path: str | os.PathLike) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each scored dataset's rows of the ``arch_scores`` view, and a note per dataset left out.

    Raises the database's one-line error when no dataset has scores (or ``path`` is missing
    or not a tfnas database).
    """
    scores, errors = {}, []
    for dataset in DATASETS:
        try:
            scores[dataset] = db.read_arch_scores(path, dataset)
        except ValueError as err:
            errors.append((dataset, err))
    if not scores:
        raise errors[0][1]
    return scores, [f"skipped {dataset}: {err}" for dataset, err in errors]


def load_seed_scores(path: str | os.PathLike) -> pd.DataFrame:
    """Long frame (dataset, proxy, seed, arch_code, score) of :data:`SEED_SCORES_SQL`."""
    engine = db.connect(path, read_only=True)
    try:
        with engine.connect() as conn:
            return conn.connection.driver_connection.execute(SEED_SCORES_SQL).df()
    finally:
        engine.dispose()


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
