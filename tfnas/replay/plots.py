"""Figures: proxy score against accuracy (Fig. 3 of the study), and random search against
regularized evolution as accuracy for simulated search time. Plain matplotlib ``Figure``s
(no pyplot state); ``figure.savefig("x.png")`` renders them with the Agg backend.

Every title and axis label carries what is plotted and how many architectures it is; layouts
are constrained (nothing clipped at any number of panels), log axes have labelled ticks at
1-2-5 steps only, and the search figure's legend sits below the panels, off the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from tfnas.datasets import DATASETS
from tfnas.replay.correlations import neg_inf_lowest, ranks
from tfnas.replay.search import ScoreTable, random_search, summarise_runs
from tfnas.replay.search.arrays import check_accuracy
from tfnas.replay.search.evolution import evolve
from tfnas.replay.search.streams import search_rng
from tfnas.replay.tables import REA_SETTINGS

BUDGETS: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000)  # architectures evaluated
PANEL = (4.4, 3.8)  # inches per panel
#: A score axis becomes logarithmic when its positive scores span this factor or more.
LOG_SPAN = 100.0


def accuracy_label(column: str) -> str:
    """An accuracy column in words: ``test_acc_12ep`` → "test accuracy after 12 epochs"."""
    split, _, epochs = column.partition("_acc_")
    return f"{'validation' if split == 'valid' else split} accuracy after " \
           f"{epochs.removesuffix('ep')} epochs"


def score_accuracy_figure(scores: Mapping[str, pd.DataFrame], proxy: str,
                          accuracy: str = "test_acc_12ep") -> Figure:
    """Fig. 3 of the study for ``proxy``: one scatter of score against accuracy per dataset,
    Spearman ρ (−inf ranked lowest) and the number of architectures in each title; −inf scores
    are not drawn (the x label counts them)."""
    check_accuracy(accuracy)
    figure = Figure(figsize=(PANEL[0] * len(scores), PANEL[1] + 0.4), layout="constrained")
    axes = figure.subplots(1, len(scores), squeeze=False)
    counts = []
    for ax, (dataset, frame) in zip(axes[0], scores.items(), strict=True):
        rows = frame[frame[proxy].notna() & frame[accuracy].notna()]
        score, acc = rows[proxy].to_numpy(float), rows[accuracy].to_numpy(float)
        finite = np.isfinite(score)
        rho = (np.corrcoef(ranks(neg_inf_lowest(score)), ranks(acc))[0, 1] if len(rows) > 2
               else np.nan)
        ax.scatter(score[finite], acc[finite], s=2, alpha=0.3, linewidths=0, rasterized=True)
        ax.set_title(f"{dataset}: ρ = {rho:.3f}, n = {len(rows):,}", fontsize=10)
        hidden = int((~finite).sum())
        shown = score[finite]
        logarithmic = len(shown) > 1 and shown.min() > 0 and shown.max() >= LOG_SPAN * shown.min()
        if logarithmic:  # e.g. MeCo: a linear axis crushes most points against 0
            ax.set_xscale("log")
            _log_ticks(ax)
        ax.set_xlabel(f"{proxy} score" + (" (log scale)" if logarithmic else "")
                      + (f" ({hidden:,} at −inf not shown)" if hidden else ""))
        ax.set_ylabel(f"{accuracy_label(accuracy)} (%)")
        ax.grid(alpha=0.3)
        counts.append(len(rows))
    total = (f"{counts[0]:,} architectures" if len(set(counts)) == 1
             else "architectures: " + ", ".join(f"{n:,}" for n in counts))
    _suptitle(figure, f"{proxy} score vs {accuracy_label(accuracy)} ({total} per dataset)")
    return figure


def search_curves(table: ScoreTable, runs: int, seed: int = 0,
                  budgets: Sequence[int] = BUDGETS) -> pd.DataFrame:
    """Mean accuracy (and std over runs) against mean simulated search time for random search
    and REA at each budget of evaluated architectures. REA (population 64, tournament 20) is
    run once for the largest budget; a smaller budget c is its first c evaluations (the same
    random stream). REA needs a fully scored space and is left out otherwise. Random streams:
    the experiments' (:mod:`tfnas.replay.search.streams`), as ``tfnas tables`` replays them."""
    rows = []
    for budget in budgets:
        if budget <= len(table.scored):
            result = random_search(table, budget, runs, seed)  # the experiment's stream
            rows.append(("random search", budget, result))
    if table.complete:
        rea = {k: v for k, v in REA_SETTINGS.items() if k != "cycles"}
        visited = evolve(table, max(budgets), runs=runs, **rea,
                         rng=search_rng(seed, "rea", table.proxy, table.dataset))
        rows += [("regularized evolution", c, summarise_runs(table, visited[:, :c]))
                 for c in budgets if c >= rea["population"]]
    return pd.DataFrame([{"search": search, "budget": budget, "runs": runs,
                          "time_mean_s": result["seconds"].mean(),
                          "accuracy_mean": result["accuracy"].mean(),
                          "accuracy_std": result["accuracy"].std(ddof=0)}
                         for search, budget, result in rows],
                        columns=["search", "budget", "runs", "time_mean_s", "accuracy_mean",
                                 "accuracy_std"])


def _log_ticks(ax) -> None:
    """Labelled major ticks at 1-2-5 steps over at most ~1.5 decades, at powers of ten beyond
    (at most six); plain numbers; no minor labels (they ran into each other)."""
    low, high = ax.get_xlim()
    decades = np.log10(high / low) if low > 0 else 10
    subs = (1.0, 2.0, 5.0) if decades <= 1.5 else (1.0, 3.0) if decades <= 3 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _suptitle(figure: Figure, text: str) -> None:
    """A figure title wrapped to the figure's width (one panel is narrower than the text)."""
    import textwrap

    width = figure.get_figwidth()
    figure.suptitle(textwrap.fill(text, width=max(30, int(width * 11))), fontsize=11)


def search_figure(curves: Mapping[tuple[str, str], pd.DataFrame], accuracy: str = "") -> Figure:
    """Accuracy against simulated search time, one panel per (proxy, dataset) key of
    ``curves`` (frames of :func:`search_curves`), random search and REA as two lines, each
    curve's first and last budget of evaluated architectures written beside its point.
    One row per proxy, its datasets in NATS-Bench order from the left; a (proxy, dataset)
    without curves has no panel (a row with fewer datasets ends early)."""
    proxies = list(dict.fromkeys(proxy for proxy, _ in curves))
    rows = {proxy: sorted((d for p, d in curves if p == proxy), key=list(DATASETS).index)
            for proxy in proxies}
    columns = max(len(datasets) for datasets in rows.values())
    figure = Figure(figsize=(PANEL[0] * columns, PANEL[1] * len(proxies) + 0.8),
                    layout="constrained")
    axes = figure.subplots(len(proxies), columns, squeeze=False)
    handles = {}
    runs = set()
    label = f"{accuracy_label(accuracy)} of the chosen arch (%)" if accuracy else \
        "accuracy of the chosen arch (%)"
    for proxy, row in zip(proxies, axes, strict=True):
        for unused in row[len(rows[proxy]):]:
            unused.remove()
        for dataset, ax in zip(rows[proxy], row, strict=False):
            curve = curves[(proxy, dataset)]
            runs.update(curve["runs"].unique())
            for search, line in curve.groupby("search"):
                drawn = ax.errorbar(line["time_mean_s"], line["accuracy_mean"],
                                    yerr=line["accuracy_std"], marker="o", markersize=3,
                                    capsize=2, label=search)
                handles[search] = drawn
                ends = line.iloc[[0, -1]] if len(line) > 1 else line
                for point in ends.itertuples():  # first and last budget, right of the point,
                    ax.annotate(f"{point.budget:g}",  # clear of its vertical error bar
                                (point.time_mean_s, point.accuracy_mean), xytext=(5, -2),
                                textcoords="offset points", ha="left", va="top", fontsize=7,
                                color=drawn.lines[0].get_color())
            ax.set_xscale("log")
            ax.margins(x=0.15, y=0.08)
            _log_ticks(ax)
            ax.set_title(f"{dataset}, {proxy}", fontsize=10)
            ax.set_xlabel("simulated search time (s, Σ scoring seconds)")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                  ncols=len(handles), fontsize=9)
    _suptitle(figure, f"Random search vs regularized evolution: mean ± std over "
                      f"{', '.join(map(str, sorted(runs)))} runs; numbers: architectures "
                      "evaluated (first and last budget)")
    return figure
