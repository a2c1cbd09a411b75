"""The scores shipped with tfnas (:data:`BUNDLE`), and a database built from them.

The bundle is one Parquet file of ``proxy_scores`` rows: every (dataset, proxy) that was scored
over all 15,625 architectures on real images (or data-free) with the default configuration
(seed 0, batch 128, no augmentation), each row with its configuration, device and tfnas
version. Its key-value metadata holds the ``proxies`` and ``published`` rows of those proxies
and, per dataset, which image file the image-reading proxies read (name, fingerprint,
description), so the scores can be recomputed and checked (``tests/test_bundle.py``).

``tfnas db init`` (:func:`init_database`) writes architectures, the embedded NATS-Bench
accuracies (unless a benchmark was imported already), the project's costs and the bundle into
a database in seconds, without torch; running it again adds nothing.
:func:`export_bundle` rebuilds the bundle from a pipeline database
(``python scripts/build_bundle.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from db.connection import DatabaseError, open_read_only, writing
from db.schema import ensure_schema, register_proxies
from db.shards import SHARD_SCHEMA
from db.sql import quote
from tfnas.config import DEFAULT, NO_DATA
from tfnas.space import NUM_ARCHS

BUNDLE = resources.files("tfnas") / "data" / "scores.parquet"
PROXIES_KEY, PUBLISHED_KEY, IMAGES_KEY = b"tfnas.proxies", b"tfnas.published", b"tfnas.images"
_KEY = ["arch_code", "dataset", "proxy", "seed", "batch_size", "data_fingerprint", "augment"]


def bundle_metadata(path: str | os.PathLike | None = None) -> dict[str, object]:
    """The bundle's ``proxies`` rows, ``published`` rows and ``images`` per dataset."""
    meta = pq.read_schema(str(path or BUNDLE)).metadata
    return {"proxies": json.loads(meta[PROXIES_KEY]), "published": json.loads(meta[PUBLISHED_KEY]),
            "images": json.loads(meta[IMAGES_KEY])}


def init_database(database: str | os.PathLike,
                  bundle: str | os.PathLike | None = None) -> str:
    """Build (or complete) ``database`` from the shipped scores; return a summary."""
    from db.benchmark import EMBEDDED, import_benchmark
    from tfnas.costs import cost_rows

    start = time.perf_counter()
    bundle = Path(str(bundle or BUNDLE))
    if not bundle.is_file():
        raise DatabaseError(f"tfnas has no score bundle at {bundle}; reinstall tfnas, or build "
                            "one with `python scripts/build_bundle.py`")
    meta = bundle_metadata(bundle)
    database = Path(database)
    with writing(database) as engine:
        with engine.begin() as conn:
            ensure_schema(conn)
            imported = conn.exec_driver_sql("SELECT source FROM benchmarks").all()
        if not imported:
            costs = pd.DataFrame(cost_rows(), columns=["arch_code", "dataset", "source",
                                                       "params", "flops_m"])
            import_benchmark(engine, Path(str(EMBEDDED)), costs)
        with engine.begin() as conn:
            register_proxies(conn, meta["proxies"], meta["published"])
            before = conn.exec_driver_sql("SELECT count(*) FROM proxy_scores").scalar_one()
            values = [n for n in SHARD_SCHEMA.names if n not in _KEY]
            conn.exec_driver_sql(
                "INSERT INTO proxy_scores BY NAME SELECT * FROM read_parquet(?) "
                f"ON CONFLICT DO UPDATE SET {', '.join(f'{v} = excluded.{v}' for v in values)} "
                "WHERE excluded.created_at > proxy_scores.created_at", (str(bundle),))
            added = conn.exec_driver_sql("SELECT count(*) FROM proxy_scores").scalar_one() - before
            held = conn.exec_driver_sql(
                "SELECT dataset, string_agg(proxy || ' ' || n, ', ' ORDER BY proxy) FROM ("
                "SELECT dataset, proxy, count(DISTINCT arch_code) AS n FROM proxy_scores "
                "GROUP BY ALL) GROUP BY dataset ORDER BY dataset").all()
    lines = [f"{database}: {added:,} new score rows in {time.perf_counter() - start:.1f} s "
             f"(benchmark: {imported[0][0] if imported else 'the embedded NATS-Bench table'})"]
    lines += [f"  {dataset}: {proxies}" for dataset, proxies in held]
    return "\n".join(lines)


def export_bundle(database: str | os.PathLike, out: str | os.PathLike,
                  images: Mapping[str, Mapping[str, str]], proxies: list[dict],
                  published: list[dict]) -> pd.DataFrame:
    """Write the bundle from a pipeline ``database``; return what it holds per (dataset, proxy).

    Kept: every (dataset, proxy) of the default configuration scored over all 15,625
    architectures, where a proxy that reads images (per ``proxies``' ``reads``) read exactly
    the images of ``images[dataset]`` (``{"fingerprint", "file", "description"}``); data-free
    proxies from any one run (the data-free run first, else the latest), stored under ``none``
    as the pipeline stores them (a run with images once keyed them by those images).
    """
    reads = {row["proxy"]: "images" in row["reads"] for row in proxies}
    conn = open_read_only(database)
    try:
        groups = conn.execute(
            "SELECT dataset, proxy, data_fingerprint, count(DISTINCT arch_code) AS archs, "
            "max(created_at) AS latest FROM proxy_scores WHERE seed = ? AND batch_size = ? "
            "AND augment = ? GROUP BY ALL", [DEFAULT.seed, DEFAULT.batch_size, DEFAULT.augment]
        ).df()
        complete = groups[groups["archs"] == NUM_ARCHS].copy()
        keep = []
        for (dataset, proxy), options in complete.groupby(["dataset", "proxy"]):
            if proxy not in reads:
                continue
            if reads[proxy]:
                wanted = images.get(dataset, {}).get("fingerprint")
                options = options[options["data_fingerprint"] == wanted]
            else:
                options = options.assign(first=options["data_fingerprint"] != NO_DATA)
                options = options.sort_values(["first", "latest"], ascending=[True, False])
            if len(options):
                keep.append((dataset, proxy, options.iloc[0]["data_fingerprint"]))
        chosen = pd.DataFrame(keep, columns=["dataset", "proxy", "data_fingerprint"])
        conn.register("_chosen", chosen)
        data_free = ", ".join(quote(p) for p, reads_images in reads.items()
                              if not reads_images) or "NULL"
        columns = ", ".join(
            f"CASE WHEN proxy IN ({data_free}) THEN {quote(NO_DATA)} ELSE data_fingerprint END "
            "AS data_fingerprint" if name == "data_fingerprint" else name
            for name in SHARD_SCHEMA.names)
        rows = conn.sql(
            f"SELECT {columns} FROM proxy_scores JOIN _chosen "
            "USING (dataset, proxy, data_fingerprint) WHERE seed = $seed AND batch_size = $batch "
            "AND augment = $augment ORDER BY dataset, proxy, arch_code",
            params={"seed": DEFAULT.seed, "batch": DEFAULT.batch_size,
                    "augment": DEFAULT.augment}).to_arrow_table()
    finally:
        conn.close()
    used = set(chosen["proxy"])
    table = rows.cast(SHARD_SCHEMA)
    table = table.replace_schema_metadata({
        PROXIES_KEY: json.dumps([r for r in proxies if r["proxy"] in used]).encode(),
        PUBLISHED_KEY: json.dumps([r for r in published if r["proxy"] in used]).encode(),
        IMAGES_KEY: json.dumps({d: dict(v) for d, v in images.items()
                                if d in set(chosen["dataset"])}).encode()})
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    pq.write_table(table, partial, compression="zstd", compression_level=19)
    os.replace(partial, out)
    return chosen
