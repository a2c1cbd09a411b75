"""The shipped files prove themselves before ``tfnas db init`` writes anything (db/bundle.py):
the checksums in ``tfnas/data/SHA256SUMS``, the bundle's schema and every row.

Each damaged bundle is a copy in ``tmp_path``. The byte-level cases (flipped, truncated) keep
the shipped checksum; the row-level cases are written with pyarrow and get a fresh checksum, so
only the check of the values can catch them. Each must raise one line naming the file, the
problem and the fix, and leave a new database uncreated and an existing one byte-identical.
"""

from __future__ import annotations

import hashlib
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import db.benchmark
import db.bundle
from db.bundle import (
    BUNDLE,
    CHECKSUMS,
    CHECKSUMS_NAME,
    export_bundle,
    init_database,
    read_checksums,
    verify_bundle,
)
from db.connection import DatabaseError
from db.schema import DATASETS
from tfnas.cli import main
from tfnas.errors import UserError
from tfnas.space import NUM_ARCHS

ROW = 1234  # the row a row-level case changes


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_checksum(path: Path) -> None:
    """A SHA256SUMS beside ``path`` that matches it (as a careless rebuild would leave it)."""
    path.with_name(CHECKSUMS_NAME).write_text(f"{_sha256(path)}  {path.name}\n")


def _copy_bundle(folder: Path) -> Path:
    """The shipped bundle and its shipped SHA256SUMS, copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "scores.parquet"
    shutil.copyfile(str(BUNDLE), copy)
    shutil.copyfile(str(CHECKSUMS), folder / CHECKSUMS_NAME)
    return copy


def _set(table: pa.Table, name: str, value: object, row: int = ROW) -> pa.Table:
    """``table`` with column ``name`` of row ``row`` set to ``value`` (``None``: NULL)."""
    column = table.column(name)
    mask = pa.array(np.arange(len(table)) == row)
    changed = pc.if_else(mask, pa.scalar(value, type=column.type), column)
    return table.set_column(table.schema.get_field_index(name), name, changed)


def _rows(change: Callable[[pa.Table], pa.Table]) -> Callable[[Path], None]:
    """A corruption that rewrites the rows with pyarrow and records a matching checksum."""
    def corrupt(path: Path) -> None:
        pq.write_table(change(pq.read_table(path)), path)
        _write_checksum(path)
    return corrupt


def _flip(path: Path) -> None:
    """The review's case: 50 bytes flipped at offset 1,000,000 (the middle of a smaller file)."""
    data = bytearray(path.read_bytes())
    start = 1_000_000 if len(data) > 1_000_050 else len(data) // 2
    data[start:start + 50] = bytes(b ^ 0xFF for b in data[start:start + 50])
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def _truncate_with_checksum(path: Path) -> None:
    _truncate(path)
    _write_checksum(path)


def _no_checksum(path: Path) -> None:
    path.with_name(CHECKSUMS_NAME).unlink()


def _duplicate(table: pa.Table) -> pa.Table:
    return pa.concat_tables([table, table.slice(ROW, 1)])


def _float32_score(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index("score")
    return table.set_column(index, pa.field("score", pa.float32()),
                            table.column("score").cast(pa.float32()))


#: id -> (corruption of the copied bundle, words the one-line error must hold)
CASES = {
    "flipped_bytes": (_flip, "does not match its SHA-256"),
    "truncated": (_truncate, "does not match its SHA-256"),
    "no_checksum": (_no_checksum, "has no checksum file"),
    "truncated_with_checksum": (_truncate_with_checksum, "is not a readable Parquet file"),
    "float32_score": (_rows(_float32_score), "shard schema (score is float, not double)"),
    "nan_score": (_rows(lambda t: _set(t, "score", math.nan)), "NaN score"),
    "plus_inf_score": (_rows(lambda t: _set(t, "score", math.inf)), "+inf score"),
    "null_score": (_rows(lambda t: _set(t, "score", None)), "NULL"),
    "negative_seconds": (_rows(lambda t: _set(t, "seconds", -1.0)), "seconds"),
    "nan_seconds": (_rows(lambda t: _set(t, "seconds", math.nan)), "seconds"),
    "unknown_proxy": (_rows(lambda t: _set(t, "proxy", "bogus")),
                      "a proxy this tfnas does not register"),
    "undescribed_proxy": (_rows(lambda t: _set(t, "proxy", "zico")),
                          "a proxy its metadata does not describe"),
    "arch_code_out_of_range": (_rows(lambda t: _set(t, "arch_code", NUM_ARCHS)),
                               f"arch_code outside 0..{NUM_ARCHS - 1}"),
    "unknown_dataset": (_rows(lambda t: _set(t, "dataset", "cifar1000")), "a dataset other"),
    "duplicate_key": (_rows(_duplicate), "duplicate key"),
}


@pytest.fixture(scope="module")
def good_db(tmp_path_factory) -> Path:
    """A database built from a good copy of the bundle (which must pass)."""
    folder = tmp_path_factory.mktemp("good")
    path = folder / "db" / "tfnas.duckdb"
    summary = init_database(path, bundle=_copy_bundle(folder / "bundle"))
    assert f"{len(pq.read_table(str(BUNDLE))):,} new score rows" in summary
    return path


def _assert_refused(err: pytest.ExceptionInfo, bundle: Path, words: str) -> None:
    message = str(err.value)
    assert isinstance(err.value, UserError) and "\n" not in message
    assert str(bundle) in message and words in message, message
    assert "reinstall tfnas" in message and "scripts/build_bundle.py" in message, message


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_bundle_is_refused_before_a_new_database_is_created(tmp_path, case):
    corrupt, words = CASES[case]
    bundle = _copy_bundle(tmp_path / "bundle")
    corrupt(bundle)
    database = tmp_path / "new" / "tfnas.duckdb"
    with pytest.raises(DatabaseError) as err:
        init_database(database, bundle=bundle)
    _assert_refused(err, bundle, words)
    assert not database.exists() and not database.parent.exists()


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_bundle_leaves_an_existing_database_byte_identical(tmp_path, good_db, case):
    corrupt, words = CASES[case]
    bundle = _copy_bundle(tmp_path / "bundle")
    corrupt(bundle)
    database = tmp_path / "db" / "tfnas.duckdb"
    database.parent.mkdir()
    shutil.copyfile(good_db, database)
    before = sorted(p.name for p in database.parent.iterdir())
    digest = _sha256(database)
    with pytest.raises(DatabaseError) as err:
        init_database(database, bundle=bundle)
    _assert_refused(err, bundle, words)
    assert _sha256(database) == digest
    assert sorted(p.name for p in database.parent.iterdir()) == before


def test_the_cli_prints_one_line_and_writes_nothing_for_the_reviews_flipped_bundle(
        tmp_path, monkeypatch, capsys):
    bundle = _copy_bundle(tmp_path / "bundle")
    _flip(bundle)
    monkeypatch.setattr(db.bundle, "BUNDLE", bundle)
    database = tmp_path / "new" / "tfnas.duckdb"
    assert main(["db", "init", "--db", str(database)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"tfnas: error: the score bundle {bundle} ")
    assert "changed or damaged since tfnas was installed" in err and "reinstall tfnas" in err
    assert not database.parent.exists()


def test_a_damaged_embedded_benchmark_is_refused_before_anything_is_written(tmp_path,
                                                                           monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    embedded = folder / "nats_tss_accuracy.parquet"
    shutil.copyfile(str(db.benchmark.EMBEDDED), embedded)
    shutil.copyfile(str(CHECKSUMS), folder / CHECKSUMS_NAME)
    _flip(embedded)
    monkeypatch.setattr(db.benchmark, "EMBEDDED", embedded)
    database = tmp_path / "new" / "tfnas.duckdb"
    with pytest.raises(DatabaseError) as err:
        init_database(database)
    message = str(err.value)
    assert "\n" not in message and str(embedded) in message, message
    assert "changed or damaged since tfnas was installed" in message, message
    assert "reinstall tfnas" in message
    assert not database.parent.exists()


def test_the_shipped_checksums_match_the_shipped_files():
    sums = read_checksums(str(CHECKSUMS))
    for shipped in (Path(str(BUNDLE)), Path(str(db.benchmark.EMBEDDED))):
        assert sums.get(shipped.name) == _sha256(shipped), (
            f"{shipped} does not match its line in {CHECKSUMS}: rebuild the bundle with "
            "`python scripts/build_bundle.py` (it records the checksum), or record it with "
            f"`python -c 'from db.bundle import record_checksum; record_checksum(\"{shipped}\")'`")
    verify_bundle()  # and the shipped bundle passes every check


def test_export_bundle_records_the_checksum_of_what_it_writes(tmp_path):
    """A developer's rebuild: the new bundle and its SHA256SUMS pass ``verify_bundle``."""
    import duckdb

    meta = db.bundle.bundle_metadata()
    source = tmp_path / "pipeline.duckdb"
    with duckdb.connect(str(source)) as conn:  # one whole (dataset, proxy): quick to export
        conn.execute("CREATE TABLE proxy_scores AS SELECT * FROM read_parquet(?) "
                     "WHERE dataset = 'cifar100' AND proxy = 'params'", [str(BUNDLE)])
    out = tmp_path / "out" / "scores.parquet"
    out.parent.mkdir()
    out.with_name(CHECKSUMS_NAME).write_text(f"{'0' * 64}  other.parquet\n")
    export_bundle(source, out, meta["images"], meta["proxies"], meta["published"])
    sums = read_checksums(out.with_name(CHECKSUMS_NAME))
    assert sums == {"scores.parquet": _sha256(out), "other.parquet": "0" * 64}
    assert set(verify_bundle(out)) == {"proxies", "published", "images"}
    assert len(pq.read_table(out)) == NUM_ARCHS and "cifar100" in DATASETS
