"""Proxy–accuracy correlations with bootstrap intervals (tfnas.correlations), and
``tfnas correlations``."""

import numpy as np
import pandas as pd
import pytest
import score_db
from scipy import stats

from tfnas.cli import main
from tfnas.correlations import (
    PUBLISHED,
    STATISTICS,
    bootstrap_statistics,
    concordance,
    correlation_table,
    neg_inf_lowest,
    point_statistics,
    resample_weights,
    seed_spread,
    top_precision,
)
from tfnas.reporting import load_scores, load_seed_scores


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    return load_scores(score_db.cached(tmp_path_factory))[0]


def tied_sample(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated scores with ties and a few −inf, and accuracies with ties."""
    rng = np.random.default_rng(seed)
    accuracy = rng.normal(70, 8, n).round(0)
    score = np.round(accuracy / 4 + rng.normal(0, 2, n), 0)
    score[rng.choice(n, 5, replace=False)] = -np.inf
    return score, accuracy


def test_concordance_matches_brute_force():
    rng = np.random.default_rng(0)
    for n in (1, 2, 9, 200, 700):
        x, y = rng.integers(0, 6, n).astype(float), rng.integers(0, 9, n).astype(float)
        brute = (np.sign(x[:, None] - x) * np.sign(y[:, None] - y)).sum(axis=1)
        np.testing.assert_array_equal(concordance(x, y), brute)


def test_concordance_matches_brute_force_with_many_distinct_values():
    """Continuous x and y with a few ties: the searched levels as well as the histogram
    levels, and both orders of the arguments (h is symmetric)."""
    rng = np.random.default_rng(1)
    for n in (300, 700):
        x, y = rng.normal(size=n), rng.normal(size=n).round(1)
        for a, b in ((x, y), (y, x), (x, x.round(2)), (x, -x)):
            brute = (np.sign(a[:, None] - a) * np.sign(b[:, None] - b)).sum(axis=1)
            np.testing.assert_array_equal(concordance(a, b), brute)


def test_point_statistics_follow_the_stated_conventions():
    score, accuracy = tied_sample(400)
    finite = np.isfinite(score)
    point = point_statistics(score, accuracy)
    lowest = np.where(finite, score, score[finite].min() - 1)
    np.testing.assert_array_equal(neg_inf_lowest(score), lowest)
    assert point["pearson"] == pytest.approx(np.corrcoef(score[finite], accuracy[finite])[0, 1])
    assert point["spearman"] == pytest.approx(stats.spearmanr(lowest, accuracy).statistic)
    assert point["kendall"] == pytest.approx(stats.kendalltau(lowest, accuracy).statistic)
    x = np.arange(100.0)
    assert top_precision(x, x, 0.05) == 1.0
    assert top_precision(x, -x, 0.05) == 0.0
    # the top 5 % of x is {95..99}; of y it is {90..94} plus 99: one of five is shared
    y = np.where(x >= 95, 0.0, x + 10)
    y[99] = 1000
    assert top_precision(x, y, 0.05) == pytest.approx(1 / 5)
    # ties at the border are all in: 3 archs tie for x's top 1 %, 1 of them is y's best
    tied = np.r_[np.zeros(97), 5.0, 5.0, 5.0]
    assert top_precision(tied, x, 0.01) == pytest.approx(1 / 3)


def test_bootstrap_statistics_are_the_statistics_of_the_resampled_data():
    score, accuracy = tied_sample(1500, seed=1)
    unit = bootstrap_statistics(score, accuracy, np.ones((1, 1500)))
    point = point_statistics(score, accuracy)
    for name in STATISTICS:
        assert unit[name][0] == pytest.approx(point[name], abs=1e-6), name
    weights = resample_weights(1500, 30, np.random.default_rng(2))
    assert (weights.sum(axis=1) == 1500).all()
    boot = bootstrap_statistics(score, accuracy, weights)
    for r in range(30):
        take = np.repeat(np.arange(1500), weights[r].astype(int))
        exact = point_statistics(score[take], accuracy[take])
        for name in ("pearson", "spearman", "top1", "top5"):
            assert boot[name][r] == pytest.approx(exact[name], abs=1e-6), name
        # Kendall's concordance count is expanded to first order in the weights
        assert boot["kendall"][r] == pytest.approx(exact["kendall"], abs=2e-3)


def test_bootstrap_spread_of_kendall_matches_exact_resampling():
    score, accuracy = tied_sample(3000, seed=3)
    weights = resample_weights(3000, 150, np.random.default_rng(4))
    ours = bootstrap_statistics(score, accuracy, weights)["kendall"]
    exact = [stats.kendalltau(*(v[np.repeat(np.arange(3000), w.astype(int))]
                                for v in (neg_inf_lowest(score), accuracy))).statistic
             for w in weights]
    assert np.std(ours) == pytest.approx(np.std(exact), rel=0.1)
    assert np.corrcoef(ours, exact)[0, 1] > 0.95


def test_correlation_table_on_a_database(scores):
    table = correlation_table(scores, resamples=60)
    assert len(table) == 3 * 4 * 2  # datasets × proxies × accuracies with data (no valid_*)
    assert set(table["accuracy"]) == {"test_acc_12ep", "test_acc_200ep"}
    assert (table["n"] == 15625).all()
    assert table.loc[table["proxy"] == "naswot", "n_neg_inf"].eq(1).all()
    for name in STATISTICS:
        assert (table[f"{name}_low"] < table[name]).all()
        assert (table[name] < table[f"{name}_high"]).all()
    rows = table.set_index(["dataset", "proxy", "accuracy"])
    # the stand-in naswot is accuracy + less noise than synflow: it must rank better
    for dataset in score_db.DATASETS:
        naswot, synflow = (rows.loc[(dataset, p, "test_acc_200ep")] for p in ("naswot", "synflow"))
        assert naswot["spearman"] > synflow["spearman"] + 0.05
        assert naswot["kendall"] > synflow["kendall"]
    assert rows.loc[("cifar10", "naswot", "test_acc_200ep"), "kendall_published"] == 0.574
    # an anchor measured against final (200-epoch) accuracy is not printed beside 12-epoch
    assert np.isnan(rows.loc[("cifar10", "naswot", "test_acc_12ep"), "kendall_published"])
    assert rows.loc[("cifar100", "naswot", "test_acc_12ep"), "pearson_published"] == 0.6398
    assert np.isnan(rows.loc[("cifar100", "naswot", "test_acc_200ep"), "pearson_published"])
    assert rows.loc[("ImageNet16-120", "params", "test_acc_200ep"), "spearman_published"] == 0.69
    assert np.isnan(rows.loc[("cifar10", "flops", "test_acc_12ep"), "spearman_published"])
    assert set(PUBLISHED) >= {("synflow", "spearman"), ("naswot", "kendall")}


def test_seed_spread_reads_every_scored_seed(tmp_path_factory):
    path = score_db.cached(tmp_path_factory, datasets=["cifar10"], proxies=["naswot", "params"],
                           codes=np.arange(0, 15625, 7), seeds=[0, 1, 2])
    scores, _ = load_scores(path)
    seed_scores = load_seed_scores(path)
    assert sorted(seed_scores["seed"].unique()) == [0, 1, 2]
    spread = seed_spread(seed_scores, scores).set_index(["proxy", "accuracy"])
    codes = np.arange(0, 15625, 7)
    per_seed = [point_statistics(score_db.proxy_scores("cifar10", "naswot", seed)[0][codes],
                                 score_db.synthetic_accuracy("cifar10", 12)[codes])
                for seed in (0, 1, 2)]
    naswot = spread.loc[("naswot", "test_acc_12ep")]
    assert naswot["seeds"] == 3
    for name in STATISTICS:
        values = [s[name] for s in per_seed]
        assert naswot[f"{name}_seed_mean"] == pytest.approx(np.mean(values))
        assert naswot[f"{name}_seed_std"] == pytest.approx(np.std(values, ddof=1))
    assert naswot["spearman_seed_std"] > 0
    assert spread.loc[("params", "test_acc_12ep"), "spearman_seed_std"] == 0  # seed-free proxy


def test_cli_prints_ours_beside_published_and_writes_csv(tmp_path_factory, tmp_path, capsys):
    path = score_db.cached(tmp_path_factory, datasets=["cifar10"], proxies=["naswot", "params"],
                           codes=np.arange(0, 15625, 7), seeds=[0, 1, 2])
    assert main(["correlations", "--db", str(path), "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    blocks = {block.splitlines()[0]: block.splitlines() for block in out.split("### ")[1:]}
    final = blocks["Correlation with test_acc_200ep (95% bootstrap intervals)"]
    header = next(line for line in final if line.startswith("| dataset"))
    assert "| Kendall τ | Kendall τ published |" in header and "Spearman ρ over seeds" in header
    naswot = next(line for line in final if line.startswith("| cifar10 | naswot"))
    assert "| 0.574 |" in naswot and "(3) |" in naswot
    # 12-epoch accuracy: only the study's Pearson (12-epoch) is published beside ours
    early = blocks["Correlation with test_acc_12ep (95% bootstrap intervals)"]
    header = next(line for line in early if line.startswith("| dataset"))
    assert "Pearson r published" in header and "Kendall τ published" not in header
    written = pd.read_csv(tmp_path / "correlations.csv")
    assert len(written) == 2 * 2 and (written["seeds"] == 3).all()
    assert "note: skipped cifar100" in err


def test_cli_on_a_database_without_accuracies_is_one_line_error(tmp_path_factory, capsys):
    path = score_db.cached(tmp_path_factory, datasets=["cifar10"], proxies=["params", "flops"],
                           codes=np.arange(300), accuracies=False)
    assert main(["correlations", "--db", str(path)]) == 2
    *notes, error = capsys.readouterr().err.splitlines()
    assert all(note.startswith("note: skipped ") for note in notes)
    assert error.startswith("tfnas: error: no (proxy, accuracy) pair has data")
