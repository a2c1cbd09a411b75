"""The SQL of the views and of reading one scoring configuration, as text (no SQLAlchemy):
shared by :mod:`db.schema` (which creates the views) and :mod:`db.read` (the reports)."""

from __future__ import annotations

from collections.abc import Sequence

from tfnas.config import ACCURACY_COLUMNS, DEFAULT, IMPORTED_SEPARATOR, NO_DATA, ScoringConfig
from tfnas.ensembles import METHODS

HIGHER_IS_BETTER = ("higher is better for every proxy (what each number is: the proxies "
                    "table); -inf allowed, never NaN")


def quote(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


ACCURACY_VIEW_SQL = """
CREATE OR REPLACE VIEW arch_accuracies AS
WITH runs AS (
    SELECT *, training_run = dataset AS test_run,
        training_run = CASE dataset WHEN 'cifar10' THEN 'cifar10-valid' ELSE dataset END
            AS valid_run
    FROM accuracies
)
SELECT dataset, arch_code,
    any_value(accuracy_pct) FILTER (test_run AND split = 'test' AND epochs = 12)
        AS test_acc_12ep,
    any_value(accuracy_pct) FILTER (test_run AND split = 'test' AND epochs = 200)
        AS test_acc_200ep,
    any_value(accuracy_pct) FILTER (valid_run AND split = 'valid' AND epochs = 12)
        AS valid_acc_12ep,
    any_value(accuracy_pct) FILTER (valid_run AND split = 'valid' AND epochs = 200)
        AS valid_acc_200ep
FROM runs
GROUP BY dataset, arch_code
"""

SCORES_VIEW_SQL = """
CREATE OR REPLACE VIEW scores AS
SELECT p.dataset, p.arch_code, a.arch_index, a.arch_str, a.iso_class, p.proxy, p.seed,
    p.batch_size, p.augment, p.data_fingerprint, p.score, p.seconds, p.created_at,
    acc.test_acc_12ep, acc.test_acc_200ep, acc.valid_acc_12ep, acc.valid_acc_200ep
FROM proxy_scores p
JOIN architectures a USING (arch_code)
LEFT JOIN arch_accuracies acc USING (dataset, arch_code)
"""

def _chosen_images(config: ScoringConfig) -> tuple[str, str]:
    """(WHERE clause of the configuration, WITH clause ``images``: the (dataset, proxy,
    data_fingerprint) read) — per (dataset, proxy) ONE set of images: ``config.fingerprint``
    if given (data-free proxies, stored under ``none``, are read beside it), else the
    fingerprint covering the most architectures (ties: the latest scored). Rows imported from
    another source (fingerprint ``<source>:<digest>``, :data:`IMPORTED_SEPARATOR`;
    :mod:`db.suite_zero`) are read only when their fingerprint is given, and then alone."""
    where = (f"seed = {config.seed} AND batch_size = {config.batch_size} "
             f"AND augment = {config.augment}")
    if not config.fingerprint:  # imported rows (<source>:<digest>) only when asked for
        where += f" AND NOT contains(data_fingerprint, {quote(IMPORTED_SEPARATOR)})"
    imported = IMPORTED_SEPARATOR in (config.fingerprint or "")
    given = ("" if not config.fingerprint else  # an import holds its data-free proxies itself
             f"WHERE data_fingerprint = {quote(config.fingerprint)}\n    " if imported else
             f"WHERE data_fingerprint IN ({quote(config.fingerprint)}, {quote(NO_DATA)})\n    ")
    first = (f"data_fingerprint = {quote(config.fingerprint)} DESC, " if config.fingerprint
             else "")
    chosen = (f"{given}QUALIFY row_number() OVER (PARTITION BY dataset, proxy "
              f"ORDER BY {first}n DESC, latest DESC, data_fingerprint) = 1")
    return where, f"""
WITH coverage AS (
    SELECT dataset, proxy, data_fingerprint, count(*) AS n, max(created_at) AS latest
    FROM proxy_scores
    WHERE {where}
    GROUP BY dataset, proxy, data_fingerprint
), images AS (
    SELECT dataset, proxy, data_fingerprint FROM coverage
    {chosen}
)"""


#: Each ensemble method (:data:`tfnas.ensembles.METHODS`) as an aggregate over its members'
#: normalised mid-ranks ``r`` (in (0, 1]; see :mod:`tfnas.ensembles`).
METHOD_SQL: dict[str, str] = {"log_rank_sum": "sum(ln(r))", "mean_rank": "avg(r)"}
assert METHOD_SQL.keys() == METHODS.keys(), "an ensemble method without its SQL"


def _chosen_rows(config: ScoringConfig, ensembles: Sequence[str] | None = None) -> str:
    """WITH clause ending in ``config_rows``: ``chosen`` = the stored rows of ``config`` (one
    set of images per (dataset, proxy)) plus rank ensembles computed from them over the
    architectures all their members scored (:mod:`tfnas.ensembles`): every ensemble of the
    ``ensembles`` table (``None``) or only those named (``()``: none, e.g. for a database
    written before that table)."""
    where, images = _chosen_images(config)
    chosen = f"""{images}, chosen AS (
    SELECT dataset, proxy, arch_code, data_fingerprint, score, seconds, created_at
    FROM proxy_scores JOIN images USING (dataset, proxy, data_fingerprint)
    WHERE {where}"""
    if ensembles is not None and not ensembles:
        return chosen + "\n), config_rows AS (SELECT * FROM chosen)"
    named = "" if ensembles is None else (
        f"\n    WHERE name IN ({', '.join(quote(name) for name in ensembles)})")
    score = " ".join(f"WHEN {quote(method)} THEN {sql}" for method, sql in METHOD_SQL.items())
    return chosen + f"""
), ensemble_members AS (
    SELECT name, method, unnest(string_split(members, ',')) AS proxy,
        len(string_split(members, ',')) AS k
    FROM ensembles{named}
), member_rows AS (
    SELECT m.name, m.method, c.dataset, c.proxy, c.arch_code, c.score, c.seconds, c.created_at
    FROM ensemble_members m JOIN chosen c USING (proxy)
    QUALIFY count(*) OVER (PARTITION BY m.name, c.dataset, c.arch_code) = m.k
), member_ranks AS (
    SELECT name, method, dataset, arch_code, seconds, created_at,
        (rank() OVER (PARTITION BY name, dataset, proxy ORDER BY score)
         + (count(*) OVER (PARTITION BY name, dataset, proxy, score) - 1) / 2)
        / count(*) OVER (PARTITION BY name, dataset, proxy) AS r
    FROM member_rows
), ensemble_rows AS (
    SELECT dataset, name AS proxy, arch_code, 'ensemble' AS data_fingerprint,
        CASE any_value(method) {score} END AS score,
        sum(seconds) AS seconds, max(created_at) AS created_at
    FROM member_ranks
    GROUP BY name, dataset, arch_code
), config_rows AS (
    SELECT * FROM chosen UNION ALL BY NAME SELECT * FROM ensemble_rows
)"""


def configuration_sql(config: ScoringConfig, ensembles: Sequence[str] | None = None) -> str:
    """SELECT of the ``scores`` view's columns for one configuration, one set of images per
    (dataset, proxy) (:func:`_chosen_images`): no proxy mixes images across architectures.
    Ensembles are rows too (``data_fingerprint`` 'ensemble'; :mod:`tfnas.ensembles`)."""
    return f"""{_chosen_rows(config, ensembles)}
SELECT r.dataset, r.arch_code, a.arch_index, a.arch_str, a.iso_class, r.proxy,
    {config.seed}::BIGINT AS seed, {config.batch_size}::BIGINT AS batch_size,
    {config.augment} AS augment, r.data_fingerprint, r.score, r.seconds, r.created_at,
    acc.test_acc_12ep, acc.test_acc_200ep, acc.valid_acc_12ep, acc.valid_acc_200ep
FROM config_rows r
JOIN architectures a USING (arch_code)
LEFT JOIN arch_accuracies acc USING (dataset, arch_code)
"""


def configuration_rows_sql(config: ScoringConfig, ensembles: Sequence[str] | None = None
                           ) -> str:
    """The same rows as :func:`configuration_sql`, narrow and fast: (dataset, proxy,
    arch_code, score, seconds)."""
    return f"""{_chosen_rows(config, ensembles)}
SELECT dataset, proxy, arch_code, score, seconds FROM config_rows
"""


DEFAULT_SCORES_SQL = ("CREATE OR REPLACE VIEW default_scores AS\n"
                      + configuration_sql(DEFAULT))

VIEW_COMMENTS: dict[str, str] = {
    "arch_accuracies": "NATS-Bench accuracies of each (dataset, arch) side by side: test from "
                       "run = dataset (CIFAR-10: run cifar10, trained on train+valid), valid "
                       "from cifar10-valid for CIFAR-10 and from run = dataset otherwise",
    "scores": "every stored score, every configuration, beside the accuracies (long: one row "
              "per arch, dataset, proxy and configuration; stored proxies only, no ensembles); "
              + HIGHER_IS_BETTER,
    "default_scores": f"the scores of the default configuration ({DEFAULT.describe()}); per "
                      "(dataset, proxy) one set of images, the one covering the most "
                      "architectures (ties: the latest); long; with the rank ensembles of the "
                      "ensembles table computed from those rows (data_fingerprint 'ensemble')",
}
#: Comments of the views' columns (besides the accuracies and arch_scores' proxy columns).
VIEW_COLUMN_COMMENTS: dict[str, str] = {
    "dataset": "cifar10, cifar100 or ImageNet16-120",
    "arch_code": "tfnas architecture id (architectures.arch_code)",
    "arch_index": "NATS-Bench index; NULL until a benchmark is imported",
    "arch_str": "NATS-Bench architecture string",
    "iso_class": "class of isomorphic cells (architectures.iso_class)",
    "proxy": "proxy name (proxies.proxy) or rank ensemble name (ensembles.name)",
    "seed": "seed of the weights and of the image batch",
    "batch_size": "images in the proxy batch",
    "augment": "whether the batch was drawn with training augmentation",
    "data_fingerprint": "short sha256 of the images read ('none': no images; 'ensemble': a rank "
                        "ensemble of stored rows)",
    "score": HIGHER_IS_BETTER,
    "seconds": "wall seconds the proxy took for this arch",
    "created_at": "when the score was computed (UTC)",
}
ACCURACY_COMMENTS: dict[str, str] = {
    "test_acc_12ep": "NATS-Bench test accuracy (%) after 12 epochs; CIFAR-10 from run cifar10 "
                     "(trained on train+valid); NULL where unknown",
    "test_acc_200ep": "NATS-Bench test accuracy (%) after 200 epochs; CIFAR-10 from run cifar10 "
                      "(trained on train+valid); NULL where unknown",
    "valid_acc_12ep": "NATS-Bench validation accuracy (%) after 12 epochs; CIFAR-10 from run "
                      "cifar10-valid (trained on train only); NULL where unknown",
    "valid_acc_200ep": "NATS-Bench validation accuracy (%) after 200 epochs; CIFAR-10 from run "
                       "cifar10-valid (trained on train only); NULL where unknown",
}


# --- names of proxies and rank ensembles: never a column name twice -------------------------

#: The columns of a wide table (``arch_scores``; :func:`db.read.read_scores`) before the
#: proxies' (the accuracies, :data:`ACCURACY_COLUMNS`, come after them).
ARCH_COLUMNS: tuple[str, ...] = ("dataset", "arch_code", "arch_index", "arch_str", "iso_class")
#: A wide table has, per proxy or rank ensemble ``name``, a column ``name`` (its score) and
#: ``name`` + each of these.
SUFFIXES: tuple[str, ...] = ("_seconds",)


def wide_columns(names: Sequence[str], table: str = "arch_scores") -> list[str]:
    """The columns of a wide ``table`` of the proxies and rank ensembles ``names``, in order:
    :data:`ARCH_COLUMNS`, each name, each name + each suffix (:data:`SUFFIXES`), the
    accuracies. A one-line :class:`~db.connection.DatabaseError` when two would have the same
    name: DuckDB would rename one (``ens_x_seconds_1``), a dict of columns overwrite one."""
    from db.connection import DatabaseError  # (db.sql itself is text only)

    named = ([(c, None, f"the column {c}") for c in ARCH_COLUMNS]
             + [(n, n, f"the score of {n}") for n in names]
             + [(n + s, n, f"the {s.lstrip('_')} of {n}") for s in SUFFIXES for n in names]
             + [(c, None, f"the column {c}") for c in ACCURACY_COLUMNS])
    seen: dict[str, str] = {}
    for column, owner, what in named:
        if column in seen:
            culprit = column if column in names else owner
            raise DatabaseError(
                f"two columns of {table} would be named {column}: {seen[column]} and {what}; "
                f"remove or rename {culprit} (a rank ensemble: DELETE FROM ensembles WHERE "
                f"name = {quote(culprit)}, with DuckDB; tfnas db ensemble refuses such names)")
        seen[column] = what
    return list(seen)


def reserved_names() -> dict[str, str]:
    """The names no proxy or rank ensemble may take, each with what it is: the tables of the
    schema (:data:`db.schema.metadata`) and the views, and their columns."""
    from db.schema import metadata  # (db.schema imports this module)

    views = [*VIEW_COMMENTS, "arch_scores"]
    columns = [*ARCH_COLUMNS, *ACCURACY_COLUMNS, *VIEW_COLUMN_COMMENTS,
               *(column.name for table in metadata.tables.values() for column in table.columns)]
    return (dict.fromkeys(columns, "a column") | dict.fromkeys(views, "a view")
            | dict.fromkeys(metadata.tables, "a table"))


def check_ensemble_name(name: str) -> None:
    """One-line ``ValueError`` when ``name`` cannot name a rank ensemble in the store: it ends
    in a suffix of :data:`SUFFIXES` (``ens_x_seconds`` would be ``ens_x``'s seconds column
    of ``arch_scores``) or is the name of a table, view or column (:func:`reserved_names`).
    The rest (``ens_`` prefix, not a proxy's name) is :func:`tfnas.ensembles.check_ensemble`."""
    from tfnas.errors import UserError
    from tfnas.messages import shorten

    for suffix in SUFFIXES:
        if name.endswith(suffix):
            raise UserError(f"ensemble name {shorten(name)} ends in {suffix}, which names the "
                            f"{suffix.lstrip('_')} column of each proxy and ensemble in "
                            f"arch_scores and the reports ({shorten(name)} would be that "
                            f"column of {shorten(name.removesuffix(suffix))}); choose a name "
                            f"that does not end in {suffix}")
    what = reserved_names().get(name)
    if what is not None:
        raise UserError(f"ensemble name {shorten(name)} is {what} of the database's tables and "
                        "views; choose another")
