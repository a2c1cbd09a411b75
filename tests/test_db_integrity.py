"""The database file keeps its promises: errors classified by what they are, one writer at a
time, all or nothing, only tfnas files written, bugs kept as bugs."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
from conftest import REPO
from luigi.cmdline_parser import CmdlineParser

import db
from db.connection import (
    DatabaseError,
    DatabaseLocked,
    classify,
    explain,
    open_read_only,
)
from db.read import read_scores
from pipeline.parameters import one_line_errors
from pipeline.tasks import check_database
from tfnas.cli import main
from tfnas.errors import UserError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count(path: Path, table: str = "proxy_scores") -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tfnas: error: "), err
    return err


@pytest.fixture
def small_db(score_db, tmp_path) -> Path:
    """A copy of a small tfnas database (cifar10, naswot + params, 200 architectures)."""
    path = tmp_path / "tfnas.duckdb"
    path.write_bytes(score_db(datasets=("cifar10",), proxies=("naswot", "params"),
                              codes=range(200)).read_bytes())
    return path


def corrupt(path: Path) -> Path:
    """The review's case: 64 bytes zeroed at offset 4096 (a block's checksum no longer
    matches)."""
    data = bytearray(path.read_bytes())
    data[4096:4160] = bytes(64)
    bad = path.with_name("corrupt.duckdb")
    bad.write_bytes(bytes(data))
    return bad


def test_a_corrupt_database_is_called_corrupt_and_refused_before_any_write(small_db, capsys):
    bad = corrupt(small_db)
    before = digest(bad)
    for argv in (["db", "init", "--db", str(bad)],
                 ["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                  "naswot,params", "--db", str(bad)],
                 ["tables", "--db", str(bad)]):
        assert main(argv) == 2
        err = one_error_line(capsys)
        assert f"database {bad} is corrupt" in err and "locked" not in err, err
        assert digest(bad) == before
    with pytest.raises(DatabaseError, match="is corrupt"):
        check_database(bad)  # the pipeline's check, before any shard is scored


def test_a_message_is_matched_by_phrase_never_by_a_fragment(tmp_path):
    """'blocklist.csv' holds "lock": a missing file is not a locked database."""
    with pytest.raises(duckdb.Error) as caught:
        duckdb.sql(f"SELECT * FROM read_csv('{tmp_path / 'blocklist.csv'}')")
    assert classify(tmp_path / "x.duckdb", caught.value) is None
    message = str(explain(tmp_path / "x.duckdb", caught.value))
    assert "locked" not in message and "cannot be used" in message
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n" * 100)
    with pytest.raises(DatabaseError, match="is not a DuckDB database"):
        open_read_only(notes)


def test_writers_touch_only_tfnas_files(tmp_path, capsys):
    foreign = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(foreign)) as conn:
        conn.execute("CREATE TABLE architectures (name VARCHAR)")
        conn.execute("INSERT INTO architectures VALUES ('resnet')")
    before = digest(foreign)
    for argv in (["db", "init", "--db", str(foreign)],
                 ["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                  "naswot,params", "--db", str(foreign)]):
        assert main(argv) == 2
        assert "is not a tfnas database" in one_error_line(capsys)
        assert digest(foreign) == before
    with pytest.raises(DatabaseError, match="is not a tfnas database"):
        check_database(foreign)
    assert main(["tables", "--db", str(foreign)]) == 2
    assert "is not a tfnas database" in one_error_line(capsys)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()  # a DuckDB file with no table: db init may fill it
    assert main(["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                 "naswot,params", "--db", str(empty)]) == 2
    assert "holds no tfnas tables" in one_error_line(capsys)
    with db.writing(empty) as engine:
        db.create_schema(engine)
    assert count(empty, "architectures") == 15625


def test_one_writer_at_a_time_and_readers_see_the_whole_old_or_new_file(small_db):
    before, rows = digest(small_db), count(small_db)
    with db.writing(small_db) as engine:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM proxy_scores WHERE proxy = 'params'")
        # a second writer (same process or another) is refused at once, with one line
        with pytest.raises(DatabaseLocked, match="being written by another tfnas process"), \
                db.writing(small_db):
            pass
        # a reader meanwhile reads the whole old database
        assert read_scores(small_db).columns["cifar10"]["params"].size == 200
        assert digest(small_db) == before
    assert count(small_db) == rows - 200
    assert read_scores(small_db, proxies=["naswot"]).columns["cifar10"]["naswot"].size == 200
    assert not list(small_db.parent.glob(".tfnas-write-*"))


def test_a_writer_runs_while_another_process_reads(small_db):
    """Row 4 of the review: `tfnas db init` while `tfnas sql` held the file read-only left a
    database with architectures only. Now the writer writes a copy and renames it."""
    reader = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], "
         "read_only=True); print(c.execute('SELECT count(*) FROM proxy_scores').fetchone()[0], "
         "flush=True); time.sleep(60)", str(small_db)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "400"
        assert main(["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                     "naswot,params", "--db", str(small_db)]) == 0
    finally:
        reader.kill()
        reader.wait()
    assert count(small_db, "ensembles") >= 1 and count(small_db) == 400
    frame = read_scores(small_db, proxies=["ens_x"]).columns["cifar10"]
    assert frame["ens_x"].size == 200


def test_two_writer_processes_one_refused_and_the_database_whole(small_db):
    """Two `tfnas db ensemble` at once: exactly the accepted ones are stored, the other says so
    in one line; in a folder whose name holds '?' too (staged in the temporary folder, the
    original still locked)."""
    odd = small_db.parent / "a?b" / "tfnas.duckdb"
    odd.parent.mkdir()
    odd.write_bytes(small_db.read_bytes())
    for path in (small_db, odd):
        with db.writing(path):  # this process holds the file: the other process must give way
            out = subprocess.run([sys.executable, "-m", "tfnas.cli", "db", "ensemble", "ens_y",
                                  "--method", "mean_rank", "--members", "naswot,params", "--db",
                                  str(path)], capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "being written by another tfnas process" in out.stderr
        with duckdb.connect(str(path), read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM ensembles WHERE name = 'ens_y'"
                                ).fetchone()[0] == 0
        assert main(["db", "ensemble", "ens_y", "--method", "mean_rank", "--members",
                     "naswot,params", "--db", str(path)]) == 0
        assert count(path, "ensembles") == count(small_db, "ensembles")


def test_a_stage_left_by_a_killed_writer_is_removed_by_the_next(small_db):
    from db.connection import _stage_prefix

    odd = small_db.parent / "c?d" / "tfnas.duckdb"
    odd.parent.mkdir()
    odd.write_bytes(small_db.read_bytes())
    for path in (small_db, odd):
        parent, prefix = _stage_prefix(path)
        stale = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        (stale / "tfnas.duckdb").write_bytes(b"x" * 1000)
        with db.writing(path):
            pass
        assert not stale.exists()
        assert not list(parent.glob(f"{prefix}*"))


def test_a_failed_write_leaves_the_old_database_or_no_file(small_db, tmp_path):
    before = digest(small_db)
    with pytest.raises(RuntimeError, match="interrupted"), db.writing(small_db) as engine:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM proxy_scores")
        raise RuntimeError("interrupted")
    assert digest(small_db) == before
    new = tmp_path / "new" / "tfnas.duckdb"
    with pytest.raises(RuntimeError, match="interrupted"), db.writing(new) as engine:
        db.create_schema(engine)
        raise RuntimeError("interrupted")
    assert not new.exists() and not list(new.parent.iterdir())


@contextlib.contextmanager
def tmpfs(size: str):
    """A fresh tmpfs of ``size`` (root only; skipped with the reason elsewhere)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
    folder = Path(tempfile.mkdtemp(prefix="tfnas-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                              str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


@pytest.mark.slow
def test_db_init_on_a_full_disk_is_one_line_and_changes_nothing(small_db, capsys):
    with tmpfs("3m") as disk:  # a new database: no file left behind
        assert main(["db", "init", "--db", str(disk / "tfnas.duckdb")]) == 2
        assert "the disk is full; nothing was changed" in one_error_line(capsys)
        assert not list(disk.iterdir())
    with tmpfs("40m") as disk:  # an existing one: byte-identical afterwards
        path = disk / "tfnas.duckdb"
        path.write_bytes(small_db.read_bytes())
        before = digest(path)
        assert main(["db", "init", "--db", str(path)]) == 2
        assert "the disk is full; nothing was changed" in one_error_line(capsys)
        assert digest(path) == before and [p.name for p in disk.iterdir()] == [path.name]


def test_a_bug_in_a_command_keeps_its_traceback(monkeypatch, tmp_path):
    """Only UserError is a one-line error: any other exception propagates (the console script
    then prints its traceback and exits 1)."""
    import tfnas.cli

    def broken(args):
        return list(zip([1, 2], [1], strict=True))

    monkeypatch.setattr(tfnas.cli, "cmd_proxies", broken)
    with pytest.raises(ValueError, match="zip"):
        main(["proxies"])
    out = subprocess.run([sys.executable, "-c", "import sys; from tfnas.cli import main; "
                          "sys.exit(main(['sql', '--db', sys.argv[1], '-']))",
                          str(tmp_path / "none.duckdb")], input="SELECT 1",
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and out.stderr.count("\n") == 1  # a user error stays one line


def test_the_pipeline_reports_only_user_errors_as_one_line(capsys):
    with CmdlineParser.global_instance(["ScoreAll", "--dataset", "cifar10"]):
        with pytest.raises(SystemExit) as stopped, one_line_errors():
            raise UserError("--limit must be an integer 1..15625, got 0")
        assert stopped.value.code != 0
        err = capsys.readouterr().err
        assert err == "ERROR: UserError: --limit must be an integer 1..15625, got 0\n"
        with pytest.raises(KeyError), one_line_errors():
            raise KeyError("a bug")
    with pytest.raises(UserError), one_line_errors():  # in Python: the exception itself
        raise UserError("bad")
