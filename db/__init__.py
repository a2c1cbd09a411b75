"""The tfnas benchmark database (DuckDB through SQLAlchemy): schema, importers, shard loading.

Typical use::

    engine = db.connect("tfnas.duckdb")
    db.create_schema(engine)
    db.import_benchmark(engine, "../shared/data/nats_tss_accuracy.csv")
    db.load_shards(engine, sorted(Path("out/shards").glob("*.parquet")))
    frame = db.read_arch_scores("tfnas.duckdb", "cifar10")
"""

from db.benchmark import import_benchmark
from db.connection import connect
from db.load import load_shards, read_arch_scores
from db.schema import create_schema

__all__ = ["connect", "create_schema", "import_benchmark", "load_shards", "read_arch_scores"]
