"""Rebuild the scores shipped with tfnas (``tfnas/data/scores.parquet``) from pipeline databases.

Kept: every (dataset, proxy) scored over all 15,625 architectures with the default
configuration (seed 0, batch 128, no augmentation); a proxy that reads images only where it read
exactly the images named here (their batch fingerprint is recomputed from the file), so a score
computed on stand-in images never enters the release. Proxy metadata comes from the registry of
this checkout. Example (the release of this repository):

    python scripts/build_bundle.py --db out/tfnas.duckdb \\
        --images cifar10=../shared/data/images/cifar10_sample.npz \\
        --images ImageNet16-120=../shared/data/images/imagenet16_sample.npz

``tests/test_bundle.py`` re-scores a sample of every bundled (dataset, proxy) with today's code
and the same images and checks the bundle's rows. The bundle's SHA-256 is recorded in the
``SHA256SUMS`` beside it (``tfnas/data/SHA256SUMS``), which ``tfnas db init`` checks before it
writes anything.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from db.bundle import BUNDLE, CHECKSUMS_NAME, bundle_metadata, export_bundle, read_checksums
from tfnas import proxies
from tfnas.config import DEFAULT
from tfnas.datasets import batch_fingerprint, dataset_spec

DESCRIPTIONS = {
    "cifar10_sample.npz": "the first 4,000 images of CIFAR-10 data_batch_1 (training split)",
    "imagenet16_sample.npz": "1,000 real ImageNet photos, one per ILSVRC class, box-downsampled "
                             "to 16x16 (Chrabaszcz et al. 2017)",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, action="append", required=True,
                        help="a pipeline database (repeat to merge several)")
    parser.add_argument("--images", action="append", default=[], metavar="DATASET=FILE",
                        help="the image file a dataset's image-reading proxies must have read")
    parser.add_argument("--out", type=Path, default=Path(str(BUNDLE)))
    args = parser.parse_args(argv)
    images = {}
    for item in args.images:
        dataset, _, file = item.partition("=")
        spec, path = dataset_spec(dataset), Path(file)
        images[spec.name] = {"file": path.name, "fingerprint": batch_fingerprint(spec, path,
                                                                                 DEFAULT),
                             "description": DESCRIPTIONS.get(path.name, path.name)}
    registered = [proxies.get(name) for name in proxies.names()]
    metadata = [p.metadata() for p in registered]
    published = [row for p in registered for row in p.published_rows()]
    with tempfile.TemporaryDirectory() as tmp:
        merged = Path(tmp) / "merged.duckdb"
        with duckdb.connect(str(merged)) as conn:
            for number, path in enumerate(args.db):
                conn.execute(f"ATTACH '{path}' AS source{number} (READ_ONLY)")
            union = " UNION ALL BY NAME ".join(f"SELECT * FROM source{number}.proxy_scores"
                                               for number in range(len(args.db)))
            # a row held by several databases (e.g. one built from the bundle and the run
            # that adds to it) once: the latest computed
            conn.execute(f"CREATE TABLE proxy_scores AS SELECT * FROM ({union}) QUALIFY "
                         "row_number() OVER (PARTITION BY arch_code, dataset, proxy, seed, "
                         "batch_size, data_fingerprint, augment ORDER BY created_at DESC) = 1")
        kept = export_bundle(merged, args.out, images, metadata, published)
    size = args.out.stat().st_size
    print(pd.DataFrame(kept).sort_values(["dataset", "proxy"]).to_string(index=False))
    print(f"wrote {args.out}: {size / 1e6:.2f} MB; images: "
          + "; ".join(f"{d}: {v['file']} ({v['fingerprint']})" for d, v in
                      bundle_metadata(args.out)["images"].items()))
    sums = args.out.with_name(CHECKSUMS_NAME)
    print(f"recorded its SHA-256 {read_checksums(sums)[args.out.name]} in {sums}")
    if size > 10e6:
        sys.exit(f"the bundle is {size / 1e6:.1f} MB, over the 10 MB budget")


if __name__ == "__main__":
    main()
