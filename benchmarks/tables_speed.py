"""How long `tfnas tables` (Tables I–V, 500 runs per cell) and `tfnas correlations` take on a
full database: 15,625 architectures × 3 datasets.

The database is built with the real db API from shard files written here: NATS-Bench accuracies
from ../shared/data/nats_tss_accuracy.csv, and the params and flops proxies of tfnas.costs, each
with the wall time of its own call as ``seconds``. NASWOT and Synflow are not computed (that
needs the pipeline and hours of CPU), so Tables I–V need stand-ins: this benchmark stores
params again under the name ``naswot`` and flops under ``synflow`` — EXPLICIT ALIASES, so
naswot := params and synflow := flops in every number it prints.

    python benchmarks/tables_speed.py [--workdir DIR]

Prints the wall and CPU time of each step, in-process and as the CLI (a fresh interpreter,
imports included), and writes the CLI's Markdown output to DIR/tables.md and DIR/correlations.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import db
from db.load import write_shard
from tfnas import __version__
from tfnas.correlations import correlation_table, seed_spread
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import DATASETS
from tfnas.reporting import load_scores, load_seed_scores
from tfnas.space import all_archs
from tfnas.tables import tables

ROOT = Path(__file__).resolve().parents[1]
ACCURACY_CSV = ROOT.parent / "shared" / "data" / "nats_tss_accuracy.csv"
ALIASES = {"naswot": "params", "synflow": "flops"}


def timed_costs(dataset: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """params and flops of every arch_code with the measured seconds of each call."""
    out = {name: (np.empty(15625), np.empty(15625)) for name in ("params", "flops")}
    for arch in all_archs():
        for name, cost in (("params", arch_params), ("flops", arch_flops)):
            start = time.perf_counter()
            value = cost(arch, dataset)
            out[name][1][arch.code] = time.perf_counter() - start
            out[name][0][arch.code] = value
    return out


def build(path: Path) -> None:
    engine = db.connect(path)
    try:
        db.create_schema(engine)
        db.import_benchmark(engine, ACCURACY_CSV)
        shards = []
        created = pd.Timestamp(dt.datetime.now(dt.timezone.utc))
        for dataset in DATASETS:
            measured = timed_costs(dataset)
            for proxy in ("naswot", "synflow", "params", "flops"):
                score, seconds = measured[ALIASES.get(proxy, proxy)]
                frame = pd.DataFrame({
                    "arch_code": np.arange(15625), "dataset": dataset, "proxy": proxy, "seed": 0,
                    "batch_size": 128, "data_fingerprint": "none", "augment": False,
                    "score": score, "seconds": seconds, "device": "cpu",
                    "tfnas_version": __version__, "created_at": created})
                shards.append(write_shard(frame, path.parent / f"{dataset}-{proxy}.parquet"))
        db.load_shards(engine, shards)
    finally:
        engine.dispose()


def clock(label: str, fn):
    """Run ``fn``; print its wall time and CPU time (this process plus finished children).
    CPU time is the steadier number on a machine shared with other jobs."""
    def cpu() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                             resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    result = fn()
    print(f"{label:<48} {time.perf_counter() - start:6.2f} s wall {cpu() - start_cpu:6.2f} s CPU",
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the database and outputs here")
    args = parser.parse_args()
    if not ACCURACY_CSV.is_file():
        sys.exit(f"needs the NATS-Bench accuracy table at {ACCURACY_CSV}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tables_speed_"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "tfnas.duckdb"
    print(f"database {path}; proxies: params, flops (real, tfnas.costs); naswot := params and "
          "synflow := flops (aliases, NOT the real proxies)")
    if not path.exists():
        clock("build the database (not part of the target)", lambda: build(path))

    print("in-process (imports excluded):")
    scores, _ = clock("  read arch_scores (3 datasets)", lambda: load_scores(path))
    clock("  Tables I-V, 500 runs per cell", lambda: tables(scores, runs=500))
    clock("  correlations (4 proxies x 3 datasets x 2 acc.)",
          lambda: (correlation_table(scores), seed_spread(load_seed_scores(path), scores)))

    print("command line (fresh interpreter each, imports included):")
    for command, output in (("tables", "tables.md"), ("correlations", "correlations.md")):
        argv = [sys.executable, "-m", "tfnas.cli", command, "--db", str(path), "--out",
                str(workdir / command)]
        with open(workdir / output, "w") as out:
            clock(f"  tfnas {command}", lambda argv=argv, out=out: subprocess.run(
                argv, stdout=out, check=True, cwd=ROOT))
    clock("  python -c 'import tfnas.cli' (startup alone)", lambda: subprocess.run(
        [sys.executable, "-c", "import tfnas.cli"], check=True, cwd=ROOT))
    print(f"outputs: {workdir / 'tables.md'}, {workdir / 'correlations.md'}")


if __name__ == "__main__":
    main()
