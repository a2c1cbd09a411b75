"""AZ-NAS expressivity: how isotropic the features of every cell are (the sum over the stem and
the 17 cells of the entropy of the normalised eigenvalues of the channel covariance).

Lee & Ham, CVPR 2024, Eq. 4–5; the computation, shared with ``az_progressivity`` and
``az_trainability``, is described in ``tfnas/proxies/_az_nas.py``. Higher is better; −inf when
the features are all zero. AZ-NAS ranks the architectures by the sum of the log ranks of this,
progressivity, trainability and FLOPs: the shipped ensemble ``ens_az_nas``.
"""

from tfnas.proxies._az_nas import component_proxy

PROXY = component_proxy(
    "az_expressivity", "expressivity",
    convention="sum over the stem and cell outputs of the entropy of the normalised "
               "channel-covariance spectrum; higher is better; -inf for all-zero features",
)
