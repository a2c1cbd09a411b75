"""``tfnas sql`` is read-only for everything: a shared .sql file writes no file, changes no other
database, installs or loads no extension and changes no setting — each refusal one line, exit 2.

Every test runs the CLI on a plain DuckDB file (``main.duckdb``, table ``t``) beside another
(``other.duckdb``, table ``some_table``) in ``tmp_path``, with ``HOME`` (where DuckDB keeps
extensions and secrets) inside ``tmp_path`` too, and checks that no file under ``tmp_path``
appeared, vanished or changed.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import duckdb
import pytest

import db
from db.sql_file import run_sql
from tfnas.cli import main

QUERIES = Path(__file__).resolve().parents[1] / "tfnas" / "queries"


@pytest.fixture
def where(tmp_path, monkeypatch):
    """The two databases, and a ``HOME`` of the test's own (DuckDB's ``~/.duckdb``)."""
    for name, table, rows in (("main", "t", 10), ("other", "some_table", 5)):
        conn = duckdb.connect(tmp_path / f"{name}.duckdb")
        conn.execute(f"CREATE TABLE {table} AS SELECT range AS i FROM range({rows})")
        conn.close()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "data.csv").write_text("x\n1\n2\n")
    return tmp_path


@pytest.fixture
def server():
    """A local HTTP server that records the path of every request (and answers 404)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", hits
    httpd.shutdown()
    httpd.server_close()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` (but the .sql files) with its content's hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file() else "folder"
            for p in folder.rglob("*") if p.suffix != ".sql"}


def rows(path: Path, table: str) -> int:
    conn = duckdb.connect(path, read_only=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def tfnas_sql(capsys, folder: Path, sql: str, *options: str) -> tuple[int, str, list[str]]:
    """``tfnas sql --db main.duckdb shared.sql``: exit status, stdout and stderr's lines."""
    file = folder / "shared.sql"
    file.write_text(sql)
    code = main(["sql", "--db", str(folder / "main.duckdb"), *options, str(file)])
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


def assert_refused(capsys, folder: Path, sql: str, number: int, of: int, why: str) -> str:
    """``sql`` is refused at statement ``number`` of ``of`` in one line that says why, nothing
    is printed and nothing under ``folder`` changed; returns the line."""
    before = snapshot(folder)
    code, out, err = tfnas_sql(capsys, folder, sql)
    assert snapshot(folder) == before
    assert code == 2 and out == ""
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith(f"tfnas: error: {folder / 'shared.sql'}, statement {number} of {of}: "
                           f"tfnas sql is read-only and {why}"), line
    assert "Traceback" not in line and "another process" not in line
    return line


@pytest.mark.parametrize("target", ["other.duckdb", "new.csv", "new.parquet"])
def test_copy_to_a_file_writes_nothing(where, capsys, target):
    existed = (where / target).exists()
    sql = f"SET VARIABLE x = 1;\nCOPY (SELECT 'x') TO '{where / target}';"
    line = assert_refused(capsys, where, sql, 2, 2, "opens no file but the database")
    assert "PermissionException" in line
    assert (where / target).exists() == existed  # the new file is not created
    assert rows(where / "other.duckdb", "some_table") == 5  # and other.duckdb still a database


@pytest.mark.parametrize("options", [" (READ_WRITE)", "", " (READ_ONLY)"])
def test_attach_of_another_database_is_refused(where, capsys, options):
    sql = f"ATTACH '{where / 'other.duckdb'}' AS other{options};\nDELETE FROM other.some_table;"
    assert_refused(capsys, where, sql, 1, 2, "opens no file but the database")
    assert rows(where / "other.duckdb", "some_table") == 5


def test_attach_creates_no_database(where, capsys):
    sql = f"ATTACH '{where / 'new.duckdb'}' AS new;\nCREATE TABLE new.x AS SELECT 1;"
    assert_refused(capsys, where, sql, 1, 2, "opens no file but the database")
    assert not (where / "new.duckdb").exists()
    sql = "ATTACH ':memory:' AS mem;\nCREATE TABLE mem.x AS SELECT 1;"
    assert_refused(capsys, where, sql, 1, 2, "changes no database")


def test_the_database_itself_is_not_changed(where, capsys):
    assert_refused(capsys, where, "DELETE FROM t;", 1, 1, "changes no database")
    assert_refused(capsys, where, "CREATE TABLE u (i INTEGER);", 1, 1, "changes no database")
    assert rows(where / "main.duckdb", "t") == 10


@pytest.mark.parametrize("options", ["", " (FORMAT parquet)"])
def test_export_database_creates_no_folder(where, capsys, options):
    assert_refused(capsys, where, f"EXPORT DATABASE '{where / 'dump'}'{options};", 1, 1,
                   "opens no file but the database")
    assert not (where / "dump").exists()


def test_install_reaches_no_server(where, capsys, server):
    url, hits = server
    for sql in (f"INSTALL httpfs FROM '{url}';", f"FORCE INSTALL httpfs FROM '{url}';",
                f"INSTALL '{url}/httpfs.duckdb_extension';"):
        assert_refused(capsys, where, sql, 1, 1, "opens no file but the database")
    assert hits == []  # without the switches DuckDB asks the server for the extension
    assert not (where / "home" / ".duckdb").exists()


def test_load_of_an_extension_is_refused(where, capsys):
    (where / "fake.duckdb_extension").write_bytes(b"\0" * 512)
    for sql in ("LOAD httpfs;", "LOAD spatial;", f"LOAD '{where / 'fake.duckdb_extension'}';"):
        line = assert_refused(capsys, where, sql, 1, 1, "opens no file but the database")
        assert "Loading external extensions is disabled" in line
    assert not (where / "home" / ".duckdb").exists()


def test_no_extension_is_installed_or_loaded_on_demand(where, capsys):
    # a known extension's function: DuckDB would install and load it (over the network)
    for sql in ("SELECT * FROM read_xlsx('book.xlsx');", "SELECT ST_Point(1, 2);"):
        assert_refused(capsys, where, sql, 1, 1, "installs or loads no extension")
    assert not (where / "home" / ".duckdb").exists()


@pytest.mark.parametrize("statement", [
    "SET threads = 1", "SET GLOBAL threads = 1", "PRAGMA threads = 1",
    "SET enable_external_access = true", "RESET enable_external_access",
    "SET lock_configuration = false", "SET memory_limit = '1GB'",
    "SET temp_directory = 'spill'", "SET allowed_directories = ['/']",
])
def test_no_setting_changes(where, capsys, statement):
    assert_refused(capsys, where, f"{statement};\nSELECT current_setting('threads');", 1, 2,
                   "changes no setting")


def test_no_file_is_read(where, capsys):
    for sql in (f"SELECT * FROM read_csv('{where / 'data.csv'}');",
                f"SELECT * FROM '{where / 'data.csv'}';",
                f"SELECT * FROM read_text('{where / 'data.csv'}');"):
        assert_refused(capsys, where, sql, 1, 1, "opens no file but the database")


def test_queries_and_session_variables_still_work(where, capsys):
    before = snapshot(where)
    code, out, err = tfnas_sql(capsys, where, (
        "SET VARIABLE topk = 20;\n"
        "SELECT getvariable('topk') AS k;\n"
        "CREATE TEMP TABLE doubled AS SELECT 2 * i AS j FROM t;\n"
        "CREATE TEMP MACRO plus_one(x) AS x + 1;\n"
        "SELECT count(*) AS n, plus_one(max(j)) AS top FROM doubled;\n"
        "SET schema = 'main';\n"
        "SELECT count(*) AS rows FROM t WHERE i < getvariable('topk');"), "--csv")
    assert (code, err) == (0, [])
    assert out.split() == ["k", "20", "n,top", "10,19", "rows", "10"]
    assert snapshot(where) == before


@pytest.mark.parametrize("query", sorted(p.name for p in QUERIES.glob("*.sql")))
def test_every_shipped_query_runs(score_db, capsys, query):
    import io

    import pandas as pd

    path = score_db(datasets=["cifar10"], codes=range(0, 15625, 25), seeds=(0, 1))
    before = snapshot(path.parent)
    text = "SET VARIABLE topk = 3;\nSET VARIABLE agreement_k = 5;\n" + (QUERIES / query).read_text()
    (path.parent / "q.sql").write_text(text)
    code = main(["sql", "--csv", "--db", str(path), str(path.parent / "q.sql")])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    frame = pd.read_csv(io.StringIO(out))
    # (the Suite-Zero agreement has rows only after `tfnas db import`: tests/test_suite_zero.py)
    assert len(frame) > 0 or query == "suite_zero_agreement.sql"
    if query == "topk.sql":
        assert frame.groupby("proxy").size().eq(3).all()
    if query == "proxy_agreement.sql":
        assert set(frame["k"]) == {5}
    assert snapshot(path.parent) == before


def test_a_connection_open_in_the_process_is_named(where):
    other = duckdb.connect(where / "main.duckdb", read_only=True)
    try:
        with pytest.raises(db.DatabaseError, match="open elsewhere in this process"):
            run_sql(where / "main.duckdb", "shared.sql", text="SELECT 1")
    finally:
        other.close()
    assert run_sql(where / "main.duckdb", "shared.sql", text="SELECT 1") == 1
