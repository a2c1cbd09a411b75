"""Rank ensembles: stored proxies combined into one score through their ranks.

Over the n architectures of a dataset that EVERY member scored (one scoring configuration),
each member m gives each architecture its mid-rank r_m in 1..n (ascending: the best score gets
n; ties share the mean of their ranks, as ``scipy.stats.rankdata``; −inf ties at the bottom).
Methods (higher is better for both):

- ``log_rank_sum``: Σ_m ln(r_m / n) — the non-linear rank aggregation of AZ-NAS (Lee & Ham,
  CVPR 2024, Eq. 12; the authors' code sums ``np.log(stats.rankdata(score) / n)``). An
  architecture must rank well under every member: one bad rank costs more than a good one earns.
- ``mean_rank``: (1/k) Σ_m r_m / n — the plain rank sum (TE-NAS, Chen et al., ICLR 2021,
  combines its two indicators this way), normalised to (0, 1].

Ensembles are queries, not stored scores: the database's ``ensembles`` table holds each one's
definition (name, method, members) and :func:`db.sql.ensemble_rows_sql` computes its scores
from the members' stored rows whenever they are read — in ``default_scores``/``arch_scores``
and in every report (``tfnas tables --proxies``, ``tfnas correlations``, ``tfnas plot``),
exactly where a proxy would be. ``seconds`` of an ensemble is the sum of its members'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from tfnas.errors import UserError
from tfnas.messages import shorten

METHODS: dict[str, str] = {
    "log_rank_sum": "sum over members of ln(mid-rank / n) (AZ-NAS, Lee & Ham, CVPR 2024)",
    "mean_rank": "mean over members of mid-rank / n (rank sum as in TE-NAS, Chen et al., "
                 "ICLR 2021)",
}
#: Every ensemble's name starts with this, so a report can tell an ensemble from a proxy by name.
PREFIX = "ens_"
NAME = re.compile(PREFIX + r"[a-z0-9_]{1,59}")


class Ensemble(NamedTuple):
    """A rank ensemble: ``name``, ``method`` (a key of :data:`METHODS`), ``members`` (proxy
    names, at least two) and a ``description``."""

    name: str
    method: str
    members: tuple[str, ...]
    description: str


#: Shipped with every database (``tfnas db ensemble`` adds the user's own).
SHIPPED: tuple[Ensemble, ...] = (
    Ensemble("ens_naswot_synflow", "log_rank_sum", ("naswot", "synflow"),
             "the study's two proxies, AZ-NAS's log-rank aggregation"),
    Ensemble("ens_naswot_synflow_flops", "log_rank_sum", ("flops", "naswot", "synflow"),
             "the study's two proxies and FLOPs (AZ-NAS aggregates its components with FLOPs "
             "the same way)"),
    Ensemble("ens_jacov_snip_synflow", "mean_rank", ("jacov", "snip", "synflow"),
             "the three proxies of Abdelfattah et al.'s vote (ICLR 2021), by mean rank"),
    Ensemble("ens_jacov_synflow", "log_rank_sum", ("jacov", "synflow"),
             "the best pair of 455 two- and three-proxy ensembles on the seeded "
             "1,000-architecture ImageNet16-120 sample (selected there: rho 0.894, the best "
             "triple 0.895; 0.925 on the CIFAR-10 sample of 300)"),
    Ensemble("ens_az_nas", "log_rank_sum",
             ("az_expressivity", "az_progressivity", "az_trainability", "flops"),
             "AZ-NAS (Lee & Ham, CVPR 2024): its four components by its log-rank sum, FLOPs as "
             "the complexity component"),
    Ensemble("ens_meco_naswot", "log_rank_sum", ("meco", "naswot"),
             "the two strongest single proxies shipped over the whole space (chosen by their own "
             "rho, not by an ensemble sweep)"),
    Ensemble("ens_tenas", "mean_rank", ("tenas_lr", "tenas_ntk"),
             "TE-NAS (Chen et al., ICLR 2021): NTK condition number and linear regions by their "
             "rank sum"),
)


def check_ensemble(name: str, method: str, members: Iterable[str],
                   proxy_names: Iterable[str], description: str = "") -> Ensemble:
    """A validated :class:`Ensemble`; one-line ``ValueError`` naming the flag at fault.
    ``proxy_names``: the proxies an ensemble may combine (the registry). The names the store
    itself takes (the ``_seconds`` suffix of ``arch_scores``' columns, its tables, views and
    columns) are :func:`db.sql.check_ensemble_name`'s; ``tfnas db ensemble`` calls both."""
    known = tuple(proxy_names)
    if not NAME.fullmatch(name):
        raise UserError(f"ensemble name {shorten(name)} must be '{PREFIX}' and then 1-59 "
                         "characters of a-z, 0-9 and _")
    if name in known:
        raise UserError(f"ensemble name {name!r} is a proxy's name; choose another")
    if method not in METHODS:
        raise UserError(f"--method: unknown method {shorten(method)}; choose from "
                         f"{', '.join(METHODS)}")
    chosen = sorted(set(members))
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise UserError(f"--members: unknown proxy {shorten(unknown[0])}; choose from "
                         f"{', '.join(known)}")
    if len(chosen) < 2:
        raise UserError(f"--members: an ensemble combines at least two different proxies, "
                         f"got {', '.join(chosen) or 'none'}")
    return Ensemble(name, method, tuple(chosen), description or METHODS[method])
