"""AZ-NAS progressivity: the smallest increase of expressivity from one cell's features to the
next (min over l of E_l − E_{l−1}; negative where a cell makes the features less isotropic).

Lee & Ham, CVPR 2024, Eq. 6; the computation, shared with ``az_expressivity`` and
``az_trainability``, is described in ``tfnas/proxies/_az_nas.py``. Higher is better; −inf when
the features are all zero. Part of the shipped ensemble ``ens_az_nas``.
"""

from tfnas.proxies._az_nas import component_proxy

PROXY = component_proxy(
    "az_progressivity", "progressivity",
    convention="smallest step of the per-feature spectral entropy from the stem through the "
               "17 cells; higher is better; -inf for all-zero features",
)
