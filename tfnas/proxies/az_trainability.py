"""AZ-NAS trainability: how close every cell's Jacobian is to norm-preserving (the mean over
cells of −σ − 1/σ + 2, σ the largest singular value of the channel cross-covariance of a
Rademacher output gradient and its back-propagated input gradient).

Lee & Ham, CVPR 2024, Eq. 7–9; the computation, shared with ``az_expressivity`` and
``az_progressivity``, is described in ``tfnas/proxies/_az_nas.py``. Higher is better (0 at
best); −inf when a cell is exactly the identity map (the reference's rule), so every
architecture whose output node is the input through ``skip_connect`` alone scores −inf. Part
of the shipped ensemble ``ens_az_nas``.
"""

from __future__ import annotations

from tfnas.proxies._az_nas import CITATION, SETTINGS, component
from tfnas.proxies._contract import Proxy, ScoringRun
from tfnas.space import Arch


def _score(arch: Arch, run: ScoringRun) -> float:
    return component(arch, run, "trainability")


PROXY = Proxy(
    name="az_trainability",
    citation=CITATION,
    reads=frozenset(),
    convention="mean over the 17 cells of -s - 1/(s + 1e-6) + 2, s the top singular value of "
               "the Rademacher gradient's input-output channel cross-covariance; higher is "
               "better; -inf when a cell is the identity",
    settings=SETTINGS,
    score=_score,
)
