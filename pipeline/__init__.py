"""Luigi pipeline: score NATS-Bench architectures in Parquet shards and load them into DuckDB.

    luigi --module pipeline ScoreAll --dataset cifar100            # in-process scheduler
    luigi --module pipeline ScoreAll --dataset cifar10 --proxies params,flops --workers 4

See :mod:`pipeline.tasks` for the tasks and their outputs. Bad input on the command line is one
line and exit status 40 before any work (:func:`pipeline.parameters.one_line_errors`); any other
error keeps its traceback.

**Works from any folder.** Importing this package (what ``luigi --module pipeline`` does, before
Luigi reads its ``[core]`` and ``[retcode]`` settings) adds the settings shipped with tfnas,
``pipeline/luigi.cfg`` (:data:`CONFIG`: the in-process scheduler, the exit codes), as Luigi's
*lowest-priority* config file (:func:`add_shipped_config`). Luigi's own files still override
it, in its order: ``/etc/luigi/luigi.cfg``, ``luigi.cfg`` in the working directory (the
repository root has a copy), then ``LUIGI_CONFIG_PATH`` (a cluster config with
``local_scheduler = false``); command-line flags override them all.
"""

from pathlib import Path

from pipeline.tasks import ImportBenchmark, ScoreAll, ScoreShard

#: tfnas's Luigi settings, shipped with the package.
CONFIG = Path(__file__).with_name("luigi.cfg")


def add_shipped_config() -> None:
    """Put :data:`CONFIG` first in Luigi's list of ``.cfg`` files (files read later win) and
    re-read them, once. Luigi has no public call for a lowest-priority file
    (``luigi.configuration.add_config_path`` appends, i.e. overrides every other file)."""
    from luigi.configuration import LuigiConfigParser

    paths = LuigiConfigParser._config_paths
    if str(CONFIG) in paths:
        return
    paths.insert(0, str(CONFIG))
    if LuigiConfigParser._instance is not None:  # already read: read all again, in order
        LuigiConfigParser.reload()


add_shipped_config()

__all__ = ["CONFIG", "ImportBenchmark", "ScoreAll", "ScoreShard", "add_shipped_config"]
