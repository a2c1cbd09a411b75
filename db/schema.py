"""The tfnas database: tables and the ``arch_scores`` view, defined once (SQLAlchemy Core, DuckDB).

Conventions, stated once and repeated in every column comment (``duckdb_columns().comment``):

- Architectures are keyed by ``arch_code`` (Σₖ op_id(edge k)·5ᵏ, :mod:`tfnas.space`), defined
  by the search space alone; NATS-Bench's ``arch_index`` is an attribute filled in when a
  benchmark is imported.
- Accuracies are percentages (0–100). NATS-Bench trains each architecture in separate
  *training runs*: ``cifar10-valid`` (trained on CIFAR-10 train, evaluated on valid and test),
  ``cifar10`` (trained on train+valid, evaluated on test only), ``cifar100`` and
  ``ImageNet16-120`` (trained on train; "valid" and "test" are NATS-Bench's ``x-valid`` and
  ``x-test`` halves of the original test set). Every accuracy row names its run, schedule
  (``epochs`` 12 or 200) and split.
- Every proxy score is "higher is better"; −inf is allowed (e.g. a singular NASWOT kernel),
  NaN never. What each proxy's number is, its paper and settings are rows of ``proxies``
  (written from the proxy registry, :mod:`tfnas.proxies`, whenever its scores are loaded), and
  the correlations papers report for it are rows of ``published``.
- Scores are long (``proxy_scores``: one row per arch, dataset, proxy and configuration). The
  view ``scores`` shows every configuration beside the accuracies; ``default_scores`` keeps the
  default configuration (:data:`tfnas.config.DEFAULT`: seed 0, batch 128, no augmentation);
  ``arch_scores`` is that one pivoted, a column per proxy of ``proxies`` (generated).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

import tfnas
from db.connection import MARKER, SCHEMA_VERSION, insert_frame, registered
from db.sql import (
    ACCURACY_COMMENTS,
    ACCURACY_VIEW_SQL,
    DEFAULT_SCORES_SQL,
    HIGHER_IS_BETTER,
    SCORES_VIEW_SQL,
    VIEW_COLUMN_COMMENTS,
    VIEW_COMMENTS,
    identifier,
    quote,
)
from tfnas.config import DEFAULT
from tfnas.datasets import DATASETS as _DATASET_SPECS
from tfnas.ensembles import METHODS, SHIPPED, Ensemble
from tfnas.isomorphism import canonical_forms
from tfnas.space import EDGES, NUM_ARCHS, OPS, all_archs

DATASETS: tuple[str, ...] = tuple(_DATASET_SPECS)
#: NATS-Bench training runs (its "dataset" keys); ``cifar10-valid`` is a CIFAR-10 run.
TRAINING_RUNS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
EPOCHS: tuple[int, ...] = (12, 200)
EDGE_COLUMNS: tuple[str, ...] = tuple(f"edge_{target}_{source}" for target, source in EDGES)




def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _arch_code(comment: str, primary_key: bool = False) -> sa.Column:
    return sa.Column("arch_code", sa.Integer, primary_key=primary_key, autoincrement=False,
                     nullable=False, comment=comment)


def _dataset(comment: str) -> sa.Column:
    return sa.Column("dataset", sa.String, primary_key=True, comment=comment)


metadata = sa.MetaData()

architectures = sa.Table(
    "architectures", metadata,
    _arch_code("tfnas architecture id: sum over edges k of op_id(edge k)*5^k, edge 0 first in "
               "the arch string, op ids in the order none, skip_connect, nor_conv_1x1, "
               "nor_conv_3x3, avg_pool_3x3; defined by the search space alone", primary_key=True),
    sa.Column("arch_index", sa.Integer, unique=True, nullable=True,
              comment="NATS-Bench TSS index of the architecture (0..15624, NATS-Bench's own "
                      "order); NULL until a benchmark is imported"),
    sa.Column("arch_str", sa.String, unique=True, nullable=False,
              comment="NATS-Bench architecture string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"),
    *(sa.Column(name, sa.String, nullable=False,
                comment=f"operation on the cell edge from node {source} to node {target}")
      for name, (target, source) in zip(EDGE_COLUMNS, EDGES, strict=True)),
    sa.CheckConstraint(f"arch_code BETWEEN 0 AND {NUM_ARCHS - 1}", name="arch_code_range"),
    sa.Column("canonical_form", sa.String, nullable=False,
              comment="the cell's function as an expression (tfnas.isomorphism): equal for "
                      "isomorphic cells, NAS-Bench-201's to_unique_str(consider_zero=True)"),
    sa.Column("iso_class", sa.Integer, nullable=False,
              comment="equivalence class of isomorphic cells (6,466 classes): the smallest "
                      "arch_code of the class"),
    *(sa.CheckConstraint(_in(name, OPS), name=f"{name}_op") for name in EDGE_COLUMNS),
    comment="the 15,625 cells of the NATS-Bench topology search space (= NAS-Bench-201)",
)

accuracies = sa.Table(
    "accuracies", metadata,
    _arch_code("architecture (architectures.arch_code)", primary_key=True),
    sa.Column("dataset", sa.String, nullable=False,
              comment="dataset the accuracy is measured on: cifar10, cifar100 or ImageNet16-120"),
    sa.Column("training_run", sa.String, primary_key=True,
              comment="NATS-Bench training run (its dataset key) the number comes from: "
                      "cifar10-valid = trained on CIFAR-10 train, evaluated on valid and test; "
                      "cifar10 = trained on train+valid, test only; cifar100 / ImageNet16-120 = "
                      "trained on train"),
    sa.Column("epochs", sa.Integer, primary_key=True, autoincrement=False,
              comment="training schedule in epochs: 12 or 200 (NATS-Bench hp)"),
    sa.Column("split", sa.String, primary_key=True,
              comment="split evaluated: train (the run's training data), valid (NATS-Bench "
                      "x-valid), test (ori-test for the CIFAR-10 runs, x-test otherwise)"),
    sa.Column("accuracy_pct", sa.Double, nullable=False,
              comment="top-1 accuracy in percent (0-100) after the last epoch; higher is better"),
    sa.Column("aggregation", sa.String, nullable=False,
              comment="mean_over_seeds = mean over the benchmark's training seeds "
                      "(get_more_info is_random=False); single_seed = one training seed"),
    sa.Column("num_seeds", sa.Integer, nullable=True,
              comment="number of training seeds averaged; NULL where the source does not say"),
    sa.Column("source", sa.String, nullable=False,
              comment="where the number came from: nats-bench:<benchmark directory> (official "
                      "API) or table:<file name> (CSV/Parquet table)"),
    sa.CheckConstraint(_in("dataset", DATASETS), name="accuracies_dataset"),
    sa.CheckConstraint(_in("training_run", TRAINING_RUNS), name="accuracies_run"),
    sa.CheckConstraint("training_run = dataset OR (dataset = 'cifar10' AND "
                       "training_run = 'cifar10-valid')", name="accuracies_run_dataset"),
    sa.CheckConstraint(_in("epochs", EPOCHS), name="accuracies_epochs"),
    sa.CheckConstraint(_in("split", SPLITS), name="accuracies_split"),
    sa.CheckConstraint("accuracy_pct BETWEEN 0 AND 100", name="accuracies_percent"),
    sa.CheckConstraint(_in("aggregation", ("mean_over_seeds", "single_seed")),
                       name="accuracies_aggregation"),
    comment="NATS-Bench accuracies, long format: one row per (arch, training run, schedule, split)",
)

costs = sa.Table(
    "costs", metadata,
    _arch_code("architecture (architectures.arch_code)", primary_key=True),
    _dataset("dataset the network is built for (classifier width, input size): cifar10, "
             "cifar100 or ImageNet16-120"),
    sa.Column("source", sa.String, primary_key=True,
              comment="tfnas = computed by this project (tfnas.costs closed form); nats-bench = "
                      "as the official benchmark reports them"),
    sa.Column("params", sa.BigInteger, nullable=False,
              comment="number of parameters (a count, not millions; BN affine included, no conv "
                      "bias); NATS-Bench's value in millions is multiplied by 1e6 and rounded"),
    sa.Column("flops_m", sa.Double, nullable=False,
              comment="millions of multiply-accumulates (MACs) for one input image, NATS-Bench "
                      "convention (conv + linear; pooling, BN, skip count 0)"),
    sa.Column("latency_s", sa.Double, nullable=True,
              comment="NATS-Bench inference latency in seconds (its measurement, a batch of 256 "
                      "images); NULL for tfnas rows and where the benchmark has none"),
    sa.CheckConstraint(_in("dataset", DATASETS), name="costs_dataset"),
    sa.CheckConstraint(_in("source", ("tfnas", "nats-bench")), name="costs_source"),
    comment="parameter count, FLOPs and latency of each architecture's network per dataset",
)

proxy_scores = sa.Table(
    "proxy_scores", metadata,
    _arch_code("architecture (architectures.arch_code)", primary_key=True),
    _dataset("dataset the proxy was computed for: cifar10, cifar100 or ImageNet16-120"),
    sa.Column("proxy", sa.String, primary_key=True,
              comment="proxy name (proxies.proxy)"),
    sa.Column("seed", sa.BigInteger, primary_key=True, autoincrement=False,
              comment="seed of the network initialisation and of the image batch (0..2^31-1)"),
    sa.Column("batch_size", sa.BigInteger, primary_key=True, autoincrement=False,
              comment="images in the proxy batch (carried by data-free proxies too)"),
    sa.Column("data_fingerprint", sa.String, primary_key=True,
              comment="short sha256 of the exact uint8 images (+ augment flag) of the batch; "
                      "'none' for runs given no data"),
    sa.Column("augment", sa.Boolean, primary_key=True,
              comment="whether the batch was drawn with training augmentation"),
    sa.Column("score", sa.Double, nullable=False, comment=HIGHER_IS_BETTER),
    sa.Column("seconds", sa.Double, nullable=False,
              comment="wall-clock seconds of this proxy for this arch, its weights included "
                      "(on a GPU: the pass time / architectures per pass)"),
    sa.Column("device", sa.String, nullable=False, comment="device it ran on, e.g. cpu, cuda:0"),
    sa.Column("tfnas_version", sa.String, nullable=False,
              comment="tfnas version that computed it"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              comment="when it was computed (UTC); the latest wins in default_scores and on "
                      "re-load"),
    sa.CheckConstraint(f"arch_code BETWEEN 0 AND {NUM_ARCHS - 1}", name="scores_arch_code"),
    sa.CheckConstraint(_in("dataset", DATASETS), name="scores_dataset"),
    sa.CheckConstraint("NOT isnan(score)", name="scores_not_nan"),
    comment="training-free proxy scores, one row per (arch, dataset, proxy, configuration); "
            + HIGHER_IS_BETTER,
)

proxies = sa.Table(
    "proxies", metadata,
    sa.Column("proxy", sa.String, primary_key=True, comment="proxy name"),
    sa.Column("citation", sa.String, nullable=False, comment="paper and reference code"),
    sa.Column("reads", sa.String, nullable=False,
              comment="what it reads besides the architecture: images, labels"),
    sa.Column("convention", sa.String, nullable=False,
              comment="what the stored number is; higher is better; when it is -inf"),
    sa.Column("settings", sa.String, nullable=False,
              comment="batch, input, BN mode, initialisation, dtype, aggregation"),
    sa.Column("negated", sa.Boolean, nullable=False,
              comment="true where the paper's score is lower-is-better and is stored negated"),
    comment="the proxies whose scores are stored (from tfnas's proxy registry)",
)

published = sa.Table(
    "published", metadata,
    sa.Column("proxy", sa.String, primary_key=True, comment="proxy name (proxies.proxy)"),
    sa.Column("statistic", sa.String, primary_key=True,
              comment="spearman, kendall or pearson"),
    _dataset("dataset the value was measured on"),
    sa.Column("source", sa.String, primary_key=True, comment="where it was published"),
    sa.Column("accuracy", sa.String, nullable=False,
              comment="the accuracy it was measured against, as an arch_scores column "
                      "(test_acc_200ep, valid_acc_12ep, ...)"),
    sa.Column("value", sa.Double, nullable=False, comment="the published value"),
    comment="correlations of proxies with accuracy as papers report them",
)

ensembles = sa.Table(
    "ensembles", metadata,
    sa.Column("name", sa.String, primary_key=True,
              comment="ensemble name, used like a proxy's in default_scores and the reports"),
    sa.Column("method", sa.String, nullable=False,
              comment="log_rank_sum (AZ-NAS) or mean_rank (see tfnas.ensembles)"),
    sa.Column("members", sa.String, nullable=False,
              comment="comma list of the proxies combined (sorted); computed over the "
                      "architectures every member scored"),
    sa.Column("description", sa.String, nullable=False, comment="what it combines and why"),
    sa.CheckConstraint(_in("method", tuple(METHODS)), name="ensembles_method"),
    comment="rank ensembles: definitions only; their scores are computed from the members' "
            "stored rows whenever read (default_scores, arch_scores, the reports); higher is "
            "better",
)

benchmarks = sa.Table(
    "benchmarks", metadata,
    sa.Column("source", sa.String, primary_key=True,
              comment="the accuracies.source of the import"),
    sa.Column("digest", sa.String, nullable=False,
              comment="sha256 of what was read (the table file, or the official directory's "
                      "meta file and file list)"),
    sa.Column("accuracy_rows", sa.BigInteger, nullable=False,
              comment="accuracy rows the import wrote"),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False,
              comment="when it was imported (UTC)"),
    comment="benchmark imports: proof that accuracies of a source are complete",
)

schema_marker = sa.Table(
    MARKER, metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False,
              comment="version of the tfnas schema the database follows (db.connection."
                      "SCHEMA_VERSION); a tfnas refuses to write a newer one"),
    sa.Column("tfnas_version", sa.String, nullable=False,
              comment="tfnas version that last wrote the schema"),
    comment="marks a tfnas database (one row): tfnas writes only files that carry it",
)


def arch_scores_sql(proxy_names: list[str]) -> str:
    """The wide ``arch_scores`` view: one row per (dataset, arch) of the default
    configuration, a score and a seconds column per proxy (generated from ``proxies``)."""
    from db.sql import wide_columns

    wide_columns(proxy_names)  # one line when two columns coincide, never one DuckDB renames
    columns = [f"any_value(score) FILTER (proxy = {quote(p)}) AS {identifier(p)}"
               for p in proxy_names]
    columns += [f"any_value(seconds) FILTER (proxy = {quote(p)}) AS "
                f"{identifier(p + '_seconds')}" for p in proxy_names]
    selected = "".join(f",\n    {column}" for column in columns)
    return f"""
CREATE OR REPLACE VIEW arch_scores AS
SELECT dataset, arch_code, any_value(arch_index) AS arch_index,
    any_value(arch_str) AS arch_str, any_value(iso_class) AS iso_class{selected},
    any_value(test_acc_12ep) AS test_acc_12ep, any_value(test_acc_200ep) AS test_acc_200ep,
    any_value(valid_acc_12ep) AS valid_acc_12ep, any_value(valid_acc_200ep) AS valid_acc_200ep
FROM default_scores
GROUP BY dataset, arch_code
"""


def _architecture_frame() -> pd.DataFrame:
    archs = list(all_archs())
    forms = canonical_forms(archs)
    frame = pd.DataFrame({"arch_code": [a.code for a in archs],
                          "arch_str": [str(a) for a in archs],
                          "canonical_form": [forms[a] for a in archs]})
    frame["iso_class"] = frame.groupby("canonical_form")["arch_code"].transform("min")
    for k, name in enumerate(EDGE_COLUMNS):
        frame[name] = [a.ops[k] for a in archs]
    return frame


def refresh_views(conn: Connection) -> None:
    """(Re)create the views; ``arch_scores`` gets a column per row of ``proxies``."""
    for sql in (ACCURACY_VIEW_SQL, SCORES_VIEW_SQL, DEFAULT_SCORES_SQL):
        conn.exec_driver_sql(sql)
    conventions = dict(conn.exec_driver_sql("SELECT proxy, convention FROM proxies").all())
    conventions |= {name: f"rank ensemble ({method}) of {members}: {description}; higher is "
                          "better" for name, method, members, description in
                    conn.exec_driver_sql("SELECT name, method, members, description "
                                         "FROM ensembles").all()}
    names = sorted(conventions)
    conn.exec_driver_sql(arch_scores_sql(names))
    comments = VIEW_COMMENTS | {
        "arch_scores": f"the scores of the default configuration ({DEFAULT.describe()}), one "
                       "row per (dataset, arch), a column per proxy, beside the accuracies; "
                       + HIGHER_IS_BETTER}
    for view, comment in comments.items():
        conn.exec_driver_sql(f"COMMENT ON VIEW {view} IS {quote(comment)}")
    for name in names:
        conn.exec_driver_sql(f"COMMENT ON COLUMN arch_scores.{identifier(name)} IS "
                             f"{quote(conventions[name])}")
        conn.exec_driver_sql(f"COMMENT ON COLUMN arch_scores.{identifier(name + '_seconds')} "
                             f"IS {quote(f'wall seconds {name} took for this arch')}")
    described = ACCURACY_COMMENTS | VIEW_COLUMN_COMMENTS
    view_columns = conn.exec_driver_sql(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND "
        "table_name IN ('arch_accuracies', 'scores', 'default_scores', 'arch_scores')").all()
    for view, column in view_columns:
        if column in described:
            conn.exec_driver_sql(f"COMMENT ON COLUMN {view}.{identifier(column)} IS "
                                 f"{quote(described[column])}")


def _add_isomorphism_columns(conn: Connection) -> None:
    """Give ``architectures`` of a database written before the isomorphism classes its
    ``canonical_form`` and ``iso_class`` columns, filled (no-op when they exist)."""
    have = {row[0] for row in conn.exec_driver_sql(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'architectures'").all()}
    added = [column for column in ("canonical_form", "iso_class") if column not in have]
    if not added:
        return
    for column in added:
        kind = architectures.c[column].type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE architectures ADD COLUMN {column} {kind}")
    with registered(conn, "_isomorphism", _architecture_frame()[["arch_code", *added]]):
        conn.exec_driver_sql("UPDATE architectures SET " + ", ".join(
            f"{column} = i.{column}" for column in added)
            + " FROM _isomorphism AS i WHERE architectures.arch_code = i.arch_code")


def ensure_schema(conn: Connection) -> None:
    """Create what is missing of the schema inside ``conn``'s transaction (idempotent),
    completing the tables of a database an older tfnas wrote."""
    metadata.create_all(conn)
    _add_isomorphism_columns(conn)
    conn.execute(sa.delete(schema_marker))
    conn.execute(sa.insert(schema_marker).values(version=SCHEMA_VERSION,
                                                 tfnas_version=tfnas.__version__))
    stored = conn.execute(sa.select(sa.func.count()).select_from(architectures))
    if stored.scalar_one() < NUM_ARCHS:
        # the missing ones by an anti-join: DuckDB 1.5's INSERT OR IGNORE also drops rows whose
        # NULL arch_index meets another NULL in that UNIQUE column (1 of 15,625 stored)
        missing = _architecture_frame()
        have = {row[0] for row in conn.exec_driver_sql("SELECT arch_code FROM architectures")}
        insert_frame(conn, "architectures", missing[~missing["arch_code"].isin(have)], "INSERT")
    have = {row[0] for row in conn.exec_driver_sql("SELECT name FROM ensembles")}
    shipped = [e for e in SHIPPED if e.name not in have]
    if shipped:
        insert_frame(conn, "ensembles", _ensemble_frame(shipped), "INSERT")
    refresh_views(conn)


def _ensemble_frame(chosen: list[Ensemble]) -> pd.DataFrame:
    return pd.DataFrame({"name": [e.name for e in chosen], "method": [e.method for e in chosen],
                         "members": [",".join(e.members) for e in chosen],
                         "description": [e.description for e in chosen]})


def add_ensemble(conn: Connection, ensemble: Ensemble) -> None:
    """Define (or redefine) ``ensemble`` (validated: :func:`tfnas.ensembles.check_ensemble`),
    completing the schema of a database written before the ``ensembles`` table and regenerating
    the views once; inside ``conn``'s transaction."""
    ensembles.create(conn, checkfirst=True)
    conn.execute(sa.delete(ensembles).where(ensembles.c.name == ensemble.name))
    insert_frame(conn, "ensembles", _ensemble_frame([ensemble]), "INSERT")
    ensure_schema(conn)


def register_proxies(conn: Connection, rows: list[dict], published_rows: list[dict]) -> None:
    """Write proxy metadata (:meth:`tfnas.proxies.Proxy.metadata`) and published values, then
    regenerate the views; inside ``conn``'s transaction."""
    if rows:
        insert_frame(conn, "proxies", pd.DataFrame(rows))
    if published_rows:
        names = sorted({row["proxy"] for row in rows})
        conn.execute(sa.delete(published).where(published.c.proxy.in_(names)))
        insert_frame(conn, "published", pd.DataFrame(published_rows))
    refresh_views(conn)


def create_schema(engine: Engine) -> None:
    """Create the tables, the views and the 15,625 architectures (idempotent)."""
    with engine.begin() as conn:
        ensure_schema(conn)
