"""Tables I–V (tfnas.replay.tables) and ``tfnas tables`` on small databases built with the
db API (conftest.score_db)."""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import DATASETS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import db
from db.connection import DatabaseError
from db.read import read_scores
from tfnas.cli import main
from tfnas.replay.search import ScoreTable, random_search
from tfnas.replay.search.streams import search_rng
from tfnas.replay.tables import (
    CHUNK,
    MEASURES,
    TABLES,
    Moments,
    render,
    table_1,
    table_2,
    table_3,
    table_4,
    table_5,
    tables,
)


@pytest.fixture(scope="module")
def full_db(score_db):
    return score_db()


@pytest.fixture(scope="module")
def scores(full_db):
    loaded = read_scores(full_db)
    assert loaded.notes == [] and list(loaded.frames) == list(DATASETS)
    return loaded.frames


def test_all_five_tables_have_their_rows_and_columns(scores):
    result = tables(scores, runs=20)
    assert list(result) == list(TABLES)
    for name, frame in result.items():
        search, proxy = TABLES[name]
        assert (frame["search"] == search).all() and (frame["proxy"] == proxy).all()
        assert {*MEASURES, *(f"study_{m}" for m in MEASURES)} <= set(frame.columns)
        sizes = [10, 100, 1000] if name == "I" else [100] if search == "random" else [None]
        expected = [(d, n, row) for d in DATASETS for n in sizes
                    for row in ("chosen", "optimal", "population")]
        got = [(d, None if np.isnan(n) else int(n), row)
               for d, n, row in frame[["dataset", "n", "row"]].itertuples(index=False)]
        assert got == expected
        if search == "rea":
            assert (frame[["cycles", "population", "tournament"]] == [1000, 64, 20]).all().all()
        assert frame[MEASURES[:4]].notna().all().all()
        assert frame.loc[frame["row"] == "chosen", MEASURES[4:]].notna().all().all()
        assert frame.attrs["notes"] == []


def test_tables_replayed_together_equal_each_table_alone(scores):
    together = tables(scores, n=50, runs=4)
    alone = {"I": table_1(scores, n=50, runs=4), "II": table_2(scores, n=50, runs=4),
             "III": table_3(scores, n=50, runs=4), "IV": table_4(scores, runs=4),
             "V": table_5(scores, runs=4)}
    for name, frame in alone.items():
        pd.testing.assert_frame_equal(together[name], frame)


def test_study_numbers_sit_beside_ours_on_chosen_rows(scores, shared_data):
    result = {"I": table_1(scores, runs=5), "II": table_2(scores, runs=5)}
    shipped = pd.read_csv(shared_data / "study_tables.csv")
    pd.testing.assert_frame_equal(shipped, pd.read_csv("tfnas/data/study_tables.csv"))
    for frame in result.values():
        assert frame.loc[frame["row"] == "chosen", "study_accuracy_mean"].notna().all()
        assert frame.loc[frame["row"] != "chosen", "study_accuracy_mean"].isna().all()
    table_i = result["I"].set_index(["dataset", "n", "row"])
    assert table_i.loc[("cifar10", 100.0, "chosen"), "study_accuracy_mean"] == 68.717
    assert table_i.loc[("ImageNet16-120", 1000.0, "chosen"), "study_time_std_s"] == 0.321
    assert result["II"].set_index(["dataset", "row"]).loc[
        ("cifar100", "chosen"), "study_score_mean"] == 1738.566


def test_cells_are_the_searches_they_describe(scores):
    """Chosen / optimal / population rows agree with a direct search on the same arrays."""
    frame = table_2(scores, runs=200).set_index(["dataset", "row"])
    lookup = ScoreTable.from_frame(scores["cifar100"], "naswot")
    runs = random_search(lookup, 100, 200, search_rng(0, "random", "naswot", "cifar100", 100))
    chosen = frame.loc[("cifar100", "chosen")]
    assert chosen["accuracy_mean"] == pytest.approx(runs["accuracy"].mean())
    assert chosen["accuracy_std"] == pytest.approx(runs["accuracy"].std(ddof=0))
    assert chosen["score_mean"] == pytest.approx(runs["score"].mean())
    assert chosen["time_mean_s"] == pytest.approx(runs["seconds"].mean())
    # naswot seconds are 0.2 + 0.1·U(0, 1) per arch: 100 archs take 25 s on average
    assert 24.0 < chosen["time_mean_s"] < 26.0
    optimal, population = frame.loc[("cifar100", "optimal")], frame.loc[("cifar100", "population")]
    assert optimal["accuracy_mean"] == pytest.approx(runs["optimal_accuracy"].mean())
    assert optimal["accuracy_mean"] > chosen["accuracy_mean"] > population["accuracy_mean"]
    # random search evaluates architectures uniformly: the population is the whole space
    space = scores["cifar100"]["test_acc_12ep"]
    assert population["accuracy_mean"] == pytest.approx(space.mean(), abs=0.1)
    assert population["accuracy_std"] == pytest.approx(space.std(ddof=0), rel=0.02)


def test_tables_are_seeded_and_evolution_beats_random_sampling(scores):
    a = table_4(scores, runs=10)
    pd.testing.assert_frame_equal(a, table_4(scores, runs=10))
    assert not a.equals(table_4(scores, runs=10, seed=1))
    # REA's population concentrates on good architectures; random sampling's does not
    rea = a.set_index(["dataset", "row"])["accuracy_mean"]
    space = scores["cifar10"]["test_acc_12ep"].mean()
    assert rea[("cifar10", "population")] > space + 5


def test_markdown_puts_ours_beside_the_study_only_for_the_same_quantity(scores):
    # Table II's study numbers are 12-epoch accuracy: beside our test_acc_12ep
    lines = render(table_2(scores, runs=5)).splitlines()
    assert lines[0].startswith("### Table II: naswot, random search, N = 100; 5 runs")
    assert lines[2].startswith("| dataset | row | accuracy (ours) | accuracy (study) |")
    cifar100 = next(line for line in lines if line.startswith("| cifar100 | chosen |"))
    assert "| 1738.57 ± " in cifar100
    assert "Study: 12-epoch (split unstated) accuracy" in lines[-1]
    # Table I's are 12-epoch VALIDATION accuracy: not beside test_acc_12ep, printed apart
    text = render(table_1(scores, runs=5))
    header = text.splitlines()[2]
    assert header.startswith("| dataset | N | row | accuracy | score | time s |")
    assert "(study)" not in header
    assert "The study's Table I measures 12-epoch validation accuracy, not test_acc_12ep" in text
    apart = text.split("not beside ours")[1]
    assert "| cifar10 | 100 | 68.72 ± 12.80 | 1753.81 ± 118.31 |" in apart
    # and 200-epoch accuracy is never beside the study's 12-epoch numbers
    text = render(table_2(scores, runs=5, accuracy="test_acc_200ep"))
    assert "(study)" not in text.splitlines()[2] and "not test_acc_200ep" in text


def test_bad_arguments_are_one_line_errors(scores):
    with pytest.raises(ValueError, match="unknown accuracy column 'test_acc'"):
        tables(scores, accuracy="test_acc")
    with pytest.raises(ValueError, match="--n must be in 1..15625"):
        tables(scores, n=20_000)
    with pytest.raises(ValueError, match=r"--runs must be an integer in 1..100,000, got 0"):
        tables(scores, runs=0)
    with pytest.raises(ValueError, match=r"--runs must be an integer in 1..100,000, got "
                                         r"10000000 \(runs are replayed 2,000 at a time"):
        tables(scores, runs=10_000_000)


def test_runs_are_chunked_and_combine_exactly(scores):
    """R ≤ CHUNK is one replay; R > CHUNK replays chunks whose moments merge exactly."""
    lookup = ScoreTable.from_frame(scores["cifar10"], "naswot")
    values = np.random.default_rng(3).normal(size=1001)
    merged = Moments.of(values[:400]) + Moments.of(values[400:]) + Moments()
    assert merged.mean_std == pytest.approx((values.mean(), values.std(ddof=0)))
    groups = [np.array([0.5, 1.0, 1.5]), np.array([3.0, 5.0])]
    pooled = Moments.pooled([len(g) for g in groups], [g.mean() for g in groups],
                            [g.std() for g in groups])
    sample = np.concatenate(groups)
    assert pooled.mean_std == pytest.approx((sample.mean(), sample.std(ddof=0)))
    runs = CHUNK + 7
    frame = table_2(scores, runs=runs, n=10).set_index(["dataset", "row"])
    rng = search_rng(0, "random", "naswot", "cifar10", 10)
    direct = pd.concat([random_search(lookup, 10, CHUNK, rng), random_search(lookup, 10, 7, rng)])
    chosen = frame.loc[("cifar10", "chosen")]
    assert chosen["accuracy_mean"] == pytest.approx(direct["accuracy"].mean())
    assert chosen["accuracy_std"] == pytest.approx(direct["accuracy"].std(ddof=0))
    assert frame.loc[("cifar10", "chosen")].name == ("cifar10", "chosen")


def test_any_stored_proxy_gets_its_search_tables(scores):
    result = tables(scores, runs=5, proxies=["params"])
    assert list(result) == ["random params", "REA params"]
    random = result["random params"]
    assert sorted(random["n"].unique()) == [10, 100, 1000] and (random["proxy"] == "params").all()
    assert random["study_accuracy_mean"].isna().all()
    text = render(random)
    assert text.startswith("### Search: params, random search, N = 10, 100, 1000; 5 runs")
    with pytest.raises(ValueError, match="no table could be computed: cifar10: no zico scores"):
        tables(scores, runs=5, proxies=["zico"])


def test_partly_scored_database_skips_with_notes(score_db):
    codes = np.random.default_rng(0).choice(15625, 500, replace=False)
    path = score_db(datasets=["cifar10"], codes=np.sort(codes))
    loaded = read_scores(path)
    scores, notes = loaded.frames, loaded.notes
    assert list(scores) == ["cifar10"]
    for note, dataset in zip(notes, ("cifar100", "ImageNet16-120"), strict=True):
        assert note.startswith(f"{path} has no scores for {dataset}; score it with")
        assert f"luigi --module pipeline ScoreAll --dataset {dataset}" in note
    result = tables(scores, runs=5)
    assert sorted(result["I"]["n"].unique()) == [10, 100]  # N = 1000 > 500 scored
    assert any("N=1000 but cifar10 has 500 naswot-scored" in n for n in result["I"].attrs["notes"])
    for name in ("IV", "V"):
        assert result[name].empty
        assert "only 500 of 15625 architectures of cifar10" in result[name].attrs["notes"][0]


def test_database_without_naswot_or_synflow_is_an_error(score_db):
    path = score_db(datasets=["cifar10"], proxies=["params", "flops"], codes=np.arange(300),
                    accuracies=False)
    scores = read_scores(path).frames
    with pytest.raises(ValueError, match=r"^no table could be computed: cifar10: no naswot "
                                         r"scores for cifar10 in the database \(it has flops, "
                                         r"params\).*luigi"):
        tables(scores, runs=5)


def test_cli_reads_only_the_tables_proxies_and_says_what_is_missing(score_db, tmp_path,
                                                                      capsys):
    """The study's tables read naswot and synflow only (if_stored): without synflow, Tables
    III and V are skipped with the command to run; without either, one error names them."""
    some = score_db(datasets=["cifar10"], proxies=["naswot", "params"], codes=np.arange(300))
    loaded = read_scores(some, proxies=["naswot", "synflow"], if_stored=True)
    assert [c for c in loaded.columns["cifar10"] if not c.endswith("_seconds")][-1] == "naswot"
    assert "params" not in loaded.columns["cifar10"]
    assert main(["tables", "--db", str(some), "--runs", "3", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "### Table I:" in out and "### Table III:" not in out
    assert "Table III: skipped 1 dataset(s): cifar10: no synflow scores for cifar10" in err
    none = score_db(datasets=["cifar10"], proxies=["params", "flops"], codes=np.arange(300),
                    accuracies=False)
    assert set(read_scores(none, proxies=["naswot"], if_stored=True).columns["cifar10"]) >= {
        "params", "flops"}  # none of them stored: everything, so the error can say what is
    assert main(["tables", "--db", str(none), "--runs", "3", "--out", str(tmp_path)]) == 2
    assert "no naswot scores for cifar10 in the database (it has flops, params)" in (
        capsys.readouterr().err)
    with pytest.raises(ValueError, match="--proxies: 'synflow' has no scores"):
        read_scores(some, proxies=["naswot", "synflow"])  # strict without if_stored


def test_empty_database_says_what_to_run(tmp_path):
    with db.writing(tmp_path / "empty.duckdb") as engine:
        db.create_schema(engine)
    with pytest.raises(DatabaseError, match=r"has no scores for cifar10; score it with `luigi "
                                            r"--module pipeline ScoreAll --dataset cifar10` or "
                                            r"run `tfnas db init --db "):
        read_scores(tmp_path / "empty.duckdb")


def test_cli_prints_markdown_and_writes_csv(full_db, tmp_path, capsys):
    assert main(["tables", "--db", str(full_db), "--runs", "4", "--n", "50",
                 "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# scores: seed 0, batch 128, no augmentation")
    assert out.count("### Table ") == 5 and "N = 50;" in out
    for name in TABLES:
        written = pd.read_csv(tmp_path / f"table_{name}.csv")
        assert list(written["row"].unique()) == ["chosen", "optimal", "population"]
        assert (written["runs"] == 4).all()
    assert err.splitlines() == [f"note: wrote 5 CSV files to {tmp_path}"]


def test_cli_groups_skip_notes_into_one_line_per_table(score_db, tmp_path, capsys):
    path = score_db(datasets=["cifar10"], codes=np.arange(0, 15625, 25))
    assert main(["tables", "--db", str(path), "--runs", "3", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert sum(line.startswith("note: skipped: ") for line in err) == 2  # cifar100, ImageNet16
    for name in ("I", "IV", "V"):
        assert sum(line.startswith(f"note: Table {name}: skipped ") for line in err) == 1
    assert len(err) == 2 + 3 + 1  # datasets, tables I/IV/V, the CSV line


def test_database_errors_are_one_line_and_exit_2(tmp_path, capsys):
    """Was: `--db notes.txt`, or a database another process holds for writing, gave a
    Python traceback and exit 1."""
    import subprocess
    import sys

    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    for command in ("tables", "correlations", "plot"):
        assert main([command, "--db", str(notes), "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"database {notes} is not a DuckDB database" in err
    locked = tmp_path / "locked.duckdb"
    with db.writing(locked) as engine:
        db.create_schema(engine)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               "c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
                               "time.sleep(60)", str(locked)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert main(["correlations", "--db", str(locked), "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is locked by another process" in err
    finally:
        holder.kill()
        holder.wait()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(argv=st.lists(st.sampled_from(["--runs", "--n", "--seed", "--batch-size", "--accuracy",
                                      "--proxies", "--search-seed", "0", "-1", "1.5", "",
                                      "300000", "naswot", "zzz", "test_acc_12ep", "x" * 500,
                                      "--unique", "--fingerprint"]), max_size=6))
@example(argv=["--fingerprint", "x" * 500])  # found by CI's run: echoed whole per dataset
def test_property_random_arguments_never_crash_with_a_traceback(full_db, tmp_path, capsys, argv):
    try:
        status = main(["tables", "--db", str(full_db), "--out", str(tmp_path), "--runs", "2",
                       *argv])
    except SystemExit as exit_:  # -h is not in the alphabet: argparse never exits here
        raise AssertionError(f"argparse exited: {exit_}") from None
    err = capsys.readouterr().err
    assert status in (0, 2)
    if status == 2:
        assert err.count("\n") == 1 and err.startswith("tfnas: error: ") and len(err) < 800


@pytest.mark.parametrize(("argv", "message"), [
    (["--accuracy", "top1"], "unknown accuracy column 'top1'"),
    (["--n", "0"], "argument --n: must be a positive integer, got '0'"),
    (["--n", "20000"], "--n must be in 1..15625"),
    (["--db", "nowhere.duckdb"], "no tfnas database at nowhere.duckdb; create one with "
                                 "`tfnas db init --db nowhere.duckdb`"),
    (["--runs", "300000"], "--runs must be an integer in 1..100,000, got 300000"),
    (["--proxies", "zico"], "--proxies: 'zico' has no scores in"),
    (["--seed", "-1"], "argument --seed: must be an integer in 0..2147483647, got '-1'"),
    (["--batch-size", "96"], "has no cifar10 scores for seed 0, batch 96, no augmentation; "
                             "it holds seed 0, batch 128, no augmentation, images test: "
                             "flops,naswot,params,synflow (15625 archs)"),
])
def test_cli_errors_are_one_line(full_db, tmp_path, capsys, argv, message):
    argv = ["tables", "--db", str(full_db), "--out", str(tmp_path), *argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfnas: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["tables", "correlations", "plot"])
def test_an_out_path_that_is_a_file_is_refused_before_any_work(full_db, capsys, command):
    assert main([command, "--db", str(full_db), "--out", str(full_db)]) == 2
    err = capsys.readouterr().err
    assert err == (f"tfnas: error: argument --out: {full_db} is a file; give a folder (it is "
                   f"created when missing) (see 'tfnas {command} -h')\n")


# --- the reports' arguments, checked before any work (tables, correlations, plot) -----------

@pytest.mark.parametrize("command", ["tables", "correlations", "plot"])
@pytest.mark.parametrize(("argv", "message"), [
    (["--proxies", "naswot,synflow,naswot"],  # each of its rows was printed twice
     "argument --proxies: 'naswot' is listed twice; name each proxy once"),
    (["--fingerprint", ""],  # was read as "not given": the default images
     "argument --fingerprint: is empty; give the fingerprint of the images or leave the flag "
     "out"),
    (["--fingerprint", " "], "argument --fingerprint: is empty"),
    (["--out", "{file}/sub"],  # was a traceback after everything was computed and printed
     "argument --out: cannot write in {file}/sub ({file} is not a folder); choose a folder you "
     "can write"),
    (["--db", "folder"], "argument --db: 'folder' is a folder, not a database file; give a "
                         "DuckDB file (`tfnas db init --db FILE` creates one)"),
    (["--db", "fifo"], "argument --db: 'fifo' is a named pipe, not a database file"),
])
def test_report_arguments_are_refused_in_one_line_before_any_work(full_db, tmp_path, capsys,
                                                                   monkeypatch, command, argv,
                                                                   message):
    monkeypatch.chdir(tmp_path)  # short relative paths: argparse's messages cut long words
    (tmp_path / "file.txt").write_text("a file\n")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    runs = ["--runs", "2"] if command == "tables" else []
    assert main([command, "--db", str(full_db), "--out", "out", *runs,
                 *(a.format(file="file.txt") for a in argv)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"tfnas: error: {message.format(file='file.txt')}")
    assert not (tmp_path / "out").exists()


def test_an_unknown_fingerprint_is_counted_per_dataset_and_the_fix_named(tmp_path, capsys):
    """Was: `--fingerprint` naming images no score was computed on: "skipped 1 dataset(s)"
    followed by three datasets, and `luigi ... ScoreAll --proxies naswot` as the fix, which
    scores whatever images --data holds, not those."""
    from conftest import build, metadata, shard_table, shard_task

    from db.shards import write_shard

    codes = np.arange(300)
    path = build(tmp_path, datasets=("cifar10", "cifar100"), proxies=("naswot",), codes=codes)
    shards = {}
    for dataset in ("cifar10", "cifar100"):  # data-free: stored under images 'none'
        task = shard_task(dataset, "synflow", codes, fingerprint="none")
        table = shard_table(dataset, "synflow", codes, fingerprint="none")
        shards[write_shard(table, task, tmp_path / f"{dataset}-none.parquet")] = task
    with db.writing(path) as engine:
        db.load_shards(engine, shards, *metadata(["synflow"]))
    assert main(["tables", "--db", str(path), "--out", str(tmp_path / "out"), "--runs", "2",
                 "--fingerprint", "nope"]) == 0
    err = capsys.readouterr().err.splitlines()
    table_1 = next(line for line in err if line.startswith("note: Table I: "))
    assert table_1.startswith("note: Table I: skipped 2 dataset(s): cifar10: no naswot scores "
                              "from images 'nope' for cifar10 in the database: leave "
                              "--fingerprint out (then the images covering the most "
                              "architectures are read) or run `luigi --module pipeline "
                              "ScoreAll --dataset cifar10 --proxies naswot --data IMAGES` with "
                              "IMAGES the images of fingerprint 'nope' first | cifar100: ")
    table_4 = next(line for line in err if line.startswith("note: Table IV: "))
    assert table_4.startswith("note: Table IV: skipped 2 dataset(s): ")


def test_a_report_file_that_cannot_be_written_is_one_line_saying_so(tmp_path):
    """Checked before any work (--out); should it fail later all the same (a full disk), it is
    one line "cannot write ...", not a traceback."""
    from tfnas.errors import UnwritableError
    from tfnas.replay.files import write_csv

    (tmp_path / "file.txt").write_text("a file\n")
    with pytest.raises(UnwritableError, match=r"^cannot write .*file\.txt/t\.csv: \w"):
        write_csv([{"a": 1}], tmp_path / "file.txt" / "t.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]
