"""Resuming: a run killed mid-way redoes only the missing shards; bad shard files are redone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_pipeline import REPO, build, luigi_argv, luigi_env, shard_files, write_images

from db.shards import ShardError, read_shard
from pipeline import ScoreAll
from pipeline.shards import select_archs


@pytest.fixture(autouse=True)
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def complete(path) -> bool:
    try:
        read_shard(path)
    except ShardError:
        return False
    return True


def finished(out) -> dict:
    """Shard files that are complete now → (mtime, inode), i.e. which write produced them."""
    return {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in shard_files(out)
            if complete(f)}


def assert_table_complete(db_path, codes: list[int], proxies: int) -> None:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows, distinct, archs = con.execute(
            "SELECT count(*), count(DISTINCT (arch_code, proxy)), count(DISTINCT arch_code) "
            "FROM proxy_scores").fetchone()
        stored = [c for (c,) in con.execute(
            "SELECT DISTINCT arch_code FROM proxy_scores ORDER BY 1").fetchall()]
    assert rows == distinct == len(codes) * proxies and archs == len(codes)
    assert stored == codes


def test_killed_process_group_resumes_with_only_missing_shards(tmp_path):
    """SIGKILL to the whole process group (Luigi forks one process per task with --workers 2)
    as soon as the first shard is written; the re-run must keep that shard's file.

    Two torch threads per task and a 16-image batch (large enough for torch to use OpenMP)
    also guard against OpenMP threads started before Luigi's fork: they hang the tasks."""
    images, out = write_images(tmp_path / "images.npz"), tmp_path / "out"
    args = ["ScoreAll", "--dataset", "cifar10", "--proxies", "naswot,synflow", "--data", images,
            "--batch-size", 16, "--limit", 16, "--shards", 8, "--db", out / "t.duckdb",
            "--workers", 2, "--threads", 2]
    env = luigi_env(OMP_NUM_THREADS=None, TORCH_HOME=str(tmp_path / "th"))
    run = subprocess.Popen(luigi_argv(*args), cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while not finished(out) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    kept = finished(out)  # 8 shards of naswot (reads images) and 8 of synflow (data-free)
    assert 1 <= len(kept) < 16, f"kill came too late or never: {len(kept)} of 16 shards done"
    assert not (out / "summaries").exists()

    resumed = subprocess.run(luigi_argv(*args), cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    now = finished(out)
    assert len(now) == 16 and len(shard_files(out)) == 16
    assert {f: now[f] for f in kept} == kept  # finished shards were not redone
    ran = re.search(r"ran successfully:\n(?:    - .*\n)*?    - (\d+) ScoreShard", resumed.stderr)
    assert ran and int(ran.group(1)) == 16 - len(kept)  # …and only the others ran
    assert_table_complete(out / "t.duckdb", select_archs(limit=16), proxies=2)


def test_truncated_or_short_shard_is_detected_and_recomputed(tmp_path):
    out = tmp_path / "out"

    def task():
        return ScoreAll(db=str(out / "t.duckdb"), dataset="ImageNet16-120",
                        proxies="params,flops", limit=12, shards=4)

    build(task())
    files = shard_files(out)
    before = finished(out)
    assert len(before) == 4
    files[1].write_bytes(files[1].read_bytes()[:-100])  # truncated: no Parquet footer
    table = pq.read_table(files[2])
    pq.write_table(table.slice(0, 3).replace_schema_metadata(table.schema.metadata), files[2])
    assert not complete(files[1]) and not complete(files[2])  # readable, rows missing
    # the database holds every row: the run is done whatever became of its shard files …
    assert task().complete()
    # … until the database must be rebuilt from them: then only the bad shards are redone
    (out / "t.duckdb").unlink()
    build(task())
    after = finished(out)
    assert len(after) == 4
    assert after[files[0]] == before[files[0]] and after[files[3]] == before[files[3]]
    assert after[files[1]] != before[files[1]] and after[files[2]] != before[files[2]]
    rows = pd.concat(pq.read_table(f).to_pandas() for f in files)
    assert sorted(set(rows["arch_code"])) == select_archs(limit=12) and len(rows) == 24
    assert_table_complete(out / "t.duckdb", select_archs(limit=12), proxies=2)
