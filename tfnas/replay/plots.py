"""Figures: proxy score against accuracy (Fig. 3 of the study), and random search against
regularized evolution as accuracy for simulated search time. Plain matplotlib ``Figure``s
(no pyplot state); ``figure.savefig("x.png")`` renders them with the Agg backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from tfnas.datasets import DATASETS
from tfnas.replay.correlations import neg_inf_lowest
from tfnas.replay.search import ScoreTable, random_search, summarise_runs
from tfnas.replay.search.arrays import check_accuracy
from tfnas.replay.search.evolution import evolve
from tfnas.replay.tables import REA_SETTINGS

BUDGETS: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000)  # architectures evaluated


def score_accuracy_figure(scores: Mapping[str, pd.DataFrame], proxy: str,
                          accuracy: str = "test_acc_12ep") -> Figure:
    """Fig. 3 of the study for ``proxy``: one scatter of score against accuracy per dataset,
    Spearman ρ (−inf ranked lowest) in each title; −inf scores are not drawn (counted)."""
    check_accuracy(accuracy)
    figure = Figure(figsize=(4.2 * len(scores), 3.8), layout="tight")
    axes = figure.subplots(1, len(scores), squeeze=False)
    for ax, (dataset, frame) in zip(axes[0], scores.items(), strict=True):
        rows = frame[frame[proxy].notna() & frame[accuracy].notna()]
        score, acc = rows[proxy].to_numpy(float), rows[accuracy].to_numpy(float)
        finite = np.isfinite(score)
        rho = stats.spearmanr(neg_inf_lowest(score), acc).statistic if len(rows) > 2 else np.nan
        ax.scatter(score[finite], acc[finite], s=2, alpha=0.3, linewidths=0, rasterized=True)
        ax.set_title(f"{dataset}: Spearman ρ = {rho:.3f}", fontsize=10)
        ax.set_xlabel(f"{proxy} score" + (f" ({(~finite).sum()} at -inf not shown)"
                                          if (~finite).any() else ""))
        ax.set_ylabel(f"{accuracy} (%)")
        ax.grid(alpha=0.3)
    figure.suptitle(f"{proxy} score vs accuracy, {len(next(iter(scores.values())))} "
                    "architectures per dataset", fontsize=11)
    return figure


def search_curves(table: ScoreTable, runs: int, seed: int = 0,
                  budgets: Sequence[int] = BUDGETS) -> pd.DataFrame:
    """Mean accuracy (and std over runs) against mean simulated search time for random search
    and REA at each budget of evaluated architectures. REA (population 64, tournament 20) is
    run once for the largest budget; a smaller budget c is its first c evaluations (the same
    random stream). REA needs a fully scored space and is left out otherwise."""
    rows = []
    for budget in budgets:
        if budget <= len(table.scored):
            result = random_search(table, budget, runs, np.random.default_rng([seed, budget]))
            rows.append(("random search", budget, result))
    if table.complete:
        rea = {k: v for k, v in REA_SETTINGS.items() if k != "cycles"}
        visited = evolve(table, max(budgets), runs=runs, rng=np.random.default_rng(seed), **rea)
        rows += [("regularized evolution", c, summarise_runs(table, visited[:, :c]))
                 for c in budgets if c >= rea["population"]]
    return pd.DataFrame([{"search": search, "budget": budget,
                          "time_mean_s": result["seconds"].mean(),
                          "accuracy_mean": result["accuracy"].mean(),
                          "accuracy_std": result["accuracy"].std(ddof=0)}
                         for search, budget, result in rows])


def search_figure(curves: Mapping[tuple[str, str], pd.DataFrame]) -> Figure:
    """Accuracy against simulated search time, one panel per (proxy, dataset) key of
    ``curves`` (frames of :func:`search_curves`), random search and REA as two lines. Columns
    are datasets in NATS-Bench order; a (proxy, dataset) without curves is left blank."""
    proxies = list(dict.fromkeys(proxy for proxy, _ in curves))
    datasets = sorted({dataset for _, dataset in curves}, key=list(DATASETS).index)
    figure = Figure(figsize=(4.2 * len(datasets), 3.4 * len(proxies)), layout="tight")
    axes = figure.subplots(len(proxies), len(datasets), squeeze=False)
    for proxy, row in zip(proxies, axes, strict=True):
        for dataset, ax in zip(datasets, row, strict=True):
            curve = curves.get((proxy, dataset))
            if curve is None:
                ax.set_visible(False)
                continue
            for search, line in curve.groupby("search"):
                ax.errorbar(line["time_mean_s"], line["accuracy_mean"],
                            yerr=line["accuracy_std"], marker="o", markersize=3, capsize=2,
                            label=search)
                last = line.iloc[-1]
                ax.annotate(f"{int(last['budget'])}", (last["time_mean_s"], last["accuracy_mean"]),
                            fontsize=7)
            ax.set_xscale("log")
            ax.set_title(f"{dataset}, {proxy}", fontsize=10)
            ax.set_xlabel("simulated search time (s, Σ scoring seconds)")
            ax.set_ylabel("accuracy of the chosen arch (%)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    figure.suptitle("Random search vs regularized evolution (mean ± std over runs; numbers: "
                    "architectures evaluated)", fontsize=11)
    return figure
