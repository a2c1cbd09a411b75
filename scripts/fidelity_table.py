"""The README's fidelity table: every proxy scored on the pipeline's seeded sample(s) beside the
published values, plus rank ensembles over the sample (tfnas.ensembles' definitions, computed
with scipy over every pair and triple of the proxies, and the named ones).

    python scripts/fidelity_table.py FIDELITY_DB SHIPPED_DB

FIDELITY_DB: a pipeline database with the nine zero-cost proxies at ``--batch-size 64`` and
zico at its batch (128, or 120 for ImageNet16-120), for ``--limit`` samples; SHIPPED_DB: a
database from ``tfnas db init`` (NASWOT, Synflow, params, FLOPs, l2_norm on the same
architectures).
"""

import itertools
import sys

import numpy as np
import pandas as pd
from scipy import stats

from db.read import read_scores
from tfnas import proxies
from tfnas.config import ScoringConfig
from tfnas.ensembles import SHIPPED
from tfnas.replay.correlations import correlation_table
from tfnas.replay.markdown import markdown_table

FID, BUNDLE = sys.argv[1], sys.argv[2]
ACC = "test_acc_200ep"
DATASETS = ["cifar10", "ImageNet16-120"]


def published(name, statistic, accuracy, dataset):
    rows = proxies.get(name).published_rows() if name in proxies.names() else []
    key = (statistic, accuracy, dataset)
    return next((r["value"] for r in rows
                 if (r["statistic"], r["accuracy"], r["dataset"]) == key), np.nan)


def frames_of(db, config, names):
    try:
        got = read_scores(db, config, DATASETS, names).frames
    except Exception as err:
        print(f"<!-- {config.describe()} {names}: {err} -->")
        return {}
    return got


parts = {d: [] for d in DATASETS}
for d, f in frames_of(FID, ScoringConfig(batch_size=64), None).items():  # the nine, batch 64
    parts[d].append(f.dropna(axis=1, how="all"))
for d, batch in (("cifar10", 128), ("ImageNet16-120", 120)):
    got = frames_of(FID, ScoringConfig(batch_size=batch), None)
    if d in got:
        parts[d].append(got[d].dropna(axis=1, how="all"))
bundle = read_scores(BUNDLE, ScoringConfig(), DATASETS, None).frames
rows, ens_rows, merged_by = [], [], {}
for d in DATASETS:
    if not parts[d]:
        continue
    merged = parts[d][0]
    for extra in parts[d][1:]:
        cols = ["arch_code"] + [c for c in extra.columns if c not in merged.columns]
        merged = merged.merge(extra[cols], on="arch_code", how="outer")
    codes = merged["arch_code"]
    base = bundle[d][bundle[d]["arch_code"].isin(codes)]
    cols = ["arch_code"] + [
        c for c in base.columns if c not in merged.columns and not c.startswith("ens_")
    ]
    merged = merged.merge(base[cols], on="arch_code", how="left")
    merged_by[d] = merged
    names = sorted(
        c[:-8] for c in merged.columns if c.endswith("_seconds") and not c.startswith("ens_")
    )
    named = {f"{e.name} ({e.method}, shipped)": (e.method, list(e.members)) for e in SHIPPED}
    named["jacov+naswot+synflow (log_rank_sum)"] = ("log_rank_sum", ["jacov", "naswot", "synflow"])
    for label, (method, members) in named.items():
        if not set(members) <= set(merged.columns):
            continue
        sub = merged[members].dropna()
        r = np.column_stack([stats.rankdata(sub[m]) / len(sub) for m in members])
        merged.loc[sub.index, label] = np.log(r).sum(1) if method == "log_rank_sum" else r.mean(1)
        merged[label + "_seconds"] = np.nan
    t = correlation_table(
        {d: merged}, names + [k for k in named if k in merged], [ACC], resamples=200
    )
    for r in t.itertuples():
        rows.append(
            {
                "dataset": d,
                "proxy": r.proxy,
                "n": r.n,
                "-inf": r.n_neg_inf,
                "rho [95% CI]": f"{r.spearman:.3f} [{r.spearman_low:.3f}, {r.spearman_high:.3f}]",
                "tau": f"{r.kendall:.3f}",
                "top-1%": f"{r.top1:.2f}",
                "top-5%": f"{r.top5:.2f}",
                "published rho (test_acc_200ep)": published(r.proxy, "spearman", ACC, d),
                "Suite-Zero rho (valid_acc_200ep)": published(
                    r.proxy, "spearman", "valid_acc_200ep", d
                ),
            }
        )
    # rank ensembles over the architectures every member scored (log_rank_sum, as tfnas.ensembles)
    single = {r.proxy: r.spearman for r in t.itertuples()}
    pool = [p for p in names if merged[p].notna().sum() >= 900]
    for k in (2, 3):
        for members in itertools.combinations(pool, k):
            sub = merged[list(members) + [ACC]].dropna()
            n = len(sub)
            score = sum(np.log(stats.rankdata(sub[m]) / n) for m in members)
            rho = stats.spearmanr(score, sub[ACC]).statistic
            best = max(members, key=lambda m: single[m])
            ens_rows.append(
                {
                    "dataset": d,
                    "members": "+".join(members),
                    "n": n,
                    "rho": rho,
                    "best member": best,
                    "its rho": single[best],
                    "gain": rho - single[best],
                }
            )
print(markdown_table(pd.DataFrame(rows).sort_values(["dataset", "proxy"]).astype(str)
                     .to_dict("list")))
# How much of a score is the architecture: the same architectures scored on both datasets
# (other images, other classes, the same seeded initialisation) rank alike when the score is a
# property of the architecture, and unlike when it is mostly the draw.
if len(merged_by) == 2:
    c10, in16 = (merged_by[d].set_index("arch_code") for d in DATASETS)
    agree = []
    for name in sorted(set(c10.columns) & set(in16.columns)):
        if name + "_seconds" not in c10.columns or name.startswith("ens_"):
            continue
        both = pd.concat([c10[name], in16[name]], axis=1, join="inner").dropna()
        if len(both) > 1 and both.iloc[:, 0].nunique() > 1 and both.iloc[:, 1].nunique() > 1:
            agree.append({"proxy": name, "n": len(both), "rho(CIFAR-10 score, ImageNet16-120 "
                          "score)": f"{stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1])[0]:.3f}"})
    print("\nScores of the same architectures on the two datasets:")
    print(markdown_table(pd.DataFrame(agree).astype(str).to_dict("list")))
ens = pd.DataFrame(ens_rows)
if len(ens):
    for d, g in ens.groupby("dataset"):
        print(f"\n{d}: {len(g)} log-rank-sum ensembles of 2-3 proxies; top 8 by rho:")
        top = g.sort_values("rho", ascending=False).head(8)
        print(markdown_table(top.round(3).astype(str).to_dict("list")))
