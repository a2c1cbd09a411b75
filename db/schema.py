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
- Every proxy score is "higher is better": ``naswot`` = log|det K| (Mellor et al. 2021),
  ``synflow`` = ln Σ θ⊙∂R/∂θ (Tanaka et al. 2020), ``params`` = parameter count, ``flops`` =
  millions of MACs. −inf is allowed (singular NASWOT kernel, zero synaptic flow); NaN never.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from db.connection import insert_frame
from tfnas.datasets import DATASETS as _DATASET_SPECS
from tfnas.space import EDGES, NUM_ARCHS, OPS, all_archs

DATASETS: tuple[str, ...] = tuple(_DATASET_SPECS)
#: NATS-Bench training runs (its "dataset" keys); ``cifar10-valid`` is a CIFAR-10 run.
TRAINING_RUNS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
EPOCHS: tuple[int, ...] = (12, 200)
EDGE_COLUMNS: tuple[str, ...] = tuple(f"edge_{target}_{source}" for target, source in EDGES)

HIGHER_IS_BETTER = (
    "higher is better for every proxy: naswot = log|det K| (Mellor et al. 2021), synflow = "
    "ln(synaptic flow) (Tanaka et al. 2020), params = parameter count, flops = millions of "
    "MACs; -inf allowed (singular NASWOT kernel, zero synaptic flow), never NaN"
)


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
              comment="proxy name: naswot, synflow, params or flops"),
    sa.Column("seed", sa.BigInteger, primary_key=True, autoincrement=False,
              comment="seed of the network initialisation and of the image batch"),
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
              comment="when it was computed (UTC); the latest wins in arch_scores and on re-load"),
    sa.CheckConstraint(f"arch_code BETWEEN 0 AND {NUM_ARCHS - 1}", name="scores_arch_code"),
    sa.CheckConstraint(_in("dataset", DATASETS), name="scores_dataset"),
    sa.CheckConstraint("NOT isnan(score)", name="scores_not_nan"),
    comment="training-free proxy scores, one row per (arch, dataset, proxy, configuration); "
            + HIGHER_IS_BETTER,
)

#: One row per (dataset, arch) with a default-configuration score (seed 0, batch 128, no
#: augmentation); among several qualifying rows of a proxy (other data fingerprints) the latest
#: ``created_at`` wins. Accuracies: test from run = dataset ("cifar10" for CIFAR-10, trained on
#: train+valid), valid from "cifar10-valid" for CIFAR-10 and from run = dataset otherwise.
ARCH_SCORES_SQL = """
CREATE OR REPLACE VIEW arch_scores AS
WITH latest AS (
    SELECT dataset, arch_code, proxy, score, seconds
    FROM proxy_scores
    WHERE seed = 0 AND batch_size = 128 AND NOT augment
    QUALIFY row_number() OVER (PARTITION BY dataset, arch_code, proxy
                               ORDER BY created_at DESC, data_fingerprint) = 1
), scores AS (
    SELECT dataset, arch_code,
        any_value(score) FILTER (proxy = 'naswot') AS naswot,
        any_value(score) FILTER (proxy = 'synflow') AS synflow,
        any_value(score) FILTER (proxy = 'params') AS params,
        any_value(score) FILTER (proxy = 'flops') AS flops,
        any_value(seconds) FILTER (proxy = 'naswot') AS naswot_seconds,
        any_value(seconds) FILTER (proxy = 'synflow') AS synflow_seconds,
        any_value(seconds) FILTER (proxy = 'params') AS params_seconds,
        any_value(seconds) FILTER (proxy = 'flops') AS flops_seconds
    FROM latest
    GROUP BY dataset, arch_code
), runs AS (
    SELECT *, training_run = dataset AS test_run,
        training_run = CASE dataset WHEN 'cifar10' THEN 'cifar10-valid' ELSE dataset END
            AS valid_run
    FROM accuracies
), accuracy AS (
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
)
SELECT s.dataset, s.arch_code, a.arch_index, a.arch_str,
    s.naswot, s.synflow, s.params, s.flops,
    s.naswot_seconds, s.synflow_seconds, s.params_seconds, s.flops_seconds,
    acc.test_acc_12ep, acc.test_acc_200ep, acc.valid_acc_12ep, acc.valid_acc_200ep
FROM scores s
JOIN architectures a USING (arch_code)
LEFT JOIN accuracy acc USING (dataset, arch_code)
"""

ARCH_SCORES_COMMENT = (
    "proxy scores of the default configuration (seed 0, batch 128, no augmentation; latest "
    "created_at wins) beside NATS-Bench accuracies, one row per (dataset, arch); "
    + HIGHER_IS_BETTER
)
ARCH_SCORES_COMMENTS: dict[str, str] = {
    "dataset": "cifar10, cifar100 or ImageNet16-120",
    "arch_code": "tfnas architecture id (architectures.arch_code)",
    "arch_index": "NATS-Bench index; NULL until a benchmark is imported",
    "arch_str": "NATS-Bench architecture string",
    "naswot": "NASWOT log|det K|, 128-image batch, seed 0; higher is better, -inf = singular K",
    "synflow": "Synflow ln(synaptic flow), seed 0; higher is better, -inf = zero flow",
    "params": "parameter count (baseline proxy); higher is better",
    "flops": "millions of MACs per image (baseline proxy); higher is better",
    "naswot_seconds": ("wall seconds NASWOT took for this arch, weights included "
                      "(GPU: pass time / archs per pass)"),
    "synflow_seconds": ("wall seconds Synflow took for this arch, weights included "
                      "(GPU: pass time / archs per pass)"),
    "params_seconds": "wall seconds the params proxy took for this arch",
    "flops_seconds": "wall seconds the flops proxy took for this arch",
    "test_acc_12ep": "NATS-Bench test accuracy (%) after 12 epochs; CIFAR-10 from run cifar10 "
                     "(trained on train+valid); NULL where unknown",
    "test_acc_200ep": "NATS-Bench test accuracy (%) after 200 epochs; CIFAR-10 from run cifar10 "
                      "(trained on train+valid); NULL where unknown",
    "valid_acc_12ep": "NATS-Bench validation accuracy (%) after 12 epochs; CIFAR-10 from run "
                      "cifar10-valid (trained on train only); NULL where unknown",
    "valid_acc_200ep": "NATS-Bench validation accuracy (%) after 200 epochs; CIFAR-10 from run "
                       "cifar10-valid (trained on train only); NULL where unknown",
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _architecture_frame() -> pd.DataFrame:
    archs = list(all_archs())
    frame = pd.DataFrame({"arch_code": [a.code for a in archs],
                          "arch_str": [str(a) for a in archs]})
    for k, name in enumerate(EDGE_COLUMNS):
        frame[name] = [a.ops[k] for a in archs]
    return frame


def ensure_schema(conn: Connection) -> None:
    """Create what is missing of the schema inside ``conn``'s transaction (idempotent)."""
    metadata.create_all(conn)
    conn.exec_driver_sql(ARCH_SCORES_SQL)
    conn.exec_driver_sql(f"COMMENT ON VIEW arch_scores IS {_quote(ARCH_SCORES_COMMENT)}")
    for column, comment in ARCH_SCORES_COMMENTS.items():
        conn.exec_driver_sql(f"COMMENT ON COLUMN arch_scores.{column} IS {_quote(comment)}")
    stored = conn.execute(sa.select(sa.func.count()).select_from(architectures))
    if stored.scalar_one() < NUM_ARCHS:
        insert_frame(conn, "architectures", _architecture_frame(), "INSERT OR IGNORE")


def create_schema(engine: Engine) -> None:
    """Create the tables, the ``arch_scores`` view and the 15,625 architectures (idempotent)."""
    with engine.begin() as conn:
        ensure_schema(conn)
