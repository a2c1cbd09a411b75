"""Random search and regularized evolution replayed against score arrays (tfnas.search).

The vectorised searches are checked run by run against plain-loop reference implementations
written here from the algorithms' definitions and fed the same random draws.
"""

import re
from bisect import bisect_right
from collections import Counter
from itertools import accumulate, combinations
from math import comb

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_accuracy
from scipy import stats

from tfnas.replay.search import ScoreTable, random_search, regularized_evolution, summarise_runs
from tfnas.replay.search.evolution import (
    BLOCK,
    evolve,
    evolve_together,
    winner_probabilities,
)
from tfnas.replay.search.random_search import floyd_sample
from tfnas.space import NUM_ARCHS, NUM_EDGES, OP_ID, OPS, Arch

# --- fixtures --------------------------------------------------------------------------------


def frame(score: np.ndarray, accuracy: np.ndarray, seconds: np.ndarray | None = None,
          codes: np.ndarray | None = None, proxy: str = "naswot") -> pd.DataFrame:
    codes = np.arange(NUM_ARCHS) if codes is None else codes
    seconds = np.full(len(codes), 0.5) if seconds is None else seconds
    return pd.DataFrame({"dataset": "cifar10", "arch_code": codes, proxy: score,
                         f"{proxy}_seconds": seconds, "test_acc_12ep": accuracy})


@pytest.fixture(scope="module")
def table() -> ScoreTable:
    """Full space; scores with ties, −inf and a tie at the very top (codes 50 and 100)."""
    rng = np.random.default_rng(7)
    score = rng.integers(0, 300, NUM_ARCHS).astype(float)  # many ties
    score[rng.choice(NUM_ARCHS, 40, replace=False)] = -np.inf
    score[[100, 50]] = score[np.isfinite(score)].max() + 1
    return ScoreTable.from_frame(frame(score, rng.uniform(10, 95, NUM_ARCHS),
                                       rng.uniform(0.1, 2.0, NUM_ARCHS)), "naswot")


# --- plain-loop references --------------------------------------------------------------------


def best_by_proxy(table: ScoreTable, codes) -> int:
    """Highest score, −inf lowest, ties → lowest arch_code."""
    return min(codes, key=lambda c: (-table.score[c], c))


def reference_summary(table: ScoreTable, visited) -> dict:
    distinct = sorted(set(int(c) for c in visited))
    accs = [table.accuracy[c] for c in distinct]
    finite = [table.score[c] for c in distinct if np.isfinite(table.score[c])]
    chosen = best_by_proxy(table, visited)
    return {"chosen": chosen, "accuracy": table.accuracy[chosen],
            "optimal_accuracy": max(table.accuracy[c] for c in visited),
            "seconds": sum(table.seconds[c] for c in distinct), "distinct": len(distinct),
            "population_accuracy_mean": np.mean(accs), "population_accuracy_std": np.std(accs),
            "population_score_mean": np.mean(finite), "population_score_std": np.std(finite)}


def reference_random_search(table: ScoreTable, n: int, u: np.ndarray) -> list[dict]:
    """Floyd's algorithm, one run at a time, with a Python set."""
    pool = list(table.scored)
    runs = []
    for row in u:
        chosen: list[int] = []
        for i, j in enumerate(range(len(pool) - n, len(pool))):
            t = min(int(row[i] * (j + 1)), j)
            chosen.append(j if t in chosen else t)
        runs.append(reference_summary(table, [pool[k] for k in chosen]))
    return runs


def reference_evolution(table: ScoreTable, cycles: int, population: int, tournament: int,
                        runs: int, rng: np.random.Generator) -> list[dict]:
    """Real et al. 2019 one run at a time, with Arch objects, the tournament sampled through
    its winner's place; the draws follow the documented stream: initial population, then
    blocks of cycles' winner places and mutations (edge m // 4, op offset m % 4 + 1)."""
    init = rng.integers(0, NUM_ARCHS, (runs, population))
    draws = []
    for _ in range(0, cycles - population, BLOCK):  # whole blocks: (winner's place, mutation)
        places, mutation = rng.random((BLOCK, runs)), rng.integers(0, 24, (BLOCK, runs))
        draws += [(places[i], mutation[i] // 4, mutation[i] % 4 + 1) for i in range(BLOCK)]
    draws = draws[:cycles - population]
    wins = [comb(population - k, tournament - 1) / comb(population, tournament)
            for k in range(1, population + 1)]
    cumulative = list(accumulate(wins))
    cumulative = [c / cumulative[-1] for c in cumulative]
    results = []
    for r in range(runs):
        slots = [int(c) for c in init[r]]  # the child takes the slot of the oldest member
        history = list(slots)
        for step, (places, edges, offsets) in enumerate(draws):
            best_first = sorted(slots, key=lambda c: (-table.score[c], c))
            parent = Arch.from_code(best_first[bisect_right(cumulative, places[r])])
            ops = list(parent.ops)
            ops[edges[r]] = OPS[(OP_ID[ops[edges[r]]] + offsets[r]) % len(OPS)]
            child = Arch(tuple(ops))
            assert child in parent.mutations()
            slots[(population + step) % population] = child.code
            history.append(child.code)
        assert len(history) == cycles
        results.append(reference_summary(table, history))
    return results


def assert_same_runs(result: pd.DataFrame, reference: list[dict]) -> None:
    expected = pd.DataFrame(reference)
    for column in expected:
        np.testing.assert_allclose(result[column].to_numpy(float),
                                   expected[column].to_numpy(float), rtol=1e-9, err_msg=column)


# --- random search -----------------------------------------------------------------------------


def test_random_search_over_the_whole_space_returns_the_global_best(table):
    result = random_search(table, NUM_ARCHS, runs=3, rng=np.random.default_rng(0))
    # codes 50 and 100 tie for the top score: the lower code wins
    assert (result["chosen"] == 50).all()
    assert (result["score"] == table.score[50]).all()
    assert (result["accuracy"] == table.accuracy[50]).all()
    assert (result["distinct"] == NUM_ARCHS).all()
    assert result["seconds"].to_numpy() == pytest.approx(table.seconds.sum())
    assert (result["optimal_accuracy"] == table.accuracy.max()).all()


def test_random_search_matches_the_plain_loop_reference(table):
    n, runs = 300, 12
    u = np.random.default_rng(3).random((runs, n))
    result = random_search(table, n, runs, np.random.default_rng(3))
    assert_same_runs(result, reference_random_search(table, n, u))


def test_random_search_samples_only_scored_archs_and_is_seeded():
    rng = np.random.default_rng(1)
    codes = np.sort(rng.choice(NUM_ARCHS, 500, replace=False))
    part = ScoreTable.from_frame(frame(rng.normal(size=500), rng.uniform(0, 90, 500),
                                       codes=codes), "naswot")
    result = random_search(part, 500, runs=2, rng=np.random.default_rng(0))
    best = codes[np.argmax(part.score[codes])]
    assert (result["chosen"] == best).all()
    a = random_search(part, 20, runs=50, rng=np.random.default_rng(9))
    b = random_search(part, 20, runs=50, rng=np.random.default_rng(9))
    pd.testing.assert_frame_equal(a, b)
    assert set(a["chosen"]) <= set(codes)
    with pytest.raises(ValueError, match=r"N=501 but cifar10 has 500 naswot-scored .*luigi "
                                         r"--module pipeline ScoreAll --dataset cifar10"):
        random_search(part, 501, runs=1, rng=rng)


def test_floyd_sample_draws_each_subset_equally_often():
    picks = floyd_sample(np.random.default_rng(0).random((20_000, 2)), 5)
    assert (picks[:, 0] != picks[:, 1]).all()
    counts = Counter(tuple(sorted(p)) for p in picks.tolist())
    observed = [counts[s] for s in combinations(range(5), 2)]
    assert sum(observed) == 20_000
    assert stats.chisquare(observed).pvalue > 1e-3


def test_random_search_rejects_bad_sizes(table):
    for n in (0, NUM_ARCHS + 1):
        with pytest.raises(ValueError, match="pick N in 1..15625"):
            random_search(table, n, runs=1, rng=np.random.default_rng(0))


# --- regularized evolution ---------------------------------------------------------------------


def test_evolution_matches_the_plain_loop_reference(table):
    cycles, population, tournament, runs = 90, 12, 4, 8
    result = regularized_evolution(table, cycles, population, tournament, runs,
                                   np.random.default_rng(5))
    reference = reference_evolution(table, cycles, population, tournament, runs,
                                    np.random.default_rng(5))
    assert_same_runs(result, reference)
    assert (result["evaluations"] == cycles).all()


@pytest.mark.parametrize(("population", "tournament"), [(7, 3), (6, 1), (5, 5)])
def test_winner_place_has_the_distribution_of_a_uniform_tournament(population, tournament):
    """Over every S-subset of P ranked members, how often the k-th best is the subset's best."""
    wins = Counter(min(subset) for subset in combinations(range(population), tournament))
    exact = np.array([wins[k] for k in range(population)]) / comb(population, tournament)
    np.testing.assert_allclose(winner_probabilities(population, tournament), exact, rtol=1e-12)


def test_tournament_winners_match_explicit_tournaments():
    """REA's parents, drawn through the winner's place, against parents of explicit uniform
    tournaments on the same populations (chi-square on the winner's place)."""
    rng = np.random.default_rng(11)
    population, tournament, trials = 12, 4, 20_000
    places = np.searchsorted(np.cumsum(winner_probabilities(population, tournament)),
                             rng.random(trials), side="right")
    keys = rng.random((trials, population))
    explicit = np.sort(np.argsort(keys, axis=1)[:, :tournament], axis=1)[:, 0]
    counts = np.stack([np.bincount(places, minlength=population),
                       np.bincount(explicit, minlength=population)])
    assert (counts[:, population - tournament + 1:] == 0).all()  # never worse than P − S + 1
    counts = counts[:, :population - tournament + 1]
    assert stats.chi2_contingency(counts).pvalue > 1e-3


def test_evolution_with_a_shorter_budget_is_a_prefix_of_a_longer_one(table):
    long = evolve(table, 200, 20, 5, runs=6, rng=np.random.default_rng(2))
    short = evolve(table, 120, 20, 5, runs=6, rng=np.random.default_rng(2))
    np.testing.assert_array_equal(long[:, :120], short)


def test_evolving_cells_together_gives_each_cell_its_own_result(table):
    other = ScoreTable.from_frame(frame(-table.score, table.accuracy), "naswot")
    together = evolve_together([table, other, table], 150, 16, 4, runs=5,
                               rngs=[np.random.default_rng(seed) for seed in (1, 2, 3)])
    for cells, (lookup, seed) in zip(together, [(table, 1), (other, 2), (table, 3)], strict=True):
        np.testing.assert_array_equal(cells, evolve(lookup, 150, 16, 4, runs=5,
                                                    rng=np.random.default_rng(seed)))
    assert not np.array_equal(together[0], together[1])


def test_mutation_changes_exactly_one_edge_to_a_different_op(table):
    visited = evolve(table, 300, 30, 10, runs=4, rng=np.random.default_rng(4))
    digits = np.stack([visited // 5**k % 5 for k in range(NUM_EDGES)], axis=-1)
    # every child differs from some member of the population it was bred from in one edge
    for r in range(4):
        for c in range(30, 300):
            window = digits[r, c - 30:c]
            assert ((window != digits[r, c]).sum(axis=1) == 1).any()


@pytest.mark.parametrize("landscape", ["additive", "nats-bench"])
def test_evolution_beats_random_search_at_equal_budget(landscape, request):
    """Accuracy itself as the proxy, 150 evaluations each (REA: population 20, tournament 5):
    REA's final accuracy is higher than random search's (Welch t-test, 300 runs each)."""
    if landscape == "additive":
        accuracy = synthetic_accuracy("cifar10", 12)
    else:
        from tfnas.space import parse_arch

        shared = request.getfixturevalue("shared_data")
        nats = pd.read_csv(shared / "nats_tss_accuracy.csv")
        accuracy = np.empty(NUM_ARCHS)
        accuracy[[parse_arch(s).code for s in nats["arch_str"]]] = nats["cifar100_test_acc_12ep"]
    oracle = ScoreTable.from_frame(frame(accuracy, accuracy), "naswot")
    rea = regularized_evolution(oracle, 150, 20, 5, runs=300, rng=np.random.default_rng(0))
    rs = random_search(oracle, 150, runs=300, rng=np.random.default_rng(1))
    test = stats.ttest_ind(rea["accuracy"], rs["accuracy"], equal_var=False,
                           alternative="greater")
    assert rea["accuracy"].mean() > rs["accuracy"].mean()
    assert test.pvalue < 0.01


def test_evolution_needs_the_whole_space():
    codes = np.arange(0, NUM_ARCHS, 2)
    half = ScoreTable.from_frame(frame(np.ones(len(codes)), np.ones(len(codes)), codes=codes),
                                 "naswot")
    with pytest.raises(ValueError, match=r"only 7813 of 15625 .*luigi --module pipeline "
                                         r"ScoreAll --dataset cifar10 --proxies naswot"):
        regularized_evolution(half, 100, 10, 3, runs=1, rng=np.random.default_rng(0))


def test_hints_name_the_configuration_the_scores_were_read_for():
    """Scores read at batch 96 are hinted at with batch 96's command, not the default's."""
    from tfnas.config import ScoringConfig

    codes = np.arange(5)
    config = ScoringConfig(seed=1, batch_size=96, augment=True)
    few = ScoreTable.from_frame(frame(np.ones(5), np.ones(5), codes=codes), "naswot",
                                config=config)
    hint = ("`luigi --module pipeline ScoreAll --dataset cifar10 --proxies naswot --seeds 1 "
            "--batch-size 96 --augment`")
    with pytest.raises(ValueError, match=f"or score more: {re.escape(hint)}"):
        random_search(few, 10, runs=1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=re.escape(f"run {hint} without --limit first")):
        regularized_evolution(few.unique(), 100, 10, 3, runs=1, rng=np.random.default_rng(0))


def test_evolution_rejects_inconsistent_settings(table):
    with pytest.raises(ValueError, match="tournament <= population <= cycles"):
        regularized_evolution(table, 100, 10, 11, runs=1, rng=np.random.default_rng(0))


# --- arrays and summaries ----------------------------------------------------------------------


def test_rank_puts_minus_inf_below_finite_and_unscored_last():
    codes = np.array([3, 7, 9, 11])
    part = ScoreTable.from_frame(frame(np.array([1.0, -np.inf, 1.0, 5.0]), np.ones(4),
                                       codes=codes), "naswot")
    assert [int(c) for c in np.argsort(part.rank)[:4]] == [11, 3, 9, 7]
    assert part.rank[0] > part.rank[7]  # unscored after −inf
    assert not part.complete and list(part.scored) == [3, 7, 9, 11]


def test_search_time_counts_each_distinct_arch_once(table):
    visited = np.array([[5, 5, 6, 5, 7], [8, 8, 8, 8, 8]])
    runs = summarise_runs(table, visited)
    assert runs["seconds"][0] == pytest.approx(table.seconds[[5, 6, 7]].sum())
    assert runs["seconds"][1] == pytest.approx(table.seconds[8])
    assert list(runs["distinct"]) == [3, 1]
    assert runs["population_accuracy_mean"][0] == pytest.approx(table.accuracy[[5, 6, 7]].mean())


def test_table_errors_say_what_to_run():
    data = frame(np.ones(NUM_ARCHS), np.ones(NUM_ARCHS))
    with pytest.raises(ValueError, match=r"no zen scores for cifar10 in the database \(it has "
                                         r"naswot\): run `luigi --module pipeline ScoreAll "
                                         r"--dataset cifar10 --proxies zen` first"):
        ScoreTable.from_frame(data, "zen")
    with pytest.raises(ValueError, match="unknown accuracy column 'acc'"):
        ScoreTable.from_frame(data, "naswot", "acc")
    empty = data.assign(naswot=np.nan)
    with pytest.raises(ValueError, match=r"no naswot scores for cifar10 .*luigi --module "
                                         r"pipeline ScoreAll --dataset cifar10 --proxies naswot"):
        ScoreTable.from_frame(empty, "naswot")
    with pytest.raises(ValueError, match=r"test_acc_12ep is unknown for 2 of the 15625 .*"
                                         r"ImportBenchmark"):
        ScoreTable.from_frame(data.assign(test_acc_12ep=[np.nan, np.nan] + [1.0] * 15623),
                              "naswot")
