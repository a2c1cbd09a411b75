"""A researcher's tfnas (issue 25): the Python API (tfnas.api), frames indexed by NATS-Bench's
arch_index, one random stream per search experiment whichever way it is asked for, ``tfnas
score --arch INDEX``, shipped SQL queries and Luigi settings that work from any folder, and
``tfnas --version``."""

from __future__ import annotations

import configparser
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, synthetic_accuracy
from test_pipeline import LUIGI

import tfnas
from db.benchmark import nats_bench_index
from db.read import read_scores
from tfnas.api import Database, arch_index, arch_str
from tfnas.cli import main
from tfnas.config import ScoringConfig
from tfnas.errors import UserError
from tfnas.replay.search import ScoreTable, random_search, regularized_evolution
from tfnas.replay.tables import REA_SETTINGS, table_rows
from tfnas.space import parse_arch

INDEX = 9930  # NATS-Bench's architecture 9930 has arch_code 11468, not 9930
RUNS = 40


@pytest.fixture(scope="module")
def full_db(score_db):
    return score_db()


@pytest.fixture(scope="module")
def api(full_db):
    return Database(full_db)


def test_frames_are_indexed_by_nats_bench_index(full_db):
    frame = read_scores(full_db).frames["cifar10"]
    official = nats_bench_index()
    assert frame.index.name == "arch_index" and "arch_index" not in frame.columns
    row = frame.loc[INDEX]
    assert row["arch_str"] == official[INDEX]
    assert row["arch_code"] == parse_arch(official[INDEX]).code != INDEX
    assert frame.loc[INDEX, "test_acc_200ep"] == synthetic_accuracy("cifar10", 200)[
        row["arch_code"]]
    assert frame["arch_code"].is_monotonic_increasing  # rows still in arch_code order


def test_an_architecture_by_index_or_string(api):
    text = nats_bench_index()[INDEX]
    assert arch_index(INDEX) == arch_index(str(INDEX)) == arch_index(np.int64(INDEX)) == INDEX
    assert arch_index(text) == INDEX and arch_str(INDEX) == text
    by_index, by_string = api.info(INDEX, "cifar10"), api.info(text, "cifar10")
    assert repr(by_index) == repr(by_string)  # (NaN != NaN)
    assert by_index["arch_index"] == INDEX and by_index["arch_str"] == text
    code = parse_arch(text).code
    assert by_index["arch_code"] == code
    assert by_index["accuracy"]["test_acc_200ep"] == synthetic_accuracy("cifar10", 200)[code]
    assert set(by_index["scores"]) == {"naswot", "synflow", "params", "flops"}
    assert by_index["cost"] == {"params": None, "flops_m": pytest.approx(math.nan, nan_ok=True),
                                "latency_s": pytest.approx(math.nan, nan_ok=True),
                                "source": None}  # this database holds no costs
    assert by_index["config"] == "seed 0, batch 128, no augmentation"
    frame = api.frame("cifar10")
    assert frame.loc[INDEX, "naswot"] == by_index["scores"]["naswot"]
    ensemble = api.info(INDEX, "cifar10", ["ens_naswot_synflow"])
    assert list(ensemble["scores"]) == ["ens_naswot_synflow"]
    assert ensemble["scores"]["ens_naswot_synflow"] == api.frame(
        "cifar10", ["ens_naswot_synflow"]).loc[INDEX, "ens_naswot_synflow"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda api: api.info(15625, "cifar10"), "NATS-Bench index 15625 is outside 0..15624"),
    (lambda api: api.info(-1, "cifar10"), "NATS-Bench index -1 is outside 0..15624"),
    (lambda api: api.info("|nor_conv_3x3~0|+", "cifar10"), "malformed architecture string"),
    (lambda api: api.info(True, "cifar10"), "NATS-Bench index .int. or arch string, got bool"),
    (lambda api: api.info(1.5, "cifar10"), "got float"),
    (lambda api: api.info(0, "cifar-10"), "unknown dataset 'cifar-10'; choose from cifar10"),
    (lambda api: api.frame("imagenet"), "unknown dataset 'imagenet'"),
    (lambda api: api.info(0, "cifar10", ["zico"]), "proxy 'zico' has no cifar10 scores"),
    (lambda api: api.random_search("cifar10", "nope"), "proxy 'nope' has no cifar10 scores"),
    (lambda api: api.random_search("cifar10", "naswot", n=0), "--n must be in 1..15625"),
    (lambda api: api.rea("cifar10", "naswot", accuracy="acc"), "unknown accuracy column"),
])
def test_mistakes_are_one_line_user_errors(api, call, message):
    with pytest.raises(UserError, match=message) as caught:
        call(api)
    assert "\n" not in str(caught.value)


def test_a_missing_database_and_another_configuration(tmp_path, full_db):
    with pytest.raises(UserError, match="no tfnas database at .*tfnas db init") as caught:
        Database(tmp_path / "none.duckdb")
    assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="has no cifar10 scores for seed 5"):
        Database(full_db, ScoringConfig(seed=5)).frame("cifar10")


def _chosen(rows: list[dict], dataset: str, n: float | None = None) -> tuple[float, float]:
    (row,) = [r for r in rows if r["dataset"] == dataset and r["row"] == "chosen"
              and (n is None or r["n"] == n)]
    return row["accuracy_mean"], row["accuracy_std"]


def _of(runs: pd.DataFrame) -> tuple[float, float]:
    values = runs["accuracy"].to_numpy()
    return values.mean(), values.std(ddof=0)


def test_one_experiment_one_answer(full_db, api):
    """Table II's NASWOT cell, Table I's at N = 100, ``--proxies naswot``'s, the search
    function given the seed and the API: the same runs, exactly the same numbers (and the
    same for REA: Table IV, ``REA naswot``, regularized_evolution, Database.rea)."""
    columns = read_scores(full_db).columns
    accuracy = "test_acc_200ep"
    study = table_rows(columns, runs=RUNS, accuracy=accuracy, seed=3)
    mine = table_rows(columns, runs=RUNS, accuracy=accuracy, seed=3, proxies=["naswot"])
    for dataset in columns:
        lookup = ScoreTable.from_frame(columns[dataset], "naswot", accuracy)
        direct = _of(random_search(lookup, 100, RUNS, rng=3))
        answers = [_chosen(study["II"][0], dataset), _chosen(study["I"][0], dataset, 100.0),
                   _chosen(mine["random naswot"][0], dataset, 100.0), direct,
                   _of(api.random_search(dataset, "naswot", runs=RUNS, seed=3,
                                         accuracy=accuracy))]
        assert all(answer == answers[0] for answer in answers), (dataset, answers)
        evolved = _of(regularized_evolution(lookup, runs=RUNS, rng=3, **REA_SETTINGS))
        rea = [_chosen(study["IV"][0], dataset), _chosen(mine["REA naswot"][0], dataset),
               evolved, _of(api.rea(dataset, "naswot", runs=RUNS, seed=3, accuracy=accuracy))]
        assert all(answer == rea[0] for answer in rea), (dataset, rea)
    other_seed = _of(api.random_search("cifar10", "naswot", runs=RUNS, seed=4,
                                       accuracy=accuracy))
    assert other_seed != _chosen(study["II"][0], "cifar10")


def test_the_command_line_gives_the_same_answer(full_db, api, tmp_path, capsys):
    for name, extra in (("study", []), ("mine", ["--proxies", "naswot"])):
        assert main(["tables", "--db", str(full_db), "--runs", str(RUNS), "--out",
                     str(tmp_path / name), *extra]) == 0
    capsys.readouterr()
    study = pd.read_csv(tmp_path / "study" / "table_II.csv")
    mine = pd.read_csv(tmp_path / "mine" / "table_random_naswot.csv")
    runs = api.random_search("ImageNet16-120", "naswot", runs=RUNS)
    expected = _of(runs)
    for table in (study, mine):
        row = table[(table["dataset"] == "ImageNet16-120") & (table["row"] == "chosen")
                    & (table["n"] == 100)].iloc[0]
        assert (row["accuracy_mean"], row["accuracy_std"]) == pytest.approx(expected,
                                                                             rel=1e-15)
    # the runs name their architectures both ways
    first = runs.iloc[0]
    assert arch_index(arch_str(int(first["chosen_index"]))) == first["chosen_index"]
    assert parse_arch(arch_str(int(first["chosen_index"]))).code == first["chosen"]


def test_score_takes_a_nats_bench_index(capsys):
    assert main(["score", "--dataset", "cifar10", "--arch", str(INDEX), "--arch",
                 nats_bench_index()[0], "--proxies", "params", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["arch"] for line in lines] == [nats_bench_index()[INDEX], nats_bench_index()[0]]
    assert lines[0]["params"] > 0
    assert main(["score", "--dataset", "cifar10", "--arch", "15625", "--proxies",
                 "params"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfnas: error: NATS-Bench index 15625 is outside 0..15624")
    assert len(err.strip().splitlines()) == 1


def test_version():
    done = subprocess.run([sys.executable, "-m", "tfnas.cli", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"tfnas {tfnas.__version__}"


def test_shipped_queries_run_by_name_from_any_folder(full_db, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sql", "topk", "--db", str(full_db), "--csv"]) == 0
    got = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert len(got) > 0 and set(got["rank"]) == set(range(1, 11))
    assert main(["sql", "no_such_query", "--db", str(full_db)]) == 2
    err = capsys.readouterr().err
    assert "no shipped query 'no_such_query'" in err and "topk" in err
    (tmp_path / "mine").write_text("SELECT 42 AS answer;")  # a bare name that is a file
    assert main(["sql", "mine", "--db", str(full_db), "--csv"]) == 0
    assert capsys.readouterr().out.split() == ["answer", "42"]
    assert not (REPO / "queries").exists()  # one copy: the package's


def _settings(path: Path) -> dict:
    parser = configparser.ConfigParser()
    parser.read(path)
    return {section: dict(parser[section]) for section in parser.sections()}


def test_the_shipped_luigi_settings_are_the_repository_s():
    assert _settings(REPO / "pipeline" / "luigi.cfg") == _settings(REPO / "luigi.cfg")


def _luigi_settings(cwd: Path, **env: str) -> list[str]:
    """[core] local_scheduler and [retcode] already_running as Luigi reads them after
    ``import pipeline``, run in ``cwd``."""
    code = ("import luigi.configuration, pipeline; c = luigi.configuration.get_config(); "
            "print(c.get('core', 'local_scheduler'), c.get('retcode', 'already_running'))")
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",
                                                                      "LUIGI_CONFIG_PATH")}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env={**environment, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_luigi_settings_layer_under_the_working_directory_and_config_path(tmp_path):
    assert _luigi_settings(tmp_path) == ["true", "10"]  # the shipped file, from anywhere
    (tmp_path / "cluster.cfg").write_text("[core]\nlocal_scheduler = false\n\n[retcode]\n"
                                          "already_running = 0\n")
    assert _luigi_settings(tmp_path, LUIGI_CONFIG_PATH=str(tmp_path / "cluster.cfg")) == [
        "false", "0"]
    (tmp_path / "luigi.cfg").write_text("[retcode]\nalready_running = 7\n")
    assert _luigi_settings(tmp_path) == ["true", "7"]  # the working directory's wins


def test_the_pipeline_runs_from_any_folder(tmp_path):
    """No luigi.cfg in the working directory and no PYTHONPATH: the in-process scheduler (no
    retries against localhost:8082) and exit status 0."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LUIGI_CONFIG_PATH")}
    done = subprocess.run([str(LUIGI), "--module", "pipeline", "ScoreAll", "--dataset",
                           "cifar10", "--proxies", "params", "--limit", "3", "--db",
                           str(tmp_path / "t.duckdb")], cwd=work, capture_output=True,
                          text=True, timeout=240,
                          env={**env, "OMP_NUM_THREADS": "1",
                               "TORCH_HOME": str(tmp_path / "torch-home")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "localhost:8082" not in done.stderr + done.stdout
    assert math.isfinite(Database(tmp_path / "t.duckdb").info(
        int(Database(tmp_path / "t.duckdb").frame("cifar10").index[0]),
        "cifar10")["scores"]["params"])


def test_the_shipped_database_has_costs_and_index_9930(tmp_path):
    from db.bundle import init_database

    init_database(tmp_path / "tfnas.duckdb")
    api = Database(tmp_path / "tfnas.duckdb")
    info = api.info(INDEX, "cifar10")
    assert info["cost"]["source"] == "tfnas"
    assert info["cost"]["params"] == info["scores"]["params"] == 1_288_506
    assert info["cost"]["flops_m"] == pytest.approx(info["scores"]["flops"])
    assert info["accuracy"]["test_acc_200ep"] == pytest.approx(94.3633, abs=1e-4)
    assert api.frame("cifar10").loc[INDEX, "arch_str"] == arch_str(INDEX)
