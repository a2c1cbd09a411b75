"""Does memory grow with the number of architectures a shard scores? It must not.

Scores NASWOT and Synflow through the same code path as the ``ScoreShard`` task
(:func:`pipeline.shards.score_shard`, one call per checkpoint segment, the rows kept as
a shard keeps them) on ImageNet16-120 with an 8-image batch, and prints the peak RSS
(``resource.getrusage``) and the current RSS after each checkpoint::

    python benchmarks/memory_growth.py                      # after 200 and 1,000 archs
    python benchmarks/memory_growth.py --checkpoints 200,400

Architectures: the seeded sample of ``--limit`` (:func:`pipeline.shards.select_archs`).
Images: ``../shared/data/images/imagenet16_sample.npz`` when present, else 8 synthetic
16×16 images (the proxies only need a fixed batch).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from db.shards import shard_tasks
from pipeline.shards import score_shard, select_archs
from tfnas.config import ScoringConfig
from tfnas.datasets import dataset_spec, sample_batch
from tfnas.proxies import ScoringRun

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "images" / \
    "imagenet16_sample.npz"
DATASET, BATCH = "ImageNet16-120", 8


def rss_mib() -> tuple[float, float]:
    """(peak RSS, current RSS) of this process in MiB (Linux: ru_maxrss is in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return peak, current


def batch_source(tmp: Path) -> Path:
    if SAMPLE.is_file():
        return SAMPLE
    rng = np.random.default_rng(0)
    path = tmp / "synthetic.npz"
    np.savez(path, x=rng.integers(0, 256, (BATCH, 16, 16, 3), dtype=np.uint8),
             y=np.zeros(BATCH, np.int64))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default="200,1000",
                        help="comma list of architecture counts to report at (default 200,1000)")
    args = parser.parse_args()
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        source = batch_source(Path(tmp))
        batch = sample_batch(dataset_spec(DATASET), source, ScoringConfig(batch_size=BATCH))
    run = ScoringRun(dataset_spec(DATASET), 0, "cpu", batch)
    codes = select_archs(limit=checkpoints[-1])
    print(f"{DATASET}, batch {BATCH} from {source.name}, proxies naswot+synflow, cpu, 1 thread")
    print(f"start: peak RSS {rss_mib()[0]:.1f} MiB, current {rss_mib()[1]:.1f} MiB")
    tables, done, start = [], 0, time.perf_counter()
    for checkpoint in checkpoints:
        task, = shard_tasks(DATASET, ("naswot", "synflow"), 0, BATCH, False, batch.fingerprint,
                            codes[done:checkpoint], 1)
        tables.append(score_shard(task, run, desc=f"archs {done}..{checkpoint}"))
        done = checkpoint
        rows = pa.concat_tables(tables).num_rows
        peak, current = rss_mib()
        print(f"after {done:>5} archs ({rows} rows, {time.perf_counter() - start:.0f} s): "
              f"peak RSS {peak:.1f} MiB, current {current:.1f} MiB")


if __name__ == "__main__":
    main()
