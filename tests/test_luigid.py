"""Several machines: two worker processes share one central scheduler (``luigid``).

Each worker is started exactly as on a separate GPU host (README recipe): the repo's
luigi.cfg plus a cluster config through ``LUIGI_CONFIG_PATH`` that turns the local
scheduler off, and ``--scheduler-host/--scheduler-port``. ``--no-lock`` only because both
run the same command on one host here. The shard files must show every architecture scored
exactly once, and the DB must be complete.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from test_pipeline import REPO, luigi_argv, luigi_env, shard_files, write_images
from test_pipeline_resume import assert_table_complete

from pipeline.shards import select_archs

LUIGID = Path(sys.executable).parent / "luigid"
CLUSTER_CFG = ("[core]\nlocal_scheduler = false\n\n[worker]\nkeep_alive = true\n\n"
               "[retcode]\nalready_running = 0\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "luigid exited at start-up"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"luigid did not listen on port {port} within {timeout} s")


def ran(summary: str, family: str) -> int:
    """How many ``family`` tasks a worker's execution summary lists as run by it."""
    match = re.search(rf"ran successfully:\n(?:    - .*\n)*?    - (\d+) {family}\(", summary)
    return int(match.group(1)) if match else 0


def test_two_workers_share_the_shards_through_luigid(tmp_path):
    port = free_port()
    (tmp_path / "cluster.cfg").write_text(CLUSTER_CFG)
    images, out = write_images(tmp_path / "images.npz"), tmp_path / "out"
    args = ["ScoreAll", "--dataset", "cifar10", "--proxies", "naswot,synflow", "--data", images,
            "--batch-size", 8, "--limit", 24, "--shards", 8, "--db", out / "t.duckdb",
            "--threads", 1, "--no-lock",
            "--scheduler-host", "127.0.0.1", "--scheduler-port", port]
    processes = []
    try:
        with open(tmp_path / "luigid.log", "w") as log:
            luigid = subprocess.Popen(
                [str(LUIGID), "--address", "127.0.0.1", "--port", str(port),
                 "--state-path", str(tmp_path / "luigid-state.pickle")],
                cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(luigid)
        wait_for_port(port, luigid)
        env = luigi_env(LUIGI_CONFIG_PATH=str(tmp_path / "cluster.cfg"),
                        TORCH_HOME=str(tmp_path / "torch-home"))
        workers = [subprocess.Popen(luigi_argv(*args), cwd=REPO, env=env, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True) for _ in range(2)]
        processes += workers
        results = [w.communicate(timeout=300) for w in workers]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err[-3000:]
    summaries = [err for _, err in results]
    # 8 shards of naswot (reads images) and 8 of synflow (data-free), each run once, in all
    assert sum(ran(s, "ScoreShard") for s in summaries) == 16
    assert sum(ran(s, "ScoreAll") for s in summaries) == 1

    files = shard_files(out)
    assert len(files) == 16
    tables = [pq.read_table(f, columns=["arch_code", "proxy"]).to_pydict() for f in files]
    for proxy in ("naswot", "synflow"):
        per_file = [set(t["arch_code"]) for t in tables if set(t["proxy"]) == {proxy}]
        assert len(per_file) == 8
        assert sum(map(len, per_file)) == 24  # no architecture in two of its shard files
        assert sorted(set().union(*per_file)) == select_archs(limit=24)
    assert_table_complete(out / "t.duckdb", select_archs(limit=24), proxies=2)
