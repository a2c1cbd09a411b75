"""tfnas: training-free NAS proxies on NATS-Bench TSS, precomputed into DuckDB."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tfnas")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
