"""Rank ensembles (tfnas.ensembles): computed by SQL from the stored rows, equal to the
definitions computed with scipy.stats.rankdata, read like a proxy everywhere."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from conftest import build, metadata, shard_table, shard_task
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import db
from db.connection import DatabaseError
from db.read import read_scores
from db.shards import write_shard
from db.sql import reserved_names
from tfnas import proxies
from tfnas.cli import main
from tfnas.ensembles import METHODS, SHIPPED, check_ensemble

CODES = np.arange(0, 15625, 5)  # 3,125 architectures, code 0 (all none: naswot −inf) among them
FEWER = CODES[::3]  # params scored for a third of them only


@pytest.fixture(scope="module")
def ensemble_db(tmp_path_factory):
    directory = tmp_path_factory.mktemp("ensembles")
    path = build(directory, datasets=("cifar10",), proxies=("naswot", "synflow", "flops"),
                 codes=CODES)
    task = shard_task("cifar10", "params", FEWER)
    file = write_shard(shard_table("cifar10", "params", FEWER), task, directory / "p.parquet")
    with db.writing(path) as engine:
        db.load_shards(engine, {file: task}, *metadata(["params"]))
    assert main(["db", "ensemble", "ens_mine", "--method", "mean_rank", "--members",
                 "naswot,params,flops", "--db", str(path)]) == 0
    return path


def reference(frame, members, method):
    """The definition with scipy: over the rows every member scored, mid-ranks / n."""
    rows = frame[list(members)].dropna()
    normalised = np.column_stack([stats.rankdata(rows[m]) / len(rows) for m in members])
    score = np.log(normalised).sum(axis=1) if method == "log_rank_sum" else normalised.mean(1)
    return rows.index, score


ALL = ["naswot", "synflow", "flops", "params", "ens_naswot_synflow", "ens_naswot_synflow_flops",
       "ens_mine"]


def test_ensembles_equal_their_definition_computed_with_scipy(ensemble_db):
    frame = read_scores(ensemble_db, datasets=["cifar10"], proxies=ALL).frames["cifar10"]
    assert np.isneginf(frame["naswot"]).sum() == 1  # the −inf ties at the bottom of its ranks
    assert frame["flops"].nunique() < len(frame) / 2  # many ties: mid-ranks matter
    for name, method, members in [("ens_naswot_synflow", "log_rank_sum", ("naswot", "synflow")),
                                  ("ens_naswot_synflow_flops", "log_rank_sum",
                                   ("flops", "naswot", "synflow")),
                                  ("ens_mine", "mean_rank", ("flops", "naswot", "params"))]:
        index, expected = reference(frame, members, method)
        np.testing.assert_allclose(frame.loc[index, name], expected, rtol=1e-12, atol=1e-12)
        assert frame[name].notna().sum() == len(index)  # only where every member scored
        seconds = frame.loc[index, [f"{m}_seconds" for m in members]].sum(axis=1)
        np.testing.assert_allclose(frame.loc[index, f"{name}_seconds"], seconds)
    assert frame["ens_mine"].notna().sum() == len(FEWER)
    assert "ens_jacov_snip_synflow" not in frame  # its members are not stored: not offered
    plain = read_scores(ensemble_db, datasets=["cifar10"])  # by default: stored proxies only
    assert not [c for c in plain.frames["cifar10"] if c.startswith("ens_")]
    assert plain.ensembles == ("ens_mine", "ens_naswot_synflow", "ens_naswot_synflow_flops")
    with pytest.raises(ValueError, match="ens_jacov_snip_synflow' has no scores .* rank "
                                         "ensembles: ens_mine, ens_naswot_synflow,"):
        read_scores(ensemble_db, proxies=["ens_jacov_snip_synflow"])


def test_ensembles_are_rows_of_default_scores_and_columns_of_arch_scores(ensemble_db):
    with db.open_read_only(ensemble_db) as conn:
        long = conn.execute("SELECT proxy, count(*), any_value(data_fingerprint) FROM "
                            "default_scores WHERE proxy LIKE 'ens_%' OR proxy = 'ens_mine' "
                            "GROUP BY proxy ORDER BY proxy").fetchall()
        wide = conn.execute("SELECT count(ens_mine), count(ens_naswot_synflow), "
                            "count(ens_jacov_snip_synflow) FROM arch_scores").fetchone()
        defined = conn.execute("SELECT name, method, members FROM ensembles ORDER BY name"
                               ).fetchall()
    assert long == [("ens_mine", len(FEWER), "ensemble"),
                    ("ens_naswot_synflow", len(CODES), "ensemble"),
                    ("ens_naswot_synflow_flops", len(CODES), "ensemble")]
    assert wide == (len(FEWER), len(CODES), 0)
    assert ("ens_mine", "mean_rank", "flops,naswot,params") in defined
    assert {e.name for e in SHIPPED} <= {name for name, _, _ in defined}


def test_the_reports_read_an_ensemble_like_a_proxy(ensemble_db, tmp_path, capsys):
    assert main(["correlations", "--db", str(ensemble_db), "--proxies", "ens_mine,naswot",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    frame = read_scores(ensemble_db, datasets=["cifar10"], proxies=ALL).frames["cifar10"]
    rows = frame[["ens_mine", "test_acc_200ep"]].dropna()
    rho = stats.spearmanr(rows["ens_mine"], rows["test_acc_200ep"]).statistic
    assert f"| cifar10 | ens_mine | {len(FEWER)} | 0 |" in out
    assert f"{rho:.3f} [" in out


def test_redefining_replaces_and_bad_definitions_get_one_line(ensemble_db, tmp_path, capsys):
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(ensemble_db.read_bytes())
    assert main(["db", "ensemble", "ens_mine", "--method", "log_rank_sum", "--members",
                 "naswot,synflow", "--db", str(copy)]) == 0
    frame = read_scores(copy, datasets=["cifar10"], proxies=ALL).frames["cifar10"]
    np.testing.assert_allclose(frame["ens_mine"], frame["ens_naswot_synflow"])
    capsys.readouterr()
    for argv, message in [
        (["naswot", "--method", "mean_rank", "--members", "naswot,synflow"], "must be 'ens_'"),
        (["ens_x", "--method", "mean_rank", "--members", "naswot"], "at least two"),
        (["ens_x", "--method", "mean_rank", "--members", "naswot,synflow,naswot"],
         "argument --members: 'naswot' is listed twice"),
        (["ens_x", "--method", "mean_rank", "--members", "naswot,nope"], "unknown proxy 'nope'"),
        (["ens_x", "--method", "vote", "--members", "naswot,synflow"], "invalid choice"),
        (["ens_Bad-Name", "--method", "mean_rank", "--members", "naswot,synflow"], "a-z, 0-9"),
    ]:
        assert main(["db", "ensemble", *argv, "--db", str(copy)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert main(["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                 "naswot,synflow", "--db", str(tmp_path / "none.duckdb")]) == 2
    assert "tfnas db init" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()


names = st.one_of(st.text(st.characters(codec="utf-8"), max_size=70),
                  st.text("abcz09_-A", max_size=62).map(lambda tail: "ens_" + tail))


@given(name=names, method=st.sampled_from([*METHODS, "vote", ""]),
       members=st.lists(st.sampled_from([*proxies.names(), "nope", ""]), max_size=4))
def test_check_ensemble_accepts_exactly_the_valid_definitions(name, method, members):
    valid = (name.startswith("ens_") and 5 <= len(name) <= 63
             and all(c in "abcdefghijklmnopqrstuvwxyz0123456789_" for c in name)
             and method in METHODS
             and set(members) <= set(proxies.names()) and len(set(members)) >= 2)
    try:
        ensemble = check_ensemble(name, method, members, proxies.names())
    except ValueError as err:
        assert not valid and "\n" not in str(err) and len(str(err)) < 400
    else:
        assert valid and ensemble.members == tuple(sorted(set(members)))


def test_a_database_written_before_ensembles_is_refused_then_upgraded_by_db_init(ensemble_db,
                                                                              tmp_path):
    from db.sql import configuration_sql
    from tfnas.config import DEFAULT

    old = tmp_path / "old.duckdb"
    old.write_bytes(ensemble_db.read_bytes())
    with duckdb.connect(str(old)) as conn:  # as an earlier tfnas left it: no ensembles anywhere
        conn.execute("DROP TABLE ensembles")
        conn.execute("DROP TABLE tfnas_schema")
        conn.execute("CREATE OR REPLACE VIEW default_scores AS "
                     + configuration_sql(DEFAULT, ensembles=False))
    with pytest.raises(DatabaseError, match=r"written by an older tfnas; run `tfnas db init "
                                            r"--db .*old.duckdb` to upgrade it"):
        read_scores(old, datasets=["cifar10"])
    assert main(["db", "init", "--db", str(old)]) == 0  # adds the table (and the shipped scores)
    frame = read_scores(old, datasets=["cifar10"], proxies=["naswot", "ens_naswot_synflow"]
                        ).frames["cifar10"]
    assert frame["ens_naswot_synflow"].notna().sum() == frame["naswot"].notna().sum() > 0


# --- ensemble names: never two columns of arch_scores (or of a report) with one name ---------

def ensemble_names(path):
    with duckdb.connect(str(path), read_only=True) as conn:
        return sorted(name for name, in conn.execute("SELECT name FROM ensembles").fetchall())


def arch_scores_columns(path):
    with duckdb.connect(str(path), read_only=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'arch_scores'"
        ).fetchall()]


def test_a_name_ending_in_seconds_beside_its_stem_is_refused_and_nothing_stored(
        ensemble_db, tmp_path, capsys):
    """Was: `ens_x_seconds` beside `ens_x` overwrote ens_x's seconds column with its score
    (a search time of -20.5 s) and DuckDB renamed a column ens_x_seconds_1."""
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(ensemble_db.read_bytes())
    assert main(["db", "ensemble", "ens_x", "--method", "mean_rank", "--members",
                 "naswot,synflow", "--db", str(copy)]) == 0
    before, columns = ensemble_names(copy), arch_scores_columns(copy)
    capsys.readouterr()
    assert main(["db", "ensemble", "ens_x_seconds", "--method", "mean_rank", "--members",
                 "naswot,flops", "--db", str(copy)]) == 2
    assert capsys.readouterr().err == (
        "tfnas: error: ensemble name 'ens_x_seconds' ends in _seconds, which names the seconds "
        "column of each proxy and ensemble in arch_scores and the reports ('ens_x_seconds' "
        "would be that column of 'ens_x'); choose a name that does not end in _seconds\n")
    assert ensemble_names(copy) == before and "ens_x_seconds" not in before
    assert arch_scores_columns(copy) == columns
    assert "ens_x_seconds" in columns and not [c for c in columns if c.endswith("_1")]


def test_a_clash_stored_by_an_older_tfnas_is_one_line_never_a_renamed_column(ensemble_db,
                                                                              tmp_path, capsys):
    """The guard behind the name check: arch_scores (regenerated on every write) and
    read_scores raise instead of renaming or overwriting a column."""
    from db.schema import arch_scores_sql

    old = tmp_path / "old.duckdb"
    old.write_bytes(ensemble_db.read_bytes())
    with duckdb.connect(str(old)) as conn:  # as an earlier tfnas let a user define it
        conn.execute("INSERT INTO ensembles VALUES ('ens_mine_seconds', 'mean_rank', "
                     "'naswot,synflow', 'clash')")
    before = ensemble_names(old)
    fix = "DELETE FROM ensembles WHERE name = 'ens_mine_seconds'"
    assert main(["db", "ensemble", "ens_y", "--method", "mean_rank", "--members",
                 "naswot,synflow", "--db", str(old)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "tfnas: error: two columns of arch_scores would be named ens_mine_seconds: the score "
        "of ens_mine_seconds and the seconds of ens_mine; remove or rename ens_mine_seconds")
    assert fix in err
    assert ensemble_names(old) == before  # the transaction rolled back: no ens_y
    with pytest.raises(DatabaseError, match="two columns of the scores read from .* would be "
                                            "named ens_mine_seconds"):
        read_scores(old, datasets=["cifar10"], proxies=["ens_mine", "ens_mine_seconds"])
    for names in (["ens_a", "ens_a_seconds"], ["naswot", "test_acc_12ep"], ["dataset"]):
        with pytest.raises(DatabaseError, match="two columns of arch_scores would be named"):
            arch_scores_sql(names)


@given(name=st.one_of(names, st.sampled_from(sorted(reserved_names())),
                      names.map(lambda name: name + "_seconds")))
def test_check_ensemble_name_refuses_exactly_the_names_of_the_store(name):
    from db.sql import check_ensemble_name

    clash = name.endswith("_seconds") or name in reserved_names()
    try:
        check_ensemble_name(name)
    except ValueError as err:
        assert clash and "\n" not in str(err) and len(str(err)) < 400
        assert ("ends in _seconds" if name.endswith("_seconds") else "database's tables and "
                                                                     "views") in str(err)
    else:
        assert not clash


@given(st.lists(names, max_size=8))
def test_names_the_checks_accept_never_make_a_column_twice(candidates):
    """Whatever ensembles are defined (each accepted by tfnas db ensemble's checks), beside
    every registered proxy, arch_scores and the reports have one column per name."""
    from db.sql import check_ensemble_name, wide_columns

    accepted = []
    for name in candidates:
        try:
            check_ensemble(name, "mean_rank", ["naswot", "synflow"], proxies.names())
            check_ensemble_name(name)
        except ValueError:
            continue
        accepted.append(name)
    chosen = [*proxies.names(), *dict.fromkeys(accepted)]
    columns = wide_columns(chosen)
    assert len(columns) == len(set(columns)) == 9 + 2 * len(chosen)
