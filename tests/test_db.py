"""The database: schema, shard loading, the arch_scores view, reading it back."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

import db
from db.load import SHARD_SCHEMA, write_shard
from tfnas.space import NUM_ARCHS, Arch, parse_arch

T0 = pd.Timestamp("2025-01-01", tz="UTC")


def shard_rows(codes, dataset="cifar10", proxy="naswot", seed=0, batch_size=128,
               fingerprint="abc123", augment=False, scores=None, created_at=T0):
    codes = list(codes)
    scores = [float(c) / 10 for c in codes] if scores is None else scores
    return pd.DataFrame({
        "arch_code": codes, "dataset": dataset, "proxy": proxy, "seed": seed,
        "batch_size": batch_size, "data_fingerprint": fingerprint, "augment": augment,
        "score": scores, "seconds": 0.25, "device": "cpu", "tfnas_version": "0.1.0",
        "created_at": created_at,
    })


def query(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


@pytest.fixture
def engine(tmp_path):
    engine = db.connect(tmp_path / "tfnas.duckdb")
    db.create_schema(engine)
    yield engine
    engine.dispose()


def test_create_schema_is_idempotent_and_fills_the_space(engine):
    db.create_schema(engine)  # second time: nothing changes, nothing fails
    assert query(engine, "SELECT table_name FROM duckdb_tables() ORDER BY 1") == [
        ("accuracies",), ("architectures",), ("costs",), ("proxy_scores",)]
    assert query(engine, "SELECT view_name FROM duckdb_views() WHERE NOT internal") == [
        ("arch_scores",)]
    (count, indexed), = query(engine, "SELECT count(*), count(arch_index) FROM architectures")
    assert (count, indexed) == (NUM_ARCHS, 0)
    arch = Arch(("nor_conv_3x3", "skip_connect", "none", "avg_pool_3x3", "nor_conv_1x1",
                 "nor_conv_3x3"))
    row, = query(engine, "SELECT * FROM architectures WHERE arch_code = :c", c=arch.code)
    assert row.arch_str == str(arch)
    assert (row.edge_1_0, row.edge_2_0, row.edge_2_1, row.edge_3_0, row.edge_3_1,
            row.edge_3_2) == arch.ops
    assert parse_arch(row.arch_str).code == row.arch_code


def test_every_table_and_column_is_documented(engine):
    undocumented = query(engine, "SELECT table_name, column_name FROM duckdb_columns() "
                                 "WHERE NOT internal AND coalesce(comment, '') = ''")
    assert undocumented == []
    assert query(engine, "SELECT count(*) FROM duckdb_tables() WHERE coalesce(comment, '') = ''"
                 ) == [(0,)]
    comments = dict(query(engine, "SELECT table_name || '.' || column_name, comment "
                                  "FROM duckdb_columns() WHERE NOT internal"))
    assert "higher is better" in comments["proxy_scores.score"]
    assert "percent" in comments["accuracies.accuracy_pct"]
    assert "millions of multiply-accumulates" in comments["costs.flops_m"]
    assert "train+valid" in comments["arch_scores.test_acc_200ep"]
    assert "cifar10-valid" in comments["arch_scores.valid_acc_12ep"]


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
    a = write_shard(shard_rows(range(10)), tmp_path / "a.parquet")
    b = write_shard(shard_rows(range(5, 15), proxy="synflow"), tmp_path / "b.parquet")
    c = write_shard(shard_rows(range(5), seed=1), tmp_path / "c.parquet")
    assert db.load_shards(engine, [a, b]) == 20
    assert db.load_shards(engine, [b, a, c]) == 5
    assert db.load_shards(engine, [a, b, c]) == 0
    assert query(engine, "SELECT count(*), sum(score) FROM proxy_scores") == [
        (25, pytest.approx((sum(range(10)) + sum(range(5, 15)) + sum(range(5))) / 10))]
    assert db.load_shards(engine, []) == 0


def test_latest_measurement_wins_whatever_the_load_order(tmp_path):
    old = write_shard(shard_rows([3], scores=[1.0]), tmp_path / "old.parquet")
    new = write_shard(shard_rows([3], scores=[2.0], created_at=T0 + pd.Timedelta(hours=1)),
                      tmp_path / "new.parquet")
    for order, name in (([old, new], "one"), ([new, old], "two")):
        engine = db.connect(tmp_path / f"{name}.duckdb")
        assert db.load_shards(engine, order[:1]) == 1
        assert db.load_shards(engine, order[1:]) == 0
        assert query(engine, "SELECT score FROM proxy_scores") == [(2.0,)]
        engine.dispose()
    engine = db.connect(tmp_path / "together.duckdb")  # both in one load
    assert db.load_shards(engine, [new, old]) == 1
    assert query(engine, "SELECT score FROM proxy_scores") == [(2.0,)]


def _corrupt(tmp_path):
    good = shard_rows(range(3))
    bad_dataset = good.assign(dataset="cifar11")
    nan_score = good.assign(score=[0.0, math.nan, 1.0])
    out_of_space = good.assign(arch_code=[0, 1, NUM_ARCHS])
    int32 = pa.Table.from_pandas(good, preserve_index=False).cast(pa.schema(
        [("arch_code", pa.int32()) if f.name == "arch_code" else f for f in SHARD_SCHEMA]))
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not a parquet file at all")
    missing = tmp_path / "missing_column.parquet"
    pq.write_table(pa.Table.from_pandas(good.drop(columns="device"), preserve_index=False),
                   missing)
    pq.write_table(int32, tmp_path / "int32.parquet")
    return {
        garbage: "not a readable Parquet file",
        missing: "expected exactly",
        tmp_path / "int32.parquet": "column arch_code is int32, expected int64",
        write_shard(bad_dataset, tmp_path / "dataset.parquet"): "invalid row",
        write_shard(nan_score, tmp_path / "nan.parquet"): "NaN",
        write_shard(out_of_space, tmp_path / "range.parquet"): "arch_code=15625",
    }


def test_load_shards_rejects_bad_files_naming_them_and_loads_nothing(engine, tmp_path):
    good = write_shard(shard_rows(range(3)), tmp_path / "good.parquet")
    for path, why in _corrupt(tmp_path).items():
        with pytest.raises(ValueError, match=why) as err:
            db.load_shards(engine, [good, path])
        message = str(err.value)
        assert str(path) in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="nowhere.parquet"):
        db.load_shards(engine, [good, tmp_path / "nowhere.parquet"])
    assert query(engine, "SELECT count(*) FROM proxy_scores") == [(0,)]
    assert db.load_shards(engine, [good]) == 3


def test_nanosecond_timestamps_are_off_contract(engine, tmp_path):
    frame = shard_rows(range(2))
    schema = pa.schema([("created_at", pa.timestamp("ns", tz="UTC")) if f.name == "created_at"
                        else f for f in SHARD_SCHEMA])
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False),
                   tmp_path / "ns.parquet")
    with pytest.raises(ValueError, match=r"created_at is timestamp\[ns, tz=UTC\]"):
        db.load_shards(engine, [tmp_path / "ns.parquet"])


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


def test_arch_scores_view(engine, tmp_path):
    later = T0 + pd.Timedelta(days=1)
    shards = [
        shard_rows([1, 2, 3], scores=[-math.inf, 2.0, 3.0]),
        shard_rows([1], fingerprint="newer", scores=[5.0], created_at=later),  # wins for arch 1
        shard_rows([1, 2], proxy="synflow", scores=[7.0, 8.0]),
        shard_rows([1], proxy="params", fingerprint="none", scores=[1531546.0]),
        shard_rows([1], seed=1, scores=[100.0]),  # not the default configuration
        shard_rows([1], batch_size=64, scores=[100.0]),
        shard_rows([1], augment=True, scores=[100.0]),
        shard_rows([4], seed=1, scores=[100.0]),  # only non-default rows: no view row
        shard_rows([2], dataset="cifar100", scores=[9.0]),
    ]
    db.load_shards(engine, [write_shard(s, tmp_path / f"{i}.parquet")
                            for i, s in enumerate(shards)])
    rows = [dict(arch_code=1, dataset=d, training_run=r, epochs=e, split=s, accuracy_pct=a,
                 aggregation="single_seed", num_seeds=1, source="test")
            for d, r, e, s, a in _accuracy_rows(1)]
    with engine.begin() as conn:
        conn.execute(sa.insert(db.schema.accuracies), rows)
        conn.execute(sa.text("UPDATE architectures SET arch_index = 42 WHERE arch_code = 1"))
    view = db.read_arch_scores(tmp_path / "tfnas.duckdb", "cifar10")
    assert list(view.columns) == [
        "dataset", "arch_code", "arch_index", "arch_str", "naswot", "synflow", "params", "flops",
        "naswot_seconds", "synflow_seconds", "params_seconds", "flops_seconds",
        "test_acc_12ep", "test_acc_200ep", "valid_acc_12ep", "valid_acc_200ep"]
    assert view["arch_code"].tolist() == [1, 2, 3]
    one = view.iloc[0]
    assert (one.arch_index, one.arch_str) == (42, str(Arch.from_code(1)))
    assert (one.naswot, one.synflow, one.params) == (5.0, 7.0, 1531546.0)
    assert pd.isna(one.flops) and one.naswot_seconds == 0.25
    # cifar10: test from run "cifar10" (index 4 above), valid from "cifar10-valid" (index 1)
    assert (one.test_acc_12ep, one.test_acc_200ep) == (40.12, 42.0)
    assert (one.valid_acc_12ep, one.valid_acc_200ep) == (10.12, 12.0)
    assert view.loc[1, "naswot"] == 2.0 and view.loc[2, "naswot"] == 3.0
    assert view.loc[1:, "test_acc_200ep"].isna().all()
    c100 = db.read_arch_scores(tmp_path / "tfnas.duckdb", "cifar100")
    assert c100["arch_code"].tolist() == [2] and c100.loc[0, "naswot"] == 9.0


def test_negative_infinity_survives_the_round_trip(engine, tmp_path):
    db.load_shards(engine, [write_shard(shard_rows([5, 6], scores=[-math.inf, 1.0]),
                                        tmp_path / "inf.parquet")])
    view = db.read_arch_scores(tmp_path / "tfnas.duckdb", "cifar10")
    assert view["naswot"].tolist() == [-math.inf, 1.0]


def test_read_arch_scores_errors(engine, tmp_path):
    path = tmp_path / "tfnas.duckdb"
    with pytest.raises(ValueError, match="luigi --module pipeline ScoreAll --dataset cifar100"):
        db.read_arch_scores(path, "cifar100")
    with pytest.raises(ValueError, match="unknown dataset 'cifar-10'.*cifar10, cifar100"):
        db.read_arch_scores(path, "cifar-10")
    with pytest.raises(FileNotFoundError, match="no tfnas database"):
        db.read_arch_scores(tmp_path / "absent.duckdb", "cifar10")


def test_another_process_can_open_the_file_after_use(engine, tmp_path):
    db.load_shards(engine, [write_shard(shard_rows(range(4)), tmp_path / "s.parquet")])
    path = tmp_path / "tfnas.duckdb"
    code = ("import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
            "print(con.execute('SELECT count(*) FROM proxy_scores').fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "4"


def test_shards_written_by_pandas_defaults_load(engine, tmp_path):
    # pandas writes strings as large_string; the contract's STRING accepts both.
    frame = shard_rows(np.arange(3))
    path = tmp_path / "pandas.parquet"
    frame.to_parquet(path, index=False)
    assert pq.read_schema(path).field("dataset").type == pa.large_string()
    assert db.load_shards(engine, [Path(path)]) == 3
