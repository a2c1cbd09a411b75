"""The shard contract (db.shards): a shard proves what it holds, and nothing else passes."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import shard_table, shard_task

from db.shards import SHARD_SCHEMA, ShardError, read_shard, shard_tasks, table_checksum, write_shard

CODES = np.arange(0, 40, 3)


@pytest.fixture
def shard(tmp_path):
    task = shard_task("cifar10", "naswot", CODES)
    return write_shard(shard_table("cifar10", "naswot", CODES), task, tmp_path / "s.parquet"), task


def test_a_shard_carries_its_task_and_checksum(shard):
    path, task = shard
    table = read_shard(path, task)
    assert table.num_rows == len(CODES) and table.schema == SHARD_SCHEMA
    meta = pq.read_schema(path).metadata
    assert b"tfnas.task" in meta and meta[b"tfnas.checksum"].decode() == table_checksum(table)
    assert read_shard(path).equals(table)  # self-verified without an expected task


def test_another_task_s_shard_is_refused_by_name(shard, tmp_path):
    path, task = shard
    others = {
        "dataset": shard_task("cifar100", "naswot", CODES),
        "seed": shard_task("cifar10", "naswot", CODES, seed=1),
        "batch": shard_task("cifar10", "naswot", CODES, batch_size=96),
        "images": shard_task("cifar10", "naswot", CODES, fingerprint="other"),
        "archs": shard_task("cifar10", "naswot", CODES[:-1]),
        "proxies": shard_task("cifar10", "synflow", CODES),
    }
    for what, other in others.items():
        with pytest.raises(ShardError, match="belongs to another task") as err:
            read_shard(path, other)
        assert str(path) in str(err.value) and "\n" not in str(err.value), what


def test_a_swapped_shard_file_is_refused(tmp_path):
    """Shard 3's file copied over shard 7's: same run, other architectures."""
    tasks = shard_tasks("cifar10", ("naswot",), 0, 128, False, "test", range(100), 10)
    files = [write_shard(shard_table("cifar10", "naswot", np.array(t.arch_codes)), t,
                         tmp_path / f"{i}.parquet") for i, t in enumerate(tasks)]
    files[7].write_bytes(files[3].read_bytes())
    with pytest.raises(ShardError, match="7.parquet belongs to another task"):
        read_shard(files[7], tasks[7])
    assert read_shard(files[3], tasks[3]).num_rows == 10


def test_rows_must_be_exactly_the_task_s(tmp_path):
    task = shard_task("cifar10", "naswot", CODES)
    table = shard_table("cifar10", "naswot", CODES)
    cases = {
        "lacks 1 and has 0 foreign": table.slice(1),
        "twice": pa.concat_tables([table, table.slice(0, 1)]),
        "rows with dataset 'cifar100'": table.set_column(
            1, "dataset", pa.array(["cifar100"] * table.num_rows)),
        "NaN or \\+inf score": table.set_column(7, "score", pa.array([np.nan] * table.num_rows)),
        "NaN or \\+inf score;": table.set_column(7, "score", pa.array([np.inf] * table.num_rows)),
        "negative or infinite time": table.set_column(
            8, "seconds", pa.array([-1.0] * table.num_rows)),
    }
    for why, rows in cases.items():
        with pytest.raises(ShardError, match=why):
            write_shard(rows, task, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_every_bit_flip_that_changes_a_value_is_caught(shard, tmp_path):
    """40 single-bit flips spread over the file: each is refused, or changes nothing read."""
    path, task = shard
    original = path.read_bytes()
    reference = read_shard(path, task)
    positions = np.random.default_rng(0).choice(len(original) * 8, 40, replace=False)
    refused = 0
    for bit in positions:
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        flipped = tmp_path / "flipped.parquet"
        flipped.write_bytes(bytes(data))
        try:
            table = read_shard(flipped, task)
        except ShardError:
            refused += 1
            continue
        assert table.equals(reference), f"bit {bit} changed a value and was accepted"
    assert refused >= 15  # measured 24 of 40; the rest hit bytes nothing reads back (stats)


def test_a_file_without_identity_or_not_parquet_is_refused(tmp_path):
    plain = tmp_path / "pandas.parquet"
    pq.write_table(shard_table("cifar10", "naswot", CODES), plain)
    with pytest.raises(ShardError, match="carries no readable task identity"):
        read_shard(plain)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not a parquet file at all")
    with pytest.raises(ShardError, match="not a readable Parquet file"):
        read_shard(garbage)
    with pytest.raises(ShardError, match="does not exist"):
        read_shard(tmp_path / "nowhere.parquet")
    int32 = shard_table("cifar10", "naswot", CODES).cast(pa.schema(
        [("arch_code", pa.int32()) if f.name == "arch_code" else f for f in SHARD_SCHEMA]))
    pq.write_table(int32, tmp_path / "int32.parquet")
    with pytest.raises(ShardError, match="other types than the shard schema"):
        read_shard(tmp_path / "int32.parquet")


def test_writing_is_atomic(tmp_path, monkeypatch):
    """A write that dies half-way leaves the finished shard already there intact."""
    task = shard_task("cifar10", "naswot", CODES)
    path = write_shard(shard_table("cifar10", "naswot", CODES), task, tmp_path / "s.parquet")
    before = path.read_bytes()

    def fail(table, where, **kwargs):
        with open(where, "wb") as half:  # what a crash after some bytes leaves
            half.write(before[: len(before) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", fail)
    with pytest.raises(OSError, match="disk full"):
        write_shard(shard_table("cifar10", "naswot", CODES), task, path)
    assert path.read_bytes() == before and read_shard(path, task).num_rows == len(CODES)
