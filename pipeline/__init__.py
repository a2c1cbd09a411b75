"""Luigi pipeline: score NATS-Bench architectures in Parquet shards and load them into DuckDB.

    luigi --module pipeline ScoreAll --dataset cifar100            # luigi.cfg: local scheduler
    luigi --module pipeline ScoreAll --dataset cifar10 --proxies params,flops --workers 4

See :mod:`pipeline.tasks` for the tasks and their outputs. Bad input on the command line is one
line and exit status 40 before any work (:func:`pipeline.parameters.one_line_errors`); any other
error keeps its traceback.
"""

from pipeline.tasks import ImportBenchmark, ScoreAll, ScoreShard

__all__ = ["ImportBenchmark", "ScoreAll", "ScoreShard"]
