"""Training-free proxies: each maps (network, batch or input shape) to one number, higher is better."""

from tfnas.proxies.naswot import naswot_score
from tfnas.proxies.synflow import synflow_score

__all__ = ["naswot_score", "synflow_score"]
