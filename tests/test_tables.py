"""Tables I–V (tfnas.tables) and ``tfnas tables`` on small databases built with the db API."""

import numpy as np
import pandas as pd
import pytest
import score_db

import db
from tfnas.cli import main
from tfnas.reporting import load_scores
from tfnas.search import ScoreTable, random_search
from tfnas.tables import (
    MEASURES,
    TABLES,
    render,
    table_1,
    table_2,
    table_3,
    table_4,
    table_5,
    tables,
)

DATASETS = list(score_db.DATASETS)


@pytest.fixture(scope="module")
def full_db(tmp_path_factory):
    return score_db.cached(tmp_path_factory)


@pytest.fixture(scope="module")
def scores(full_db):
    loaded, notes = load_scores(full_db)
    assert notes == [] and list(loaded) == DATASETS
    return loaded


def test_all_five_tables_have_their_rows_and_columns(scores, tmp_path):
    result = tables(scores, runs=20, study=tmp_path / "no-study.csv")
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
        assert frame.attrs["notes"] == [f"the study's numbers ({tmp_path / 'no-study.csv'}) "
                                        "are absent: printing ours alone"]


def test_tables_replayed_together_equal_each_table_alone(scores):
    together = tables(scores, n=50, runs=4, study=None)
    alone = {"I": table_1(scores, runs=4, study=None), "II": table_2(scores, 50, runs=4,
                                                                       study=None),
             "III": table_3(scores, 50, runs=4, study=None), "IV": table_4(scores, runs=4,
                                                                          study=None),
             "V": table_5(scores, runs=4, study=None)}
    for name, frame in alone.items():
        pd.testing.assert_frame_equal(together[name], frame)


def test_study_numbers_sit_beside_ours_on_chosen_rows(scores, shared_data):
    study = shared_data / "study_tables.csv"
    result = {"I": table_1(scores, runs=5, study=study), "II": table_2(scores, runs=5,
                                                                       study=study)}
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
    frame = table_2(scores, runs=200, study=None).set_index(["dataset", "row"])
    lookup = ScoreTable.from_frame(scores["cifar100"], "naswot")
    runs = random_search(lookup, 100, 200, np.random.default_rng([0, 1, 1, 100]))
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
    a = table_4(scores, runs=10, study=None)
    pd.testing.assert_frame_equal(a, table_4(scores, runs=10, study=None))
    assert not a.equals(table_4(scores, runs=10, seed=1, study=None))
    # REA's population concentrates on good architectures; random sampling's does not
    rea = a.set_index(["dataset", "row"])["accuracy_mean"]
    space = scores["cifar10"]["test_acc_12ep"].mean()
    assert rea[("cifar10", "population")] > space + 5


def test_markdown_puts_ours_beside_the_study(scores, shared_data):
    text = render(table_1(scores, runs=5, study=shared_data / "study_tables.csv"))
    lines = text.splitlines()
    assert lines[0].startswith("### Table I: naswot, random search, N = 10, 100, 1000; 5 runs")
    assert lines[2].startswith("| dataset | N | row | accuracy (ours) | accuracy (study) |")
    cifar10_100 = next(line for line in lines if line.startswith("| cifar10 | 100 | chosen |"))
    assert "| 68.72 ± 12.80 |" in cifar10_100 and "| 1753.81 ± 118.31 |" in cifar10_100
    assert len([line for line in lines if line.startswith("| ")]) == 2 + 27  # header, rule


def test_bad_arguments_are_one_line_errors(scores):
    with pytest.raises(ValueError, match="unknown accuracy column 'test_acc'"):
        tables(scores, accuracy="test_acc")
    with pytest.raises(ValueError, match="--n must be in 1..15625"):
        tables(scores, n=20_000)
    with pytest.raises(ValueError, match="--runs must be at least 1"):
        tables(scores, runs=0)


def test_partly_scored_database_skips_with_notes(tmp_path_factory):
    codes = np.random.default_rng(0).choice(15625, 500, replace=False)
    path = score_db.cached(tmp_path_factory, datasets=["cifar10"], codes=np.sort(codes))
    scores, notes = load_scores(path)
    assert list(scores) == ["cifar10"]
    for note, dataset in zip(notes, ("cifar100", "ImageNet16-120"), strict=True):
        assert note.startswith(f"skipped {dataset}: ")
        assert f"luigi --module pipeline ScoreAll --dataset {dataset}" in note
    result = tables(scores, runs=5, study=None)
    assert sorted(result["I"]["n"].unique()) == [10, 100]  # N = 1000 > 500 scored
    assert any("N=1000 but cifar10 has 500 naswot-scored" in n for n in result["I"].attrs["notes"])
    for name in ("IV", "V"):
        assert result[name].empty
        assert "only 500 of 15625 architectures of cifar10" in result[name].attrs["notes"][0]


def test_database_without_naswot_or_synflow_is_an_error(tmp_path_factory):
    path = score_db.cached(tmp_path_factory, datasets=["cifar10"], proxies=["params", "flops"],
                           codes=np.arange(300), accuracies=False)
    scores, _ = load_scores(path)
    with pytest.raises(ValueError, match=r"^no table could be computed: Table I, cifar10 "
                                         r"skipped: no naswot scores for cifar10 .*luigi"):
        tables(scores, runs=5)


def test_empty_database_says_what_to_run(tmp_path):
    engine = db.connect(tmp_path / "empty.duckdb")
    db.create_schema(engine)
    engine.dispose()
    with pytest.raises(ValueError, match=r"no proxy scores for cifar10 yet; run `luigi "):
        load_scores(tmp_path / "empty.duckdb")


def test_cli_prints_markdown_and_writes_csv(full_db, tmp_path, capsys):
    assert main(["tables", "--db", str(full_db), "--runs", "4", "--n", "50",
                 "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.count("### Table ") == 5 and "N = 50;" in out
    for name in TABLES:
        written = pd.read_csv(tmp_path / f"table_{name}.csv")
        assert list(written["row"].unique()) == ["chosen", "optimal", "population"]
        assert (written["runs"] == 4).all()
    assert f"note: wrote {tmp_path / 'table_V.csv'}" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--accuracy", "top1"], "unknown accuracy column 'top1'"),
    (["--n", "0"], "--n must be in 1..15625"),
    (["--db", "nowhere.duckdb"], "no tfnas database at nowhere.duckdb"),
])
def test_cli_errors_are_one_line(full_db, tmp_path, capsys, argv, message):
    argv = ["tables", "--db", str(full_db), "--out", str(tmp_path), *argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfnas: error: ") and message in err and err.count("\n") == 1
