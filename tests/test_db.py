"""The database: schema, verified shard loading, views, reading back, paths and errors."""

import math
import subprocess
import sys
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from conftest import REPO, PathEngine, metadata, shard_task

import db
from db.connection import SCHEMA_VERSION, DatabaseError, open_read_only
from db.load import stored_rows
from db.read import read_arch_scores, read_scores
from db.shards import SHARD_SCHEMA, ShardError, write_shard
from tfnas.config import ScoringConfig
from tfnas.space import NUM_ARCHS, Arch, parse_arch

T0 = pd.Timestamp("2025-01-01", tz="UTC")
PROXIES = ("naswot", "synflow", "params", "flops")


def shard(tmp_path, codes, dataset="cifar10", proxy="naswot", seed=0, batch_size=128,
          fingerprint="abc123", augment=False, scores=None, created_at=T0, name=None):
    """A verified shard file of stand-in rows, and its task."""
    codes = [int(c) for c in codes]
    scores = [float(c) / 10 for c in codes] if scores is None else scores
    frame = pd.DataFrame({
        "arch_code": codes, "dataset": dataset, "proxy": proxy, "seed": seed,
        "batch_size": batch_size, "data_fingerprint": fingerprint, "augment": augment,
        "score": scores, "seconds": 0.25, "device": "cpu", "tfnas_version": "0.1.0",
        "created_at": [created_at] * len(codes),
    })
    task = shard_task(dataset, proxy, np.array(codes), seed, batch_size, fingerprint)
    task = task.__class__(**{**task.__dict__, "augment": augment})
    table = pa.Table.from_pandas(frame[SHARD_SCHEMA.names], schema=SHARD_SCHEMA,
                                 preserve_index=False)
    name = name or f"{dataset}-{proxy}-{seed}-{batch_size}-{fingerprint}-{augment}-{codes[0]}"
    return write_shard(table, task, tmp_path / f"{name}.parquet"), task


def load(engine, *shards):
    return db.load_shards(engine, dict(shards), *metadata(PROXIES))


def query(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


@pytest.fixture
def engine(tmp_path):
    engine = PathEngine(tmp_path / "tfnas.duckdb")
    db.create_schema(engine)
    return engine


def test_create_schema_is_idempotent_and_fills_the_space(engine):
    db.create_schema(engine)  # second time: nothing changes, nothing fails
    assert query(engine, "SELECT table_name FROM duckdb_tables() ORDER BY 1") == [
        ("accuracies",), ("architectures",), ("benchmarks",), ("costs",), ("ensembles",),
        ("proxies",), ("proxy_scores",), ("published",), ("tfnas_schema",)]
    assert query(engine, "SELECT version FROM tfnas_schema") == [(SCHEMA_VERSION,)]
    assert query(engine, "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"
                 ) == [("arch_accuracies",), ("arch_scores",), ("default_scores",), ("scores",)]
    (count, indexed, classes), = query(engine, "SELECT count(*), count(arch_index), "
                                               "count(DISTINCT iso_class) FROM architectures")
    assert (count, indexed, classes) == (NUM_ARCHS, 0, 6466)
    arch = Arch(("nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1",
                 "nor_conv_3x3"))
    row, = query(engine, "SELECT * FROM architectures WHERE arch_code = :c", c=arch.code)
    assert row.arch_str == str(arch)
    assert (row.edge_1_0, row.edge_2_0, row.edge_2_1, row.edge_3_0, row.edge_3_1,
            row.edge_3_2) == arch.ops
    assert parse_arch(row.arch_str).code == row.arch_code


def test_every_table_view_and_column_is_documented(engine, tmp_path):
    load(engine, shard(tmp_path, range(3)))
    undocumented = query(engine, "SELECT table_name, column_name FROM duckdb_columns() "
                                 "WHERE NOT internal AND coalesce(comment, '') = ''")
    assert undocumented == []
    assert query(engine, "SELECT count(*) FROM duckdb_tables() WHERE coalesce(comment, '') = ''"
                 ) == [(0,)]
    assert query(engine, "SELECT count(*) FROM duckdb_views() WHERE NOT internal AND "
                         "coalesce(comment, '') = ''") == [(0,)]
    comments = dict(query(engine, "SELECT table_name || '.' || column_name, comment "
                                  "FROM duckdb_columns() WHERE NOT internal"))
    assert "higher is better" in comments["proxy_scores.score"]
    assert "percent" in comments["accuracies.accuracy_pct"]
    assert "millions of multiply-accumulates" in comments["costs.flops_m"]
    assert "train+valid" in comments["arch_scores.test_acc_200ep"]
    assert "cifar10-valid" in comments["arch_scores.valid_acc_12ep"]
    # a proxy's column says what its number is, from the registry
    assert comments["arch_scores.naswot"].startswith("log|det K|")
    assert query(engine, "SELECT reads FROM proxies WHERE proxy = 'naswot'") == [("images",)]


def test_primary_key_is_the_configuration_and_rejects_duplicates(engine):
    (key,), = query(engine, "SELECT constraint_column_names FROM duckdb_constraints() "
                            "WHERE table_name = 'proxy_scores' AND constraint_type = 'PRIMARY KEY'")
    assert key == ["arch_code", "dataset", "proxy", "seed", "batch_size", "data_fingerprint",
                   "augment"]
    insert = ("INSERT INTO proxy_scores VALUES (7, 'cifar10', 'naswot', 0, 128, 'abc', false, "
              ":score, 0.5, 'cpu', '0.1.0', TIMESTAMPTZ '2025-01-01 00:00:00+00')")
    with engine.begin() as conn:
        conn.execute(sa.text(insert), {"score": 1.0})
    with pytest.raises(sa.exc.DBAPIError, match="(?i)duplicate key"), engine.begin() as conn:
        conn.execute(sa.text(insert), {"score": 2.0})
    with pytest.raises(sa.exc.DBAPIError, match="(?i)constraint"), engine.begin() as conn:
        conn.execute(sa.text(insert.replace("'abc'", "'other'")), {"score": math.nan})


def test_load_shards_counts_new_rows_and_is_idempotent(engine, tmp_path):
    a = shard(tmp_path, range(10))
    b = shard(tmp_path, range(5, 15), proxy="synflow")
    c = shard(tmp_path, range(5), seed=1)
    assert load(engine, a, b) == 20
    assert load(engine, b, a, c) == 5
    assert load(engine, a, b, c) == 0
    assert query(engine, "SELECT count(*), sum(score) FROM proxy_scores") == [
        (25, pytest.approx((sum(range(10)) + sum(range(5, 15)) + sum(range(5))) / 10))]
    assert load(engine) == 0


def test_latest_measurement_wins_whatever_the_load_order(tmp_path):
    old = shard(tmp_path, [3], scores=[1.0], name="old")
    new = shard(tmp_path, [3], scores=[2.0], created_at=T0 + pd.Timedelta(hours=1), name="new")
    for order, name in (([old, new], "one"), ([new, old], "two")):
        with db.writing(tmp_path / f"{name}.duckdb") as engine:
            assert load(engine, order[0]) == 1
            assert load(engine, order[1]) == 0
            assert query(engine, "SELECT score FROM proxy_scores") == [(2.0,)]


def test_the_loader_refuses_a_shard_of_another_task_and_loads_nothing(engine, tmp_path):
    """A CIFAR-100 shard in a CIFAR-10 run's place, a swapped shard, an edited one: refused."""
    good = shard(tmp_path, range(3))
    foreign_path, _ = shard(tmp_path, range(3), dataset="cifar100")
    with pytest.raises(ShardError, match="belongs to another task") as err:
        db.load_shards(engine, {good[0]: good[1], foreign_path: good[1]}, *metadata(PROXIES))
    assert str(foreign_path) in str(err.value) and "\n" not in str(err.value)
    edited = tmp_path / "edited.parquet"
    data = bytearray(good[0].read_bytes())
    data[200] ^= 0xFF
    edited.write_bytes(bytes(data))
    with pytest.raises(ShardError):
        db.load_shards(engine, {edited: good[1]}, *metadata(PROXIES))
    assert query(engine, "SELECT count(*) FROM proxy_scores") == [(0,)]
    assert load(engine, good) == 3


def test_scores_of_an_undescribed_proxy_are_refused(engine, tmp_path):
    path, task = shard(tmp_path, range(3), proxy="mystery")
    with pytest.raises(ShardError, match="scores of mystery, which the database does not "
                                         "describe"):
        db.load_shards(engine, {path: task})


def _accuracy_rows(code):
    # (dataset, training_run, epochs, split, accuracy) for one architecture
    return [(d, r, e, s, 10 * i + e / 100)
            for i, (d, r, s) in enumerate([
                ("cifar10", "cifar10-valid", "train"), ("cifar10", "cifar10-valid", "valid"),
                ("cifar10", "cifar10-valid", "test"), ("cifar10", "cifar10", "train"),
                ("cifar10", "cifar10", "test"), ("cifar100", "cifar100", "valid"),
                ("cifar100", "cifar100", "test"), ("ImageNet16-120", "ImageNet16-120", "valid"),
            ])
            for e in (12, 200)]


def test_views_read_one_configuration_and_one_set_of_images(engine, tmp_path):
    later = T0 + pd.Timedelta(days=1)
    load(engine,
         shard(tmp_path, [1, 2, 3], scores=[-math.inf, 2.0, 3.0]),
         # newer images for arch 1 only: the default view keeps the images covering most archs
         shard(tmp_path, [1], fingerprint="newer", scores=[5.0], created_at=later),
         shard(tmp_path, [1, 2], proxy="synflow", scores=[7.0, 8.0]),
         shard(tmp_path, [1], proxy="params", fingerprint="none", scores=[1531546.0]),
         shard(tmp_path, [1], seed=1, scores=[100.0]),  # not the default configuration
         shard(tmp_path, [1], batch_size=64, scores=[100.0]),
         shard(tmp_path, [1], augment=True, scores=[100.0]),
         shard(tmp_path, [4], seed=1, scores=[100.0]),  # only non-default rows: no view row
         shard(tmp_path, [2], dataset="cifar100", scores=[9.0]))
    rows = [dict(arch_code=1, dataset=d, training_run=r, epochs=e, split=s, accuracy_pct=a,
                 aggregation="single_seed", num_seeds=1, source="test")
            for d, r, e, s, a in _accuracy_rows(1)]
    with engine.begin() as conn:
        conn.execute(sa.insert(db.schema.accuracies), rows)
        conn.execute(sa.text("UPDATE architectures SET arch_index = 42 WHERE arch_code = 1"))
    path = tmp_path / "tfnas.duckdb"
    view = read_arch_scores(path, "cifar10")
    assert view["arch_code"].tolist() == [1, 2, 3]
    one = view.iloc[0]
    assert view.index.name == "arch_index" and "arch_index" not in view.columns
    assert (one.name, one.arch_str) == (42, str(Arch.from_code(1)))
    assert (one.naswot, one.synflow, one.params) == (-math.inf, 7.0, 1531546.0)
    assert "flops" not in view.columns and one.naswot_seconds == 0.25
    # cifar10: test from run "cifar10" (index 4 above), valid from "cifar10-valid" (index 1)
    assert (one.test_acc_12ep, one.test_acc_200ep) == (40.12, 42.0)
    assert (one.valid_acc_12ep, one.valid_acc_200ep) == (10.12, 12.0)
    assert view["naswot"].iloc[1] == 2.0 and view["naswot"].iloc[2] == 3.0
    assert view["test_acc_200ep"].iloc[1:].isna().all()
    # the SQL view agrees, with a column per registered proxy
    sql = query(engine, "SELECT arch_code, naswot, synflow, params, flops FROM arch_scores "
                        "WHERE dataset = 'cifar10' ORDER BY arch_code")
    assert sql[0] == (1, -math.inf, 7.0, 1531546.0, None)
    # asking for the newer images, or another configuration, reads those rows
    newer = read_arch_scores(path, "cifar10", ScoringConfig(fingerprint="newer"))
    assert newer["arch_code"].tolist() == [1] and newer["naswot"].iloc[0] == 5.0
    # ... beside the data-free proxies (stored under 'none'), not synflow's other images
    assert newer["params"].iloc[0] == 1531546.0 and np.isnan(newer["synflow"].iloc[0])
    seed1 = read_arch_scores(path, "cifar10", ScoringConfig(seed=1))
    assert seed1["arch_code"].tolist() == [1, 4] and (seed1["naswot"] == 100.0).all()
    assert read_arch_scores(path, "cifar10", ScoringConfig(augment=True))["naswot"].tolist() \
        == [100.0]
    c100 = read_arch_scores(path, "cifar100")
    assert c100["arch_code"].tolist() == [2] and c100["naswot"].iloc[0] == 9.0


def test_a_configuration_with_no_scores_lists_what_is_held(engine, tmp_path):
    """Was: CIFAR-100 scored at batch 96 only; the reports said 'no proxy scores for
    cifar10' (the wrong dataset) and never mentioned batch 96."""
    load(engine, shard(tmp_path, range(5), dataset="cifar100", batch_size=96,
                       fingerprint="3fa9"))
    with pytest.raises(DatabaseError) as err:
        read_scores(tmp_path / "tfnas.duckdb", datasets=["cifar100"])
    message = str(err.value)
    assert "has no cifar100 scores for seed 0, batch 128, no augmentation; it holds seed 0, " \
           "batch 96, no augmentation, images 3fa9: naswot (5 archs)" in message
    assert "cifar10 " not in message.replace("cifar100", "")
    got = read_scores(tmp_path / "tfnas.duckdb", ScoringConfig(batch_size=96), ["cifar100"])
    assert got.frames["cifar100"]["naswot"].tolist() == [0.0, 0.1, 0.2, 0.3, 0.4]


def test_read_errors_are_one_line_and_name_the_file(engine, tmp_path):
    path = tmp_path / "tfnas.duckdb"
    with pytest.raises(DatabaseError, match="luigi --module pipeline ScoreAll --dataset cifar100"):
        read_arch_scores(path, "cifar100")
    with pytest.raises(ValueError, match="unknown dataset 'cifar-10'.*cifar10, cifar100"):
        read_arch_scores(path, "cifar-10")
    with pytest.raises(DatabaseError, match="no tfnas database at .*absent.duckdb; create one "
                                            "with `tfnas db init --db "):
        read_scores(tmp_path / "absent.duckdb")
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes, not a database\n")
    with pytest.raises(DatabaseError, match=r"notes.txt is not a DuckDB database"):
        read_scores(notes)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(DatabaseError, match=r"empty.duckdb is not a tfnas database"):
        read_scores(empty)


def test_a_database_locked_by_a_writer_is_one_line(engine, tmp_path):
    path = tmp_path / "tfnas.duckdb"
    holder = subprocess.Popen([sys.executable, "-c",
                               "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(DatabaseError, match=r"is locked by another process that is writing "
                                                r"it; wait until"):
            read_scores(path)
        with pytest.raises(DatabaseError, match="locked"), db.writing(path):
            pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("name", ["x/a?b/tfnas.duckdb", "p%41q.duckdb", "c#d e/t f.duckdb",
                                  "é ü/tfnas.duckdb", "t.duckdb?read_only=true"])
def test_paths_are_taken_literally(tmp_path, name):
    """No URL syntax: '?', '#', '%41', spaces and non-ASCII stay in the file name."""
    path = tmp_path / name
    codes = range(4)
    with db.writing(path) as engine:
        load(engine, shard(tmp_path, codes))
    assert path.is_file() and {p.name for p in path.parent.iterdir()} >= {path.name}
    assert not any("A" in p.name for p in tmp_path.rglob("*q.duckdb"))  # %41 not decoded
    assert read_arch_scores(path, "cifar10")["naswot"].tolist() == [0.0, 0.1, 0.2, 0.3]
    with db.writing(path) as engine:  # written again in place
        load(engine, shard(tmp_path, codes, proxy="synflow"))
    assert len(read_arch_scores(path, "cifar10").columns) > 10
    open_read_only(path).close()


def test_stored_rows_counts_a_run_s_rows_and_zero_for_an_unusable_file(engine, tmp_path):
    path = tmp_path / "tfnas.duckdb"
    first, task = shard(tmp_path, range(6))
    assert stored_rows(path, [task]) == 0
    load(engine, (first, task))
    assert stored_rows(path, [task]) == 6
    other = shard_task("cifar10", "naswot", np.arange(6), fingerprint="other-images")
    assert stored_rows(path, [other]) == 0
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    assert stored_rows(empty, [task]) == 0 and stored_rows(tmp_path / "no.duckdb", [task]) == 0


def test_another_process_can_open_the_file_after_use(engine, tmp_path):
    load(engine, shard(tmp_path, range(4)))
    path = tmp_path / "tfnas.duckdb"
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print(con.execute('SELECT count(*) FROM proxy_scores').fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "4"


def test_reading_imports_neither_torch_nor_sqlalchemy(engine, tmp_path):
    load(engine, shard(tmp_path, range(4)))
    code = ("import sys, db.read as r; r.read_scores(sys.argv[1]); "
            "print(sorted(m for m in ('torch', 'sqlalchemy') if m in sys.modules))")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tfnas.duckdb")],
                         capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr
    assert time.perf_counter() - start < 30
