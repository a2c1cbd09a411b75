"""How long `tfnas tables` (Tables I–V, 500 runs per cell) and `tfnas correlations` take on a
full database: 15,625 architectures × 3 datasets.

The database is built with the real db API from shard files written here: NATS-Bench accuracies
(the table embedded in tfnas) and the params and flops proxies of tfnas.costs, each with the
wall time of its own call as ``seconds``. The other proxies are not computed (that needs the
pipeline and hours of CPU), so they get stand-ins: params stored again under the name
``naswot`` and flops under ``synflow`` — EXPLICIT ALIASES, so naswot := params and synflow :=
flops in every number this prints. With ``--all-proxies`` (or ``--proxies a,b,...``, e.g. the
thirteen of NAS-Bench-Suite-Zero) every other registered proxy (or each one named) is
stored too, as params plus seeded noise (labelled the same way), so the reports handle the
whole registry at once.

    python benchmarks/tables_speed.py [--workdir DIR] [--all-proxies | --proxies a,b,...]

Prints the wall and CPU time of each step, in-process and as the CLI (a fresh interpreter,
imports included), the sum of the two commands, each command's peak resident memory (its own
process, and its largest forked worker), and writes the CLI's Markdown output to
DIR/tables.md and DIR/correlations.md.
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
import pyarrow as pa

import db
from db.read import read_published, read_scores, read_seed_scores
from db.shards import SHARD_SCHEMA, ShardTask, write_shard
from tfnas import __version__, proxies
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import DATASETS
from tfnas.replay.correlations import correlation_rows
from tfnas.replay.tables import table_rows
from tfnas.space import NUM_ARCHS, all_archs

ROOT = Path(__file__).resolve().parents[1]
ALIASES = {"naswot": "params", "synflow": "flops"}


def timed_costs(spec) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """params and flops of every arch_code with the measured seconds of each call."""
    out = {name: (np.empty(NUM_ARCHS), np.empty(NUM_ARCHS)) for name in ("params", "flops")}
    for arch in all_archs():
        for name, cost in (("params", arch_params), ("flops", arch_flops)):
            start = time.perf_counter()
            value = cost(arch, spec)
            out[name][1][arch.code] = time.perf_counter() - start
            out[name][0][arch.code] = value
    return out


def build(path: Path, names: list[str]) -> None:
    created = dt.datetime.now(dt.timezone.utc)
    codes = tuple(range(NUM_ARCHS))
    shards = {}
    for spec in DATASETS.values():
        measured = timed_costs(spec)
        for number, proxy in enumerate(names):
            score, seconds = measured[ALIASES.get(proxy, proxy if proxy in measured else "params")]
            if proxy not in measured and proxy not in ALIASES:  # a stand-in: params + noise
                score = score * np.random.default_rng(number).lognormal(0, 0.3, NUM_ARCHS)
            task = ShardTask(spec.name, (proxy,), 0, 128, False, "none", codes)
            table = pa.table({
                "arch_code": np.arange(NUM_ARCHS), "dataset": [spec.name] * NUM_ARCHS,
                "proxy": [proxy] * NUM_ARCHS, "seed": np.zeros(NUM_ARCHS, np.int64),
                "batch_size": np.full(NUM_ARCHS, 128), "data_fingerprint": ["none"] * NUM_ARCHS,
                "augment": np.zeros(NUM_ARCHS, bool), "score": score, "seconds": seconds,
                "device": ["cpu"] * NUM_ARCHS, "tfnas_version": [__version__] * NUM_ARCHS,
                "created_at": pa.array([created] * NUM_ARCHS, pa.timestamp("us", tz="UTC"))},
                schema=SHARD_SCHEMA)
            file = path.parent / f"{spec.name}-{proxy}.parquet"
            shards[write_shard(table, task, file)] = task
    used = [proxies.get(name) for name in names]
    with db.writing(path) as engine:
        db.create_schema(engine)
        db.import_benchmark(engine)
        db.load_shards(engine, shards, [p.metadata() for p in used],
                       [row for p in used for row in p.published_rows()])


#: Runs ``tfnas.cli`` as ``python -m`` would, then prints, as the last line of stderr, its peak
#: RSS (``VmHWM``: this process since its exec; ``ru_maxrss`` would carry over the benchmark's
#: own peak through fork and exec) and its largest forked worker's ``ru_maxrss`` (KiB; it counts
#: the pages the worker shares copy-on-write with the command). Linux only.
PEAK_RSS = """
import resource, runpy, sys
sys.argv[0] = "tfnas"
try:
    runpy.run_module("tfnas.cli", run_name="__main__", alter_sys=True)
finally:
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print("peak_rss_kib", status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
          file=sys.stderr)
"""


def clock(label: str, fn):
    """Run ``fn``; print its wall time and CPU time (this process plus finished children).
    CPU time is the steadier number on a machine shared with other jobs."""
    def cpu() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                             resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    result = fn()
    wall = time.perf_counter() - start
    print(f"{label:<52} {wall:6.2f} s wall {cpu() - start_cpu:6.2f} s CPU", flush=True)
    return result, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the database and outputs here")
    parser.add_argument("--all-proxies", action="store_true",
                        help="store every registered proxy (stand-ins), not only the study's")
    parser.add_argument("--proxies", type=lambda text: text.split(","),
                        help="store these registered proxies (comma-separated; stand-ins)")
    args = parser.parse_args()
    names = (list(proxies.names()) if args.all_proxies else
             [proxies.get(name).name for name in args.proxies] if args.proxies else
             ["naswot", "synflow", "params", "flops"])
    stand_ins = set(names) - {"naswot", "synflow", "params", "flops"}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tables_speed_"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "tfnas.duckdb"
    print(f"database {path}; {len(names)} proxies: params, flops real (tfnas.costs); naswot := "
          "params and synflow := flops (aliases, NOT the real proxies)"
          + ("; every other proxy := params × seeded noise (stand-ins)" if stand_ins
             else ""))
    if not path.exists():
        clock("build the database (not part of the target)", lambda: build(path, names))

    print("in-process (imports excluded; no pandas, as the commands):")
    scores, _ = clock("  read the scores (3 datasets)", lambda: read_scores(path).columns)
    clock("  Tables I-V, 500 runs per cell", lambda: table_rows(scores, runs=500))
    clock(f"  correlations ({len(names)} proxies x 3 datasets x 2 acc.)",
          lambda: (correlation_rows(scores, published=read_published(path)),
                   read_seed_scores(path)))  # None: one seed, nothing to spread

    print("command line (fresh interpreter each, imports included):")
    total = 0.0
    peaks = []
    for command, output in (("tables", "tables.md"), ("correlations", "correlations.md")):
        argv = [sys.executable, "-c", PEAK_RSS, command, "--db", str(path), "--out",
                str(workdir / command)]
        with open(workdir / output, "w") as out:
            run, wall = clock(f"  tfnas {command}", lambda argv=argv, out=out: subprocess.run(
                argv, stdout=out, stderr=subprocess.PIPE, text=True, check=True, cwd=ROOT))
        total += wall
        own, worker = run.stderr.strip().splitlines()[-1].split()[-2:]
        peaks.append(f"  tfnas {command}: {int(own) / 1024:.0f} MiB, largest worker "
                     f"{int(worker) / 1024:.0f} MiB")
    print(f"{'  tfnas tables + tfnas correlations':<52} {total:6.2f} s wall")
    print("peak resident memory (the command's VmHWM; its largest worker's ru_maxrss):",
          *peaks, sep="\n")
    clock("  python -c 'import tfnas.cli' (startup alone)", lambda: subprocess.run(
        [sys.executable, "-c", "import tfnas.cli"], check=True, cwd=ROOT))
    print(f"outputs: {workdir / 'tables.md'}, {workdir / 'correlations.md'}")


if __name__ == "__main__":
    main()
