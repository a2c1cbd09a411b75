"""AZ-NAS trainability: how close every cell's Jacobian is to norm-preserving (the mean over
cells of −σ − 1/σ + 2, σ the largest singular value of the channel cross-covariance of a
Rademacher output gradient and its back-propagated input gradient).

Lee & Ham, CVPR 2024, Eq. 7–9; the computation, shared with ``az_expressivity`` and
``az_progressivity``, is described in ``tfnas/proxies/_az_nas.py``. Higher is better (0 at
best); −inf when a cell is exactly the identity map (the reference's rule), so every
architecture whose output node is the input through ``skip_connect`` alone scores −inf. Part
of the shipped ensemble ``ens_az_nas``.
"""

from tfnas.proxies._az_nas import component_proxy

PROXY = component_proxy(
    "az_trainability", "trainability",
    convention="mean over the 17 cells of -s - 1/(s + 1e-6) + 2, s the top singular value of "
               "the Rademacher gradient's input-output channel cross-covariance; higher is "
               "better; -inf when a cell is the identity",
)
