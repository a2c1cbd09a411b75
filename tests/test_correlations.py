"""Proxy–accuracy correlations with bootstrap intervals (tfnas.replay.correlations), and
``tfnas correlations``."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import DATASETS, proxy_scores, synthetic_accuracy
from scipy import stats

from db.read import read_published, read_scores, read_seed_scores
from tfnas.cli import main
from tfnas.replay.correlations import (
    STATISTICS,
    bootstrap_statistics,
    concordance,
    correlation_table,
    neg_inf_lowest,
    percentile_interval,
    point_statistics,
    resample_weights,
    seed_spread,
    top_precision,
    vote_agreement,
)


@pytest.fixture(scope="module")
def full_db(score_db):
    return score_db()


@pytest.fixture(scope="module")
def scores(full_db):
    return read_scores(full_db).frames


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
    lowest = neg_inf_lowest(score)
    np.testing.assert_array_equal(lowest[finite], score[finite])
    assert len(set(lowest[~finite])) == 1 and lowest[~finite][0] < score[finite].min()
    huge = np.array([-1e17, -math.inf, 3.0])  # min - 1 would be -1e17 itself: a tie
    assert stats.rankdata(neg_inf_lowest(huge)).tolist() == [2, 1, 3]
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


def test_correlation_table_on_a_database(scores, full_db):
    table = correlation_table(scores, resamples=60, published=read_published(full_db))
    assert len(table) == 3 * 4 * 2  # datasets × proxies × accuracies with data (no valid_*)
    assert set(table["accuracy"]) == {"test_acc_12ep", "test_acc_200ep"}
    assert (table["n"] == 15625).all()
    assert table.loc[table["proxy"] == "naswot", "n_neg_inf"].eq(1).all()
    for name in STATISTICS:
        assert (table[f"{name}_low"] < table[name]).all()
        assert (table[name] < table[f"{name}_high"]).all()
    rows = table.set_index(["dataset", "proxy", "accuracy"])
    # the stand-in naswot is accuracy + less noise than synflow: it must rank better
    for dataset in DATASETS:
        naswot, synflow = (rows.loc[(dataset, p, "test_acc_200ep")] for p in ("naswot", "synflow"))
        assert naswot["spearman"] > synflow["spearman"] + 0.05
        assert naswot["kendall"] > synflow["kendall"]
    assert rows.loc[("cifar10", "naswot", "test_acc_200ep"), "kendall_published"] == 0.574
    # an anchor measured against one accuracy column is beside that column only
    assert np.isnan(rows.loc[("cifar10", "naswot", "test_acc_12ep"), "kendall_published"])
    assert table["pearson_published"].isna().all()  # the study's is vs validation accuracy
    assert rows.loc[("cifar100", "synflow", "test_acc_200ep"), "spearman_published"] == 0.763
    assert np.isnan(rows.loc[("cifar10", "flops", "test_acc_12ep"), "spearman_published"])


def test_percentile_intervals_stay_inside_the_statistics_range():
    """At small n the normal interval (estimate ± 1.96 sd) left [-1, 1] (0.672 [0.329, 1.015],
    top-1 % [-0.336, 0.336]); percentile intervals cannot."""
    rng = np.random.default_rng(5)
    for n in (4, 6, 12, 30):
        accuracy = rng.normal(70, 5, n)
        score = accuracy + rng.normal(0, 2, n)
        boot = bootstrap_statistics(score, accuracy, resample_weights(n, 200, rng))
        for name in STATISTICS:
            low, high = percentile_interval(boot[name])
            bounds = (0, 1) if name.startswith("top") else (-1, 1)
            assert bounds[0] <= low <= high <= bounds[1], (n, name, low, high)
            assert low == pytest.approx(np.percentile(boot[name][np.isfinite(boot[name])], 2.5))
    assert percentile_interval(np.array([np.nan, np.nan])) != percentile_interval(np.ones(3))


def test_seed_spread_is_over_the_architectures_every_seed_scored(score_db):
    path = score_db(datasets=["cifar10"], proxies=["naswot", "params"],
                    codes=np.arange(0, 15625, 7), seeds=[0, 1, 2])
    scores = read_scores(path).frames
    seed_scores = read_seed_scores(path)
    assert sorted(seed_scores["seed"].unique()) == [0, 1, 2]
    spread = seed_spread(seed_scores, scores).set_index(["proxy", "accuracy"])
    codes = np.arange(0, 15625, 7)
    per_seed = [point_statistics(proxy_scores("cifar10", "naswot", seed)[0][codes],
                                 synthetic_accuracy("cifar10", 12)[codes])
                for seed in (0, 1, 2)]
    naswot = spread.loc[("naswot", "test_acc_12ep")]
    assert naswot["seeds"] == 3 and naswot["common"] == len(codes)
    for name in STATISTICS:
        values = [s[name] for s in per_seed]
        assert naswot[f"{name}_seed_mean"] == pytest.approx(np.mean(values))
        assert naswot[f"{name}_seed_std"] == pytest.approx(np.std(values, ddof=1))
    assert naswot["spearman_seed_std"] > 0
    assert spread.loc[("params", "test_acc_12ep"), "spearman_seed_std"] == 0  # seed-free proxy


def test_seed_spread_leaves_out_architectures_one_seed_lacks(score_db, tmp_path):
    """Seed 1 scored for only 10 architectures: the spread is over those 10, and says so
    (it once averaged seed 0 over 15,625 with seed 1 over 10)."""
    full = read_scores(score_db()).frames
    rows = []
    for seed, codes in ((0, np.arange(15625)), (1, np.arange(10))):
        scores = proxy_scores("cifar10", "naswot", seed)[0][codes]
        rows.append(pd.DataFrame({"dataset": "cifar10", "proxy": "naswot", "seed": seed,
                                  "arch_code": codes, "score": scores}))
    spread = seed_spread(pd.concat(rows), full).set_index(["proxy", "accuracy"])
    naswot = spread.loc[("naswot", "test_acc_200ep")]
    assert naswot["common"] == 10 and naswot["seeds"] == 2
    acc = synthetic_accuracy("cifar10", 200)[:10]
    expected = [point_statistics(proxy_scores("cifar10", "naswot", s)[0][:10], acc)["spearman"]
                for s in (0, 1)]
    assert naswot["spearman_seed_mean"] == pytest.approx(np.mean(expected))


def test_cli_prints_ours_beside_published_and_writes_csv(score_db, tmp_path, capsys):
    path = score_db(datasets=["cifar10"], proxies=["naswot", "params"],
                    codes=np.arange(0, 15625, 7), seeds=[0, 1, 2])
    assert main(["correlations", "--db", str(path), "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("# scores: seed 0, batch 128, no augmentation")
    blocks = {block.splitlines()[0]: block.splitlines() for block in out.split("### ")[1:]}
    final = blocks["Correlation with test_acc_200ep (95% bootstrap percentile intervals)"]
    header = next(line for line in final if line.startswith("| dataset"))
    assert "| Kendall τ | Kendall τ published |" in header and "Spearman ρ over seeds" in header
    naswot = next(line for line in final if line.startswith("| cifar10 | naswot"))
    assert "| 0.574 |" in naswot and "(3 seeds, 2233 archs) |" in naswot
    # 12-epoch test accuracy: the study's Pearson is vs 12-epoch VALIDATION accuracy, apart
    early = blocks["Correlation with test_acc_12ep (95% bootstrap percentile intervals)"]
    header = next(line for line in early if line.startswith("| dataset"))
    assert "published" not in header
    apart = out.split("not beside ours:")[1]
    assert "naswot Pearson r vs valid_acc_12ep, cifar10: 0.736 (the study" in apart
    written = pd.read_csv(tmp_path / "correlations.csv")
    assert len(written) == 2 * 2 and (written["seeds"] == 3).all()
    assert err.splitlines()[0].startswith("note: skipped: ")
    assert "has no scores for cifar100" in err


def test_cli_on_a_database_without_accuracies_is_one_line_error(score_db, capsys):
    path = score_db(datasets=["cifar10"], proxies=["params", "flops"], codes=np.arange(300),
                    accuracies=False)
    assert main(["correlations", "--db", str(path)]) == 2
    *notes, error = capsys.readouterr().err.splitlines()
    assert all(note.startswith("note: skipped: ") for note in notes)
    assert error.startswith("tfnas: error: no (proxy, accuracy) pair has data")


def test_numpy_ranks_and_kendall_equal_scipy_stats_with_ties():
    """The reports compute without scipy.stats (its import alone costs ~0.5 s); the numbers
    must be scipy's."""
    from tfnas.replay.correlations import kendall_tau_b, ranks

    for seed in range(5):
        score, accuracy = tied_sample(300 + 50 * seed, seed=seed)
        lowest = neg_inf_lowest(score)
        np.testing.assert_array_equal(ranks(lowest), stats.rankdata(lowest))
        np.testing.assert_array_equal(ranks(lowest, ties="max"),
                                      stats.rankdata(lowest, method="max"))
        assert kendall_tau_b(lowest, accuracy) == pytest.approx(
            stats.kendalltau(lowest, accuracy).statistic, abs=1e-12)
    assert np.isnan(kendall_tau_b(np.ones(5), np.arange(5.0)))  # a constant variable


def test_vote_agreement_is_the_reference_loop_and_one_member_is_kendall():
    """Abdelfattah et al.'s pairwise majority vote, against their loop over ordered pairs
    (ties in scores and accuracies, a NaN left out, blocks smaller than n); with one member
    and no ties it is (1 + τ) / 2."""
    rng = np.random.default_rng(3)
    n = 60
    members = [rng.integers(0, 8, n).astype(float) for _ in range(3)]
    accuracy = rng.integers(0, 20, n).astype(float)
    members[1][7] = np.nan  # left out
    keep = [i for i in range(n) if i != 7]
    right = total = 0
    for i in keep:
        for j in keep:
            if i == j or accuracy[i] == accuracy[j]:
                continue
            up = sum(m[i] - m[j] > 0 for m in members)
            right += (up >= 1.5) == (accuracy[i] > accuracy[j])
            total += 1
    assert vote_agreement(members, accuracy, block=7) == pytest.approx(right / total, abs=1e-15)
    x, y = rng.normal(size=200), rng.normal(size=200)
    tau = stats.kendalltau(x, y).statistic
    assert vote_agreement([x], y) == pytest.approx((1 + tau) / 2, abs=1e-12)


def test_dataset_filters_every_report_to_the_datasets_asked(full_db, tmp_path, capsys):
    assert main(["correlations", "--db", str(full_db), "--proxies", "params", "--dataset",
                 "ImageNet16-120", "--out", str(tmp_path)]) == 0
    written = pd.read_csv(tmp_path / "correlations.csv")
    assert set(written["dataset"]) == {"ImageNet16-120"} and len(written) > 0
    capsys.readouterr()
    assert main(["tables", "--db", str(full_db), "--proxies", "params", "--dataset", "cifar10",
                 "--dataset", "cifar100", "--runs", "5", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "cifar100" in printed and "ImageNet16-120" not in printed
    assert main(["tables", "--db", str(full_db), "--dataset", "cifar-10"]) == 2
    assert capsys.readouterr().err == (
        "tfnas: error: argument --dataset: unknown dataset 'cifar-10'; valid datasets: "
        "cifar10, cifar100, ImageNet16-120 (see 'tfnas tables -h')\n")
