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

**The shipped files prove themselves before anything is written.** ``tfnas/data/SHA256SUMS``
(``sha256sum`` format) holds the SHA-256 of the bundle and of the embedded benchmark;
:func:`export_bundle` records the bundle's there (in the ``SHA256SUMS`` beside whatever file
it writes). Before :func:`init_database` opens the database it checks (:func:`verify_bundle`,
:func:`verify_embedded`, about 0.1 s) both checksums, the bundle's schema
(:data:`db.shards.SHARD_SCHEMA`) and metadata, and every row: no NULL, the score finite or
−inf (never NaN or +inf), the seconds finite and ≥ 0, the arch_code in the space, the dataset
one of the three, the proxy registered and described in the metadata, no key twice. Any
failure is one :class:`DatabaseError` line naming the file, the problem and the fix, and the
database is not created or touched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pkgutil
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from db.connection import DatabaseError, open_read_only, writing
from db.schema import DATASETS, ensure_schema, register_proxies
from db.shards import SHARD_SCHEMA
from db.sql import quote
from tfnas.config import DEFAULT, NO_DATA, ScoringConfig
from tfnas.messages import one_line, shorten
from tfnas.space import NUM_ARCHS, seeded_order

#: The zoo's configuration: every proxy on a seeded sample (the fidelity tables' setting,
#: Abdelfattah et al.'s batch of 64; coverage grows by prefix of the seeded order).
SAMPLE = ScoringConfig(DEFAULT.seed, 64, DEFAULT.augment)
MIN_SAMPLE = 1000
BUNDLE = resources.files("tfnas") / "data" / "scores.parquet"
PROXIES_KEY, PUBLISHED_KEY, IMAGES_KEY = b"tfnas.proxies", b"tfnas.published", b"tfnas.images"
_KEY = ["arch_code", "dataset", "proxy", "seed", "batch_size", "data_fingerprint", "augment"]
#: The checksum file beside each shipped data file (``sha256sum`` format: ``HEX  NAME`` lines).
CHECKSUMS_NAME = "SHA256SUMS"
CHECKSUMS = resources.files("tfnas") / "data" / CHECKSUMS_NAME
_REINSTALL = "reinstall tfnas"
_REBUILD = "reinstall tfnas, or rebuild it with `python scripts/build_bundle.py`"


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checksums(path: str | os.PathLike) -> dict[str, str]:
    """``{file name: sha256}`` of a ``SHA256SUMS`` file; ``ValueError`` on a bad line."""
    sums = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            digest, _, name = line.strip().partition(" ")
            name = name.strip().removeprefix("*")
            if len(digest) != 64 or not name or digest.strip("0123456789abcdef"):
                raise ValueError(f"line {number} is not `SHA256  NAME`")
            sums[name] = digest
    return sums


def record_checksum(path: str | os.PathLike) -> Path:
    """Write ``path``'s SHA-256 into the ``SHA256SUMS`` beside it (other lines kept), atomically;
    return that file."""
    path = Path(path)
    sums_path = path.with_name(CHECKSUMS_NAME)
    sums = read_checksums(sums_path) if sums_path.is_file() else {}
    sums[path.name] = file_sha256(path)
    partial = sums_path.with_name(sums_path.name + ".partial")
    partial.write_text("".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items())),
                       encoding="utf-8")
    os.replace(partial, sums_path)
    return sums_path


def verify_checksum(path: str | os.PathLike, what: str, fix: str) -> None:
    """One-line :class:`DatabaseError` unless ``path`` (``what``: e.g. "the score bundle")
    exists and matches its line in the ``SHA256SUMS`` beside it; ``fix`` ends the message."""
    path = Path(path)
    sums_path = path.with_name(CHECKSUMS_NAME)
    if not path.is_file():
        raise DatabaseError(f"{what} {path} does not exist; nothing was written; {fix}")
    if not sums_path.is_file():
        raise DatabaseError(f"{what} {path} has no checksum file {sums_path} beside it; nothing "
                            f"was written; {fix}")
    try:
        expected = read_checksums(sums_path).get(path.name)
    except (OSError, ValueError) as err:
        raise DatabaseError(f"{what} {path}: its checksum file {sums_path} cannot be read "
                            f"({one_line(err)}); nothing was written; {fix}") from None
    if expected is None:
        raise DatabaseError(f"{what} {path} has no checksum in {sums_path}; nothing was "
                            f"written; {fix}")
    if file_sha256(path) != expected:
        raise DatabaseError(f"{what} {path} does not match its SHA-256 in {sums_path}: it was "
                            "changed or damaged since tfnas was installed; nothing was written; "
                            f"{fix}")


def verify_embedded() -> None:
    """One-line :class:`DatabaseError` unless the embedded NATS-Bench table
    (:data:`db.benchmark.EMBEDDED`) matches its shipped checksum."""
    from db.benchmark import EMBEDDED

    verify_checksum(Path(str(EMBEDDED)), "the embedded NATS-Bench table", _REINSTALL)


def registered_proxy_names() -> set[str]:
    """The registered proxy names without importing a proxy module (so without torch): the
    public modules of ``tfnas/proxies``, each named after its proxy (the registry enforces
    it; :func:`tfnas.proxies.names` would import every module, and torch with them)."""
    spec = importlib.util.find_spec("tfnas.proxies")
    return {module.name for module in pkgutil.iter_modules(spec.submodule_search_locations)
            if not module.name.startswith("_")}


def verify_bundle(bundle: str | os.PathLike | None = None) -> dict[str, object]:
    """Verify the bundle file before anything reads it into a database; return its metadata
    (:func:`bundle_metadata`).

    Checked: its SHA-256 against the ``SHA256SUMS`` beside it, that it reads as Parquet with
    the columns of :data:`SHARD_SCHEMA` and the metadata of a bundle, and every row (one DuckDB
    pass): no NULL, score finite or −inf, seconds finite and ≥ 0, arch_code in the space,
    dataset known, proxy registered and described in the metadata, each key once. Raises a
    one-line :class:`DatabaseError` naming the file, the problem and the fix.
    """
    bundle = Path(str(bundle or BUNDLE))

    def bad(why: str) -> DatabaseError:
        return DatabaseError(f"the score bundle {bundle} {why}; nothing was written; {_REBUILD}")

    verify_checksum(bundle, "the score bundle", _REBUILD)
    try:
        schema = pq.read_schema(str(bundle))
    except (OSError, ValueError, pa.ArrowException) as err:
        raise bad(f"is not a readable Parquet file ({one_line(err)})") from None
    if schema.remove_metadata() != SHARD_SCHEMA:
        found = {field.name: field.type for field in schema}
        wrong = [f"{field.name} is {found[field.name]}, not {field.type}" if field.name in found
                 else f"{field.name} is missing" for field in SHARD_SCHEMA
                 if found.get(field.name) != field.type]
        wrong += [f"{shorten(name)} is extra" for name in found if name not in SHARD_SCHEMA.names]
        raise bad("does not have the shard schema ("
                  + ("; ".join(wrong) or f"columns not in the order "
                     f"{', '.join(SHARD_SCHEMA.names)}") + ")")
    try:
        meta = bundle_metadata(bundle)
        described = {row["proxy"] for row in meta["proxies"]}
    except (KeyError, TypeError, ValueError) as err:
        raise bad(f"carries no readable proxies/published/images metadata ({one_line(err)})"
                  ) from None
    registered = registered_proxy_names()
    checks = {
        "NULL in a column": " OR ".join(f"{name} IS NULL" for name in SHARD_SCHEMA.names),
        "a NaN score": "isnan(score)",
        "a +inf score": "score = 'inf'::DOUBLE",
        "seconds that are not finite and >= 0": "NOT (isfinite(seconds) AND seconds >= 0)",
        f"an arch_code outside 0..{NUM_ARCHS - 1}": f"arch_code NOT BETWEEN 0 AND {NUM_ARCHS - 1}",
        f"a dataset other than {', '.join(DATASETS)}":
            f"dataset NOT IN ({', '.join(quote(d) for d in DATASETS)})",
        "a proxy this tfnas does not register":
            f"proxy NOT IN ({', '.join(quote(p) for p in sorted(registered)) or 'NULL'})",
        "a proxy its metadata does not describe":
            f"proxy NOT IN ({', '.join(quote(p) for p in sorted(described)) or 'NULL'})",
    }
    key = ", ".join(_KEY)
    counts = ", ".join(f"count(*) FILTER ({condition})" for condition in checks.values())
    conn = duckdb.connect()
    try:
        *found, collisions = conn.execute(  # equal key hashes: a duplicate key, or (rarely) not
            f"SELECT {counts}, count(*) - count(DISTINCT hash({key})) FROM read_parquet(?)",
            [str(bundle)]).fetchone()
        for (what, condition), rows in zip(checks.items(), found, strict=True):
            if rows:
                example = conn.execute(
                    f"SELECT arch_code, dataset, proxy, score, seconds FROM read_parquet(?) "
                    f"WHERE {condition} LIMIT 1", [str(bundle)]).fetchone()
                shown = ", ".join(f"{name} {shorten(value)}" for name, value in zip(
                    ("arch_code", "dataset", "proxy", "score", "seconds"), example, strict=True))
                raise bad(f"has {rows:,} row{'s' * (rows > 1)} with {what} (e.g. {shown})")
        twice = example = None
        if collisions:
            twice, example = conn.execute(
                f"SELECT sum(n - 1)::BIGINT, any_value(struct_pack({key})) FROM (SELECT {key}, "
                "count(*) AS n FROM read_parquet(?) GROUP BY ALL HAVING n > 1)", [str(bundle)]
            ).fetchone()
        if twice:
            shown = ", ".join(f"{name} {shorten(value)}" for name, value in example.items())
            raise bad(f"has {twice:,} duplicate key row{'s' * (twice > 1)} (e.g. {shown})")
    except duckdb.Error as err:
        raise bad(f"is not a readable Parquet file ({one_line(err)})") from None
    finally:
        conn.close()
    return meta


def bundle_metadata(path: str | os.PathLike | None = None) -> dict[str, object]:
    """The bundle's ``proxies`` rows, ``published`` rows and ``images`` per dataset."""
    meta = pq.read_schema(str(path or BUNDLE)).metadata
    return {"proxies": json.loads(meta[PROXIES_KEY]), "published": json.loads(meta[PUBLISHED_KEY]),
            "images": json.loads(meta[IMAGES_KEY])}


def init_database(database: str | os.PathLike,
                  bundle: str | os.PathLike | None = None) -> str:
    """Build (or complete) ``database`` from the shipped scores; return a summary.

    ``bundle`` (default :data:`BUNDLE`) and the embedded benchmark are verified first
    (:func:`verify_bundle`, :func:`verify_embedded`; the bundle's checksum is read from the
    ``SHA256SUMS`` beside it): a bad one raises :class:`DatabaseError` before the database is
    opened.
    """
    from db.benchmark import EMBEDDED, import_benchmark
    from tfnas.costs import cost_rows

    start = time.perf_counter()
    bundle = Path(str(bundle or BUNDLE))
    if not bundle.is_file():
        raise DatabaseError(f"tfnas has no score bundle at {bundle}; reinstall tfnas, or build "
                            "one with `python scripts/build_bundle.py`")
    meta = verify_bundle(bundle)  # before anything is written: a bad file changes nothing
    verify_embedded()
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


def _sample_groups(conn, data_free: list[str]) -> list[tuple]:
    """(dataset, proxy, ``none``, batch, n) of every data-free proxy scored with :data:`SAMPLE`
    on the first n ≥ :data:`MIN_SAMPLE` architectures of the seeded order (the largest n)."""
    order = seeded_order()
    position = {code: i for i, code in enumerate(order)}
    found = conn.execute(
        "SELECT dataset, proxy, list(DISTINCT arch_code) FROM proxy_scores WHERE seed = ? AND "
        "batch_size = ? AND augment = ? AND data_fingerprint = ? AND list_contains(?, proxy) "
        "GROUP BY ALL ORDER BY ALL",
        [SAMPLE.seed, SAMPLE.batch_size, SAMPLE.augment, NO_DATA, data_free]).fetchall()
    kept = []
    for dataset, proxy, codes in found:
        held = sorted(position[c] for c in codes)
        prefix = next((i for i, p in enumerate(held) if p != i), len(held))
        if prefix >= MIN_SAMPLE:
            kept.append((dataset, proxy, NO_DATA, SAMPLE.batch_size, prefix))
    return kept


def export_bundle(database: str | os.PathLike, out: str | os.PathLike,
                  images: Mapping[str, Mapping[str, str]], proxies: list[dict],
                  published: list[dict]) -> pd.DataFrame:
    """Write the bundle from a pipeline ``database`` and its SHA-256 into the ``SHA256SUMS``
    beside ``out``; return what it holds per (dataset, proxy).

    Kept: every (dataset, proxy) of the default configuration scored over all 15,625
    architectures, where a proxy that reads images (per ``proxies``' ``reads``) read exactly
    the images of ``images[dataset]`` (``{"fingerprint", "file", "description"}``); data-free
    proxies from any one run (the data-free run first, else the latest), stored under ``none``
    as the pipeline stores them (a run with images once keyed them by those images). And the
    zoo's seeded sample (:data:`SAMPLE`): every data-free (dataset, proxy) scored with that
    configuration on a prefix of :func:`tfnas.space.seeded_order` of at least
    :data:`MIN_SAMPLE` architectures (the largest such prefix it holds).
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
        keep = [(*k, DEFAULT.batch_size, NUM_ARCHS) for k in keep]
        keep += _sample_groups(conn, [p for p, reads_images in reads.items() if not reads_images])
        chosen = pd.DataFrame(keep, columns=["dataset", "proxy", "data_fingerprint", "batch_size",
                                             "archs"])
        conn.register("_chosen", chosen)
        order = seeded_order()
        conn.register("_order", pd.DataFrame({"arch_code": order,
                                              "position": range(len(order))}))
        data_free = ", ".join(quote(p) for p, reads_images in reads.items()
                              if not reads_images) or "NULL"
        columns = ", ".join(
            f"CASE WHEN proxy IN ({data_free}) THEN {quote(NO_DATA)} ELSE data_fingerprint END "
            "AS data_fingerprint" if name == "data_fingerprint" else name
            for name in SHARD_SCHEMA.names)
        rows = conn.sql(
            f"SELECT {columns} FROM proxy_scores JOIN _chosen "
            "USING (dataset, proxy, data_fingerprint, batch_size) JOIN _order USING (arch_code) "
            "WHERE seed = $seed AND augment = $augment AND position < archs "
            "ORDER BY batch_size DESC, dataset, proxy, arch_code",
            params={"seed": DEFAULT.seed, "augment": DEFAULT.augment}).to_arrow_table()
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
    record_checksum(out)
    return chosen
