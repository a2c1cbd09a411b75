"""How well each proxy ranks architectures: correlation with accuracy over the whole space.

Statistics, for one proxy x and one accuracy column y over the architectures having both:

- ``pearson``: Pearson's r over the architectures with a FINITE score (−inf has no value to
  correlate linearly; ``n_neg_inf`` says how many were left out).
- ``spearman`` (ρ, mid-ranks) and ``kendall`` (τ-b): −inf ranks lowest, i.e. it is replaced by
  a value below the finite minimum, so all −inf scores tie at the bottom.
- ``top1`` / ``top5``: precision of the proxy's top 1 % / 5 %: the share of the proxy's top
  set that is also in the accuracy's top set. An architecture is in the top p of a variable
  when fewer than p·n architectures are strictly better (ties at the border are all in).

Point estimates are exact and equal scipy.stats' (the tests compare them): mid-ranks by
:func:`ranks`, Kendall's τ-b from exact concordance counts (:func:`concordance`), Pearson and
Spearman by ``numpy.corrcoef`` — numpy only, so a report does not pay scipy.stats' import (it
parses its docstrings, ~0.5 s). 95 % intervals come from a vectorised nonparametric
bootstrap: ``resamples`` multinomial resamples of the architectures, as count weights, shared
by all statistics of a dataset; the interval runs from the 2.5th to the 97.5th percentile of
the resampled statistic (a percentile interval: it stays inside the statistic's range, e.g.
[-1, 1], at any n). Pearson, Spearman (mid-ranks recomputed in every resample) and top-k are
exact per resample. Kendall's concordance count Σ_{i<j} w_i w_j sign(Δx)sign(Δy) uses its
first-order expansion in the weights around w = 1 (exact would cost a full O(n log n) Kendall
per resample; tie corrections stay exact), clipped to [-1, 1]: its spread matches exact
resampling within a few percent at n in the thousands (checked in the tests), the error
shrinking like 1/√n.

Published values come from the database's ``published`` table (each proxy module declares
them); a value is printed beside ours only for the very accuracy column it was measured
against (same schedule, split and run), and listed apart, labelled, otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from tfnas.datasets import DATASETS
from tfnas.errors import UserError
from tfnas.replay.markdown import format_number, markdown_table
from tfnas.replay.parallel import fork_map, workers
from tfnas.replay.search.arrays import ACCURACIES, stored_proxies

if TYPE_CHECKING:
    import pandas as pd

    from tfnas.replay.search.arrays import Columns

STATISTICS: tuple[str, ...] = ("pearson", "spearman", "kendall", "top1", "top5")
TOP_FRACTIONS: dict[str, float] = {"top1": 0.01, "top5": 0.05}


def published_values(published: Sequence[Mapping]) -> dict[tuple[str, str, str, str], float]:
    """Rows of the database's ``published`` table (:func:`db.read.read_published`) keyed
    (proxy, statistic, dataset, accuracy column it was measured against): a value is shown
    only beside that very column."""
    return {(r["proxy"], r["statistic"], r["dataset"], r["accuracy"]): float(r["value"])
            for r in published}


def neg_inf_lowest(score: np.ndarray) -> np.ndarray:
    """``score`` with −inf replaced by a value below every finite score (for ranking; stored
    scores are never NaN or +inf)."""
    finite = np.isfinite(score)
    floor = np.nextafter(score[finite].min(), -np.inf) if finite.any() else 0.0
    return np.where(finite, score, floor)


def top_set(values: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the architectures fewer than ``fraction``·n of which are strictly better."""
    return top_sets(values, {"top": fraction})["top"]


def ranks(values: np.ndarray, ties: str = "average", order: np.ndarray | None = None
          ) -> np.ndarray:
    """1-based ranks of ``values``; tied values share the mean of their ranks ("average", as
    scipy.stats.rankdata) or the largest ("max"). ``order``: ``np.argsort(values,
    kind="stable")`` when already computed."""
    order = np.argsort(values, kind="stable") if order is None else order
    ordered = values[order]
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(values)]  # one past each tie group
    per_group = (starts + 1 + ends) / 2 if ties == "average" else ends.astype(float)
    out = np.empty(len(values))
    out[order] = per_group[np.cumsum(first) - 1]
    return out


def kendall_tau_b(x: np.ndarray, y: np.ndarray, h: np.ndarray | None = None) -> float:
    """Kendall's τ-b (as scipy.stats.kendalltau): S / √((n₀ − n₁)(n₀ − n₂)) with S the exact
    concordance count, n₀ = n(n − 1)/2 and n₁, n₂ the tied pairs of x and of y.
    ``h``: :func:`concordance` of (x, y) when already computed."""
    n = len(x)
    s = (concordance(x, y) if h is None else h).sum() / 2
    pairs = n * (n - 1) / 2

    def tied(v: np.ndarray) -> float:
        counts = np.unique(v, return_counts=True)[1]
        return float((counts * (counts - 1)).sum() / 2)

    denominator = np.sqrt((pairs - tied(x)) * (pairs - tied(y)))
    return float(s / denominator) if denominator > 0 else np.nan


def top_sets(values: np.ndarray, fractions: Mapping[str, float] = TOP_FRACTIONS,
             order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`top_set` for each named fraction, from one ranking (``order``: as
    :func:`ranks`)."""
    strictly_better = len(values) - ranks(values, ties="max", order=order)
    return {name: strictly_better < fraction * len(values)
            for name, fraction in fractions.items()}


def top_precision(x: np.ndarray, y: np.ndarray, fraction: float) -> float:
    """Share of x's top ``fraction`` that is also in y's top ``fraction``."""
    top_x = top_set(x, fraction)
    return float((top_x & top_set(y, fraction)).sum() / top_x.sum())


class Variable(NamedTuple):
    """One variable ranked once (:func:`ranks`) for every statistic of every pair it
    is in: its values (−inf already lowest), mid-ranks and top sets."""

    values: np.ndarray
    ranks: np.ndarray
    top: dict[str, np.ndarray]

    @classmethod
    def of(cls, values: np.ndarray, order: np.ndarray | None = None) -> Variable:
        """``order``: as :func:`ranks`."""
        return cls(values, ranks(values, order=order), top_sets(values, order=order))


def point_statistics(score: np.ndarray, accuracy: np.ndarray,
                     variables: tuple[Variable, Variable] | None = None,
                     h: np.ndarray | None = None) -> dict[str, float]:
    """The five statistics of the module docstring (equal to scipy.stats').

    ``variables``: ``Variable.of(neg_inf_lowest(score))`` and ``Variable.of(accuracy)``, and
    ``h``: their :func:`concordance`, when already computed. Spearman's ρ is Pearson's r of
    the mid-ranks computed exactly as ``scipy.stats.spearmanr`` computes it (``np.corrcoef``
    of the two rank columns).
    """
    x, y = variables or (Variable.of(neg_inf_lowest(score)), Variable.of(accuracy))
    finite = np.isfinite(score)
    out = {
        "pearson": np.corrcoef(score[finite], accuracy[finite])[0, 1]
        if finite.sum() > 2 else np.nan,
        "spearman": np.corrcoef(np.column_stack((x.ranks, y.ranks)), rowvar=False)[1, 0],
        "kendall": kendall_tau_b(x.values, y.values, h),
    }
    out.update({name: (x.top[name] & y.top[name]).sum() / x.top[name].sum()
                for name in TOP_FRACTIONS})
    return {name: float(value) for name, value in out.items()}


def concordance(x: np.ndarray, y: np.ndarray, width: int = 64) -> np.ndarray:
    """h_i = Σ_j sign(x_i − x_j)·sign(y_i − y_j) for every i, in O(n·(m/width + width)).

    Kendall's S = Σ h / 2. With the items in x order, ``below`` the first of i's x-tie group,
    h_i = 2·(#{p < below : y_p < y_i} + #{p < below : y_p ≤ y_i} − below)
    + #{j : y_j > y_i} − #{j : y_j < y_i} − (#{j ~ i : y_j > y_i} − #{j ~ i : y_j < y_i}),
    j ~ i meaning x_j = x_i. The two prefix counts come from a table of cumulative y
    histograms at every ``width``-th item (blocks × m distinct y values) plus a direct
    count over the at most ``width`` items of the last, partial block. h is symmetric in x
    and y, so y is the variable with fewer distinct values (the smaller table).
    """
    if len(np.unique(x)) < len(np.unique(y)):
        x, y = y, x
    n = len(x)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ys = np.unique(y, return_inverse=True)[1].ravel()[order]  # dense y ranks, x order
    m = int(ys.max()) + 1 if n else 0
    first = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(first) - 1
    below = np.flatnonzero(first)[group]  # start of each item's x-tie group
    # table[b, v] = #{p < b·width : ys[p] < v}, b = 0..blocks, v = 0..m
    blocks = -(-n // width)
    table = np.bincount((np.arange(n) // width + 1) * (m + 1) + ys + 1,
                        minlength=(blocks + 1) * (m + 1)).astype(np.int32).reshape(blocks + 1,
                                                                                 m + 1)
    np.cumsum(table, axis=0, dtype=np.int32, out=table)
    np.cumsum(table, axis=1, dtype=np.int32, out=table)
    block = below // width
    lt = table[block, ys]
    le = table[block, ys + 1]
    # the items of the partial block, [block·width, below): compared directly
    ys = ys.astype(np.int32)
    padded = np.full(blocks * width, m, dtype=np.int32)  # m: never below any y
    padded[:n] = ys
    partial = padded.reshape(blocks, width)[block]
    partial[np.arange(width) >= (below % width)[:, None]] = m
    lt += np.count_nonzero(partial < ys[:, None], axis=1)
    le += np.count_nonzero(partial <= ys[:, None], axis=1)
    upto_y = np.cumsum(np.bincount(ys, minlength=m))  # #{j : y_j <= v}
    y_lt = (upto_y - np.bincount(ys, minlength=m))[ys]
    y_gt = n - upto_y[ys]
    h = np.empty(n, dtype=np.int64)
    h[order] = 2 * (lt + le - below) + (y_gt - y_lt)
    if not first.all():  # x ties: less the pairs within i's x-tie group
        key = group * (m + 1) + ys  # within an x-tie group, by y
        sorted_key = np.sort(key)
        tie_lt = np.searchsorted(sorted_key, key, side="left") - below
        tie_gt = np.r_[np.flatnonzero(first)[1:], n][group] - np.searchsorted(
            sorted_key, key, side="right")
        h[order] -= tie_gt - tie_lt
    return h


def resample_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Multinomial bootstrap counts (resamples × n, float32): how often each item is drawn
    when n items are drawn with replacement."""
    draws = rng.integers(0, n, (resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(
        np.float32)


class _Ranked:
    """One variable in every resample (count weights B × n): centred mid-ranks, top sets and
    the tie sums Σ_g W_g², Σ_g W_g³ over tie groups g (an item's copies tie with each other).
    Everything is computed per tie group (B × groups); the mid-ranks are spread to the items
    by one gather. A top set is a suffix of the groups (ascending values), so it is kept as
    the first group in it (``cut``, per resample) and its weight (``top_weight``)."""

    def __init__(self, values: np.ndarray, weights: np.ndarray,
                 order: np.ndarray | None = None) -> None:
        order = np.argsort(values, kind="stable") if order is None else order
        sorted_values = values[order]
        first = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
        group = np.empty(len(values), dtype=np.intp)  # each item's tie group, ascending values
        group[order] = np.cumsum(first) - 1
        group_weights = np.take(weights, order, axis=1)  # W_g: one item per group without ties
        if not first.all():
            group_weights = np.add.reduceat(group_weights, np.flatnonzero(first), axis=1)
        upto = np.cumsum(group_weights, axis=1)  # Σ of the weights of groups up to g
        total = upto[:, -1:]
        self.total = total[:, 0].astype(float)
        self.group = group
        self.cut, self.top_weight = {}, {}
        for name, fraction in TOP_FRACTIONS.items():  # fewer than f·N strictly better
            cut = np.count_nonzero(upto <= (1 - fraction) * total, axis=1)
            below = np.take_along_axis(upto, np.maximum(cut - 1, 0)[:, None], axis=1)[:, 0]
            self.cut[name] = cut
            self.top_weight[name] = self.total - np.where(cut > 0, below, 0)
        group_weights = group_weights.astype(float)  # float64: W_g³ and mid-rank products
        centred = group_weights + total  # mid-rank − (N+1)/2 = upto − (W_g + N)/2
        centred *= -0.5
        centred += upto
        self.mid = np.take(centred, group, axis=1)
        self.squares = np.einsum("ij,ij->i", group_weights, group_weights)
        cubes = np.einsum("ij,ij,ij->i", group_weights, group_weights, group_weights)
        self.rank_ss = (self.total**3 - cubes) / 12  # Σ w·(mid-rank − mean)², ties corrected


def bootstrap_statistics(score: np.ndarray, accuracy: np.ndarray, weights: np.ndarray,
                         ranked: tuple[_Ranked, _Ranked] | None = None,
                         h: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each statistic in each resample given as count ``weights`` (B × n); see module doc.
    ``ranked`` and ``h`` (:func:`concordance`): as :func:`point_statistics`."""
    weights = weights.astype(np.float32, copy=False)
    x = neg_inf_lowest(score)
    rx, ry = ranked or (_Ranked(x, weights), _Ranked(accuracy, weights))
    finite = np.isfinite(score)
    f = np.where(finite, score, 0.0)
    f = (f - f[finite].mean()) / (f[finite].std() or 1.0) * finite
    a = (accuracy - accuracy.mean()) / (accuracy.std() or 1.0)
    h = concordance(x, accuracy) if h is None else h
    moments = (weights @ np.stack([finite, f, a * finite, f * f, a * a * finite, f * a, h],
                                  axis=1).astype(np.float32)).astype(float)
    count, sf, sa, sff, saa, sfa, wh = moments.T
    # float32 moments can overshoot |r| = 1 by ~1e-7: correlations are clipped to [-1, 1]
    out = {"pearson": np.clip((sfa - sf * sa / count)
                              / np.sqrt((sff - sf**2 / count) * (saa - sa**2 / count)), -1, 1),
           "spearman": np.clip(np.einsum("ij,ij,ij->i", weights, rx.mid, ry.mid).astype(float)
                               / np.sqrt(rx.rank_ss * ry.rank_ss), -1, 1)}
    s = h.sum() / 2 + wh - h.sum()  # first-order expansion of Σ_i<j w_i w_j s_ij around w = 1
    out["kendall"] = np.clip(
        s / np.sqrt((rx.total**2 - rx.squares) * (ry.total**2 - ry.squares) / 4), -1, 1)
    for name in TOP_FRACTIONS:  # weight in both top sets, over the items that can be in both
        cx, cy = rx.cut[name], ry.cut[name]
        items = np.flatnonzero((rx.group >= cx.min()) & (ry.group >= cy.min()))
        both = (rx.group[items] >= cx[:, None]) & (ry.group[items] >= cy[:, None])
        out[name] = (np.einsum("ij,ij->i", weights[:, items], both.astype(weights.dtype))
                     .astype(float) / rx.top_weight[name])
    return out


def correlation_table(scores: Mapping[str, Columns], proxies: Sequence[str] | None = None,
                      accuracies: Sequence[str] = ACCURACIES, resamples: int = 100,
                      seed: int = 0, published: Sequence[Mapping] = ()) -> pd.DataFrame:
    """:func:`correlation_rows` as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(correlation_rows(scores, proxies, accuracies, resamples, seed, published))


def correlation_rows(scores: Mapping[str, Columns], proxies: Sequence[str] | None = None,
                     accuracies: Sequence[str] = ACCURACIES, resamples: int = 100,
                     seed: int = 0, published: Sequence[Mapping] = ()) -> list[dict]:
    """One row per (dataset, proxy, accuracy column) with data: every statistic, its
    bootstrap interval (``<stat>_low``/``<stat>_high``) and the published value for that very
    accuracy column (``published``: rows of the ``published`` table,
    :func:`db.read.read_published`).

    ``scores``: dataset → that dataset's columns or frame (:class:`db.read.Scores`); ``proxies``
    default to every proxy stored. Pairs without data (proxy not scored, accuracy column
    empty) are left out; an empty result is an error. The (dataset, accuracy) pairs are
    shared out over the cores (:func:`tfnas.replay.parallel.fork_map`); the resamples of a
    dataset come from its own seeded generator, so the result does not depend on the shares.
    """
    anchors = published_values(published)
    pairs = [(dataset, accuracy) for dataset in scores for accuracy in accuracies]
    # Consecutive pairs per core, of about equal work (architectures with that accuracy), so
    # that a dataset is split between two cores at most.
    work = np.cumsum([np.count_nonzero(~np.isnan(np.asarray(scores[dataset][accuracy], float)))
                      for dataset, accuracy in pairs])
    core = np.minimum((work - 1) * workers() // max(int(work[-1]), 1), workers() - 1)
    shares = []
    for part in np.unique(core):
        by_dataset: dict[str, list[str]] = {}
        for i in np.flatnonzero(core == part):
            by_dataset.setdefault(pairs[i][0], []).append(pairs[i][1])
        shares.append([(dataset, *_numbers(scores[dataset], proxies, columns), columns,
                        resamples, seed, anchors) for dataset, columns in by_dataset.items()])
    rows = [row for part in fork_map(_share_rows, shares) for rows in part for row in rows]
    if not rows:
        raise UserError("no (proxy, accuracy) pair has data: score a dataset with `luigi "
                         "--module pipeline ScoreAll --dataset cifar10` (which also imports "
                         "accuracies) first")
    return rows


def _ranked(values: np.ndarray, weights: np.ndarray) -> tuple[Variable, _Ranked]:
    """``values`` ranked once for the point statistics and for the resamples."""
    order = np.argsort(values, kind="stable")
    return Variable.of(values, order), _Ranked(values, weights, order)


def _numbers(frame: Columns, proxies: Sequence[str] | None, accuracies: Sequence[str]
             ) -> tuple[dict[str, np.ndarray], list[str]]:
    """The columns a share reads (what a forked worker is sent: no strings) and the proxies
    among them."""
    names = stored_proxies(frame) if proxies is None else [p for p in proxies if p in frame]
    return {name: np.asarray(frame[name]) for name in ["arch_code", *names, *accuracies]}, names


def _share_rows(units: list[tuple]) -> list[list[dict]]:
    """:func:`_dataset_rows` of each unit of one share."""
    return [_dataset_rows(*unit) for unit in units]


def _dataset_rows(dataset: str, frame: Columns, proxies: Sequence[str] | None,
                  accuracies: Sequence[str], resamples: int, seed: int,
                  anchors: Mapping[tuple[str, str, str, str], float]) -> list[dict]:
    """:func:`correlation_table`'s rows of one dataset (for ``accuracies``)."""
    rng = np.random.default_rng([seed, list(DATASETS).index(dataset)])
    weights = resample_weights(len(frame["arch_code"]), resamples, rng)
    names = [p for p in (stored_proxies(frame) if proxies is None else proxies) if p in frame]
    # Ranked variables are big (resamples × n, several arrays): each accuracy column's are
    # kept for every proxy, each proxy's only while its own pairs are computed.
    ranked_accuracy: dict[tuple[str, bytes], tuple[Variable, _Ranked]] = {}
    found = {}
    for proxy in names:
        ranked_proxy: dict[bytes, tuple[Variable, _Ranked]] = {}
        scores = np.asarray(frame[proxy], dtype=float)
        for accuracy in accuracies:
            accs = np.asarray(frame[accuracy], dtype=float)
            keep = ~np.isnan(scores) & ~np.isnan(accs)
            if keep.sum() < 3:
                continue
            score, acc = scores[keep], accs[keep]
            w = weights if keep.all() else weights[:, keep]
            mask = keep.tobytes()
            if mask not in ranked_proxy:
                ranked_proxy[mask] = _ranked(neg_inf_lowest(score), w)
            if (accuracy, mask) not in ranked_accuracy:
                ranked_accuracy[accuracy, mask] = _ranked(acc, w)
            (x, rx), (y, ry) = ranked_proxy[mask], ranked_accuracy[accuracy, mask]
            h = concordance(x.values, y.values)
            point = point_statistics(score, acc, (x, y), h)
            boot = bootstrap_statistics(score, acc, w, (rx, ry), h)
            row = {"dataset": dataset, "proxy": proxy, "accuracy": accuracy,
                   "n": int(keep.sum()), "n_neg_inf": int(np.isneginf(score).sum())}
            for name in STATISTICS:
                low, high = percentile_interval(boot[name])
                row |= {name: point[name], f"{name}_low": low, f"{name}_high": high,
                        f"{name}_published": anchors.get((proxy, name, dataset, accuracy),
                                                         np.nan)}
            found[accuracy, proxy] = row
    return [found[key] for key in ((a, p) for a in accuracies for p in names) if key in found]


def vote_agreement(members: Sequence[np.ndarray], accuracy: np.ndarray, block: int = 512
                   ) -> float:
    """Abdelfattah et al.'s "vote" (ICLR 2021; their NAS-Bench-201 notebook, synflow +
    jacob_cov + snip): over the ordered pairs (i, j) of architectures whose accuracies differ,
    the share where the majority of ``members`` orders i and j as accuracy does. i is predicted
    better when at least half of the members score it strictly higher (so a tie votes for j,
    as in the reference). Chance is 0.5. It is a pairwise agreement rate, not a rank
    correlation — the 0.82 it is quoted with is not comparable to a Spearman ρ; compare it
    with one member's own agreement (this function with that member alone). Architectures
    with a NaN score or accuracy are left out; O(n²) pairs, ``block`` rows at a time."""
    scores = np.column_stack([np.asarray(m, dtype=float) for m in members])
    accuracy = np.asarray(accuracy, dtype=float)
    known = ~np.isnan(scores).any(axis=1) & ~np.isnan(accuracy)
    scores, accuracy = scores[known], accuracy[known]
    right = pairs = 0
    for start in range(0, len(accuracy), block):
        rows = slice(start, start + block)
        higher = sum((scores[rows, k, None] > scores[None, :, k]).astype(np.int16)
                     for k in range(scores.shape[1]))
        better = accuracy[rows, None] > accuracy[None, :]
        differ = accuracy[rows, None] != accuracy[None, :]
        right += np.count_nonzero(((2 * higher >= scores.shape[1]) == better) & differ)
        pairs += np.count_nonzero(differ)
    return right / pairs if pairs else np.nan


def percentile_interval(resampled: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of the resampled statistic (NaN resamples dropped)."""
    finite = resampled[np.isfinite(resampled)]
    if not len(finite):
        return np.nan, np.nan
    low, high = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def seed_spread(seed_scores: pd.DataFrame, scores: Mapping[str, Columns],
                accuracies: Sequence[str] = ACCURACIES) -> pd.DataFrame:
    """Mean and std (ddof 1) over seeds of every statistic, for each (dataset, proxy) scored
    with two or more seeds, each seed's statistic computed over the SAME architectures: those
    scored under every seed (``common`` says how many). ``seed_scores``: long frame (dataset,
    proxy, seed, arch_code, score); accuracies come from ``scores``."""
    import pandas as pd

    seeded = set(seed_scores["dataset"])
    known = {dataset: pd.DataFrame({name: np.asarray(cols[name]) for name in accuracies},
                                   index=np.asarray(cols["arch_code"]))
             for dataset, cols in scores.items() if dataset in seeded}
    rows = []
    for (dataset, proxy), group in seed_scores.groupby(["dataset", "proxy"], sort=False):
        if group["seed"].nunique() < 2 or dataset not in known:
            continue
        wide = group.pivot(index="arch_code", columns="seed", values="score").dropna()
        for accuracy in accuracies:
            acc = known[dataset][accuracy].reindex(wide.index).to_numpy(float)
            keep = ~np.isnan(acc)
            if keep.sum() < 3:
                continue
            spread = pd.DataFrame([point_statistics(wide[seed].to_numpy(float)[keep], acc[keep])
                                   for seed in wide.columns])
            row = {"dataset": dataset, "proxy": proxy, "accuracy": accuracy,
                   "seeds": len(wide.columns), "common": int(keep.sum())}
            for name in STATISTICS:
                row[f"{name}_seed_mean"] = spread[name].mean()
                row[f"{name}_seed_std"] = spread[name].std(ddof=1)
            rows.append(row)
    return pd.DataFrame(rows, columns=SPREAD_COLUMNS)


#: The columns :func:`seed_spread` adds to a correlation row.
SPREAD_COLUMNS = ["dataset", "proxy", "accuracy", "seeds", "common"] + [
    f"{name}_seed_{what}" for name in STATISTICS for what in ("mean", "std")]
LABELS = {"pearson": "Pearson r", "spearman": "Spearman ρ", "kendall": "Kendall τ",
          "top1": "top-1%", "top5": "top-5%"}


def render(table: Sequence[Mapping] | pd.DataFrame, published: Sequence[Mapping] = ()) -> str:
    """Markdown, one table per accuracy column: each statistic with its 95 % interval, the
    published value beside it where it was measured against that column, and (where several
    seeds were scored) the mean ± std over seeds with the number of common architectures.
    Published values of the proxies shown that were measured against an accuracy column the
    table does not show are listed apart, labelled with what they were measured against.
    ``table``: :func:`correlation_rows` (with :data:`SPREAD_COLUMNS` where seeds were
    spread) or :func:`correlation_table`."""
    if hasattr(table, "to_dict"):
        table = table.to_dict("records")
    by_accuracy: dict[str, list[Mapping]] = {}
    for row in table:
        by_accuracy.setdefault(row["accuracy"], []).append(row)
    blocks = []
    for accuracy, rows in by_accuracy.items():
        cells = {"dataset": [r["dataset"] for r in rows], "proxy": [r["proxy"] for r in rows],
                 "n": [r["n"] for r in rows], "-inf": [r["n_neg_inf"] for r in rows]}
        spread = [r for r in rows if not _missing(r.get("seeds"))]
        for name, label in LABELS.items():
            cells[label] = [f"{r[name]:.3f} [{r[name + '_low']:.3f}, {r[name + '_high']:.3f}]"
                            if np.isfinite(r[name]) else "" for r in rows]
            if any(not _missing(r[f"{name}_published"]) for r in rows):
                cells[f"{label} published"] = [format_number(r[f"{name}_published"], 3)
                                               for r in rows]
            if spread:
                cells[f"{label} over seeds"] = [
                    "" if _missing(r.get("seeds")) else
                    f"{r[name + '_seed_mean']:.3f} ± {r[name + '_seed_std']:.3f} "
                    f"({int(r['seeds'])} seeds, {int(r['common'])} archs)" for r in rows]
        blocks.append(f"### Correlation with {accuracy} (95% bootstrap percentile intervals)\n\n"
                      + markdown_table(cells))
    return "\n\n".join(blocks) + _published_notes(table, published)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _published_notes(table: Sequence[Mapping], published: Sequence[Mapping]) -> str:
    proxies = {row["proxy"] for row in table}
    accuracies = {row["accuracy"] for row in table}
    shown = [r for r in published if r["proxy"] in proxies]
    if not shown:
        return ""
    lines, seen = [], set()
    for r in shown:
        if r["accuracy"] in accuracies and (r["proxy"], r["statistic"], r["source"]) not in seen:
            seen.add((r["proxy"], r["statistic"], r["source"]))
            lines.append(f"- {r['proxy']} {LABELS.get(r['statistic'], r['statistic'])}: "
                         f"{r['source']} (against {r['accuracy']})")
    apart = [r for r in shown if r["accuracy"] not in accuracies]
    if apart:
        lines.append("- measured against accuracy columns this report does not show, so not "
                     "beside ours:")
        lines += [f"  - {r['proxy']} {LABELS.get(r['statistic'], r['statistic'])} vs "
                  f"{r['accuracy']}, {r['dataset']}: {r['value']:.3f} ({r['source']})"
                  for r in apart]
    return "\n\nPublished values:\n" + "\n".join(lines)
