"""Seconds per architecture of every registered proxy on this machine, each proxy timed ALONE
(its own scoring run, so a pass it shares with other proxies in the pipeline — the loss
gradient, the input Jacobian — is paid in full here), and all of them together in one run as the
pipeline scores them (shared passes paid once).

The same seeded sample of architectures (``numpy.random.default_rng(seed)`` over all 15,625)
and the same batch for every proxy; the first architecture of each proxy is a warm-up and is
not counted.

    python benchmarks/proxy_seconds.py --dataset cifar10 --batch-size 64 --archs 6 \\
        --threads 1 --data ../shared/data/images/cifar10_sample.npz

Prints, per proxy, the median and mean seconds per architecture, then the whole registry in one
run, with the machine, torch version and thread count.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfnas import proxies  # noqa: E402
from tfnas.config import ScoringConfig  # noqa: E402
from tfnas.datasets import dataset_spec, sample_batch  # noqa: E402
from tfnas.proxies import ScoringRun  # noqa: E402
from tfnas.scoring import score_archs  # noqa: E402
from tfnas.space import NUM_ARCHS, Arch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data", required=True, help="images (folder or .npz) of the dataset")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--archs", type=int, default=6, help="timed architectures (+1 warm-up)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--proxies", default=",".join(proxies.names()))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = dataset_spec(args.dataset)
    batch = sample_batch(spec, args.data, ScoringConfig(args.seed, args.batch_size))
    codes = np.random.default_rng(args.seed).choice(NUM_ARCHS, args.archs + 1, replace=False)
    archs = [Arch.from_code(int(code)) for code in codes]
    names = args.proxies.split(",")
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s); {args.dataset}, batch {args.batch_size}, "
          f"{args.archs} architectures (+1 warm-up), seed {args.seed}")
    print(f"{'proxy':<10} {'median s/arch':>14} {'mean s/arch':>12}")
    for name in names:
        run = ScoringRun(spec, args.seed, "cpu", batch)
        seconds = [result[name].seconds for result in score_archs(archs, run, [name])[1:]]
        print(f"{name:<10} {statistics.median(seconds):14.4f} {statistics.mean(seconds):12.4f}",
              flush=True)
    run = ScoringRun(spec, args.seed, "cpu", batch)
    start = time.perf_counter()
    score_archs(archs[:1], run, names)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    score_archs(archs[1:], run, names)
    together = (time.perf_counter() - start) / args.archs
    print(f"all {len(names)} in one run (shared passes once): {together:.3f} s/arch "
          f"(warm-up architecture {warm:.3f} s)")


if __name__ == "__main__":
    main()
