"""Training-free proxies: (network, batch or input shape) in, one number out; higher is better."""

from tfnas.proxies.naswot import naswot_score
from tfnas.proxies.synflow import synflow_score

__all__ = ["naswot_score", "synflow_score"]
