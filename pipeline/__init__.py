"""Luigi pipeline: score NATS-Bench architectures in Parquet shards and load them into DuckDB.

    luigi --module pipeline ScoreAll --dataset cifar100            # luigi.cfg: local scheduler
    luigi --module pipeline ScoreAll --dataset cifar10 --proxies params,flops --workers 4

See :mod:`pipeline.tasks` for the tasks and their outputs.
"""

import logging

from pipeline.tasks import ImportBenchmark, ScoreAll, ScoreShard

__all__ = ["ImportBenchmark", "ScoreAll", "ScoreShard"]


class _OneLineInputErrors(logging.Filter):
    """Bad command-line input (raised while Luigi builds the task) → one line, no traceback.

    Luigi logs any exception from parsing parameters or constructing the root task as
    "Uncaught exception in luigi" with a traceback; for our input errors (ValueError,
    OSError such as FileNotFoundError) the message alone says what is wrong and the fix.
    Errors inside a running task keep their traceback (Luigi logs those elsewhere).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.msg == "Uncaught exception in luigi" and isinstance(error, ValueError | OSError):
            record.msg, record.args = f"{type(error).__name__}: {error}", ()
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("luigi-interface").addFilter(_OneLineInputErrors())
