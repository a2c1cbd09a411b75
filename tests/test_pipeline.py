"""The Luigi pipeline: parameters, task identity, shard contents, the DB load, CLI errors.

Most runs use ``--proxies params,flops`` (no forward pass); NASWOT/Synflow runs use a
16-image .npz, batch 8 and a handful of architectures. Everything is written under tmp.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import luigi
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import db
from pipeline import ScoreAll, ScoreShard
from pipeline.parameters import ProxyListParameter, SeedListParameter
from pipeline.shards import select_archs
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import sample_batch
from tfnas.scoring import score_arch
from tfnas.space import NUM_ARCHS, Arch

REPO = Path(__file__).resolve().parents[1]
LUIGI = Path(sys.executable).parent / "luigi"
BENCH_ARCHS = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
               "skip_connect~2|", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


def write_benchmark(path: Path) -> Path:
    """A two-architecture accuracy table in the shape of ../shared/data/nats_tss_accuracy.csv."""
    columns = [f"{d}_test_acc_{e}ep" for d in ("cifar10", "cifar100", "imagenet16_120")
               for e in (200, 12)]
    frame = pd.DataFrame({"arch_index": [0, 1], "arch_str": BENCH_ARCHS})
    for k, column in enumerate(columns):
        frame[column] = [90.0 - k, 10.0 + k]
    frame.to_csv(path, index=False)
    return path


def write_images(path: Path, n: int = 16, size: int = 32) -> Path:
    rng = np.random.default_rng(1)
    np.savez(path, x=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
             y=np.zeros(n, np.int64))
    return path


def shard_files(out: Path) -> list[Path]:
    return sorted(out.glob("shards/*/*/shard-*-of-*.parquet"))


def luigi_argv(*args: object) -> list[str]:
    return [str(LUIGI), "--module", "pipeline", *map(str, args)]


def luigi_env(**extra: str | None) -> dict:
    """The test's environment for ``luigi``; ``NAME=None`` removes a variable."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}
    return {name: value for name, value in env.items() if value is not None}


def luigi_cli(*args: object, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """``luigi --module pipeline …`` as a user types it, from the repo root (its luigi.cfg)."""
    return subprocess.run(luigi_argv(*args), cwd=REPO, env=luigi_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def build(task: luigi.Task) -> None:
    assert luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING")


@pytest.fixture
def bench(tmp_path) -> Path:
    return write_benchmark(tmp_path / "bench.csv")


def test_comma_list_parameters_parse_validate_and_canonicalise():
    proxies = ProxyListParameter()
    value = proxies.normalize(proxies.parse("synflow, naswot"))
    assert value == ("naswot", "synflow")
    assert proxies.serialize(value) == "naswot,synflow"
    with pytest.raises(ValueError, match="unknown proxy foo; choose from naswot"):
        proxies.normalize(proxies.parse("naswot,foo"))
    seeds = SeedListParameter()
    assert seeds.normalize(seeds.parse("2,0,2")) == (0, 2)
    assert seeds.serialize((0, 2)) == "0,2"
    for bad in ("1,x", "-1", "1.5"):
        with pytest.raises(ValueError, match="seeds must be non-negative integers"):
            seeds.normalize(seeds.parse(bad))


def test_task_identity_ignores_device_threads_and_proxy_order(tmp_path):
    base = dict(db=str(tmp_path / "t.duckdb"), dataset="cifar10", limit=10, shards=3, shard=1)
    cpu = ScoreShard(**base, proxies="naswot,synflow", data="a.npz", device="cpu", threads=1)
    gpu = ScoreShard(**base, proxies="synflow,naswot", data="a.npz", device="cuda", threads=8)
    assert cpu.task_id == gpu.task_id and cpu.output().path == gpu.output().path
    folder = Path(cpu.output().path).parent
    for change in (dict(seed=1), dict(batch_size=64), dict(data="b.npz"), dict(limit=11),
                   dict(proxies="naswot")):
        other = ScoreShard(**{**base, "proxies": "naswot,synflow", "data": "a.npz", **change})
        assert Path(other.output().path).parent != folder, change
    # Without a data-reading proxy the data path does not matter.
    no_data = [ScoreShard(**base, proxies="params,flops", data=d) for d in ("a.npz", "b.npz")]
    assert no_data[0].output().path == no_data[1].output().path
    assert cpu.output().path.endswith("shard-0001-of-0003.parquet")


def test_select_archs_limit_file_and_errors(tmp_path):
    all_codes = select_archs()
    assert all_codes == list(range(NUM_ARCHS))
    small, large = select_archs(limit=50), select_archs(limit=500)
    assert len(set(small)) == 50 and small == sorted(small) and set(small) <= set(large)
    assert small == sorted(np.random.default_rng(0).permutation(NUM_ARCHS)[:50].tolist())
    listing = tmp_path / "archs.txt"
    listing.write_text(f"# two archs, one twice\n{BENCH_ARCHS[0]}\n\n{BENCH_ARCHS[1]}  # empty\n"
                       f"{BENCH_ARCHS[0]}\n")
    assert select_archs(archs_file=listing) == sorted(Arch.from_str(a).code for a in BENCH_ARCHS)
    listing.write_text(f"{BENCH_ARCHS[0]}\n|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    with pytest.raises(ValueError, match=r"archs.txt:2: malformed architecture string"):
        select_archs(archs_file=listing)
    with pytest.raises(ValueError, match="--limit or --archs-file, not both"):
        select_archs(limit=3, archs_file=listing)
    with pytest.raises(ValueError, match="--limit must be an integer in 1..15625"):
        select_archs(limit=0)


def test_params_flops_run_covers_the_subset_once_and_loads_the_db(tmp_path, bench):
    out = tmp_path / "out"
    task = ScoreAll(db=str(out / "t.duckdb"), dataset="cifar100", proxies="params,flops",
                    limit=12, shards=5, benchmark=str(bench))
    build(task)
    files = shard_files(out)
    assert [f.name for f in files] == [f"shard-{i:04d}-of-0005.parquet" for i in range(5)]
    frames = [pq.read_table(f).to_pandas() for f in files]
    codes = [set(frame["arch_code"]) for frame in frames]
    assert sum(map(len, codes)) == 12 and set().union(*codes) == set(select_archs(limit=12))
    rows = pd.concat(frames)
    assert len(rows) == 24 and set(rows["data_fingerprint"]) == {"none"}
    assert set(rows["batch_size"]) == {128} and set(rows["seed"]) == {0}
    for row in rows.itertuples():
        cost = arch_params if row.proxy == "params" else arch_flops
        assert row.score == pytest.approx(cost(Arch.from_code(row.arch_code), "cifar100"))
    table = db.read_arch_scores(out / "t.duckdb", "cifar100")
    assert sorted(table["arch_code"]) == select_archs(limit=12)
    assert table["params"].notna().all() and table["naswot"].isna().all()
    assert "params       12     0" in Path(task.output().path).read_text()

    mtimes = [f.stat().st_mtime_ns for f in files]
    build(ScoreAll(db=str(out / "t.duckdb"), dataset="cifar100", proxies="flops,params",
                   limit=12, shards=5, benchmark=str(bench)))
    assert [f.stat().st_mtime_ns for f in shard_files(out)] == mtimes
    with duckdb.connect(str(out / "t.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM proxy_scores").fetchone()[0] == 24


def test_naswot_synflow_shards_hold_the_library_scores(tmp_path, bench):
    images = write_images(tmp_path / "images.npz")
    out = tmp_path / "out"
    build(ScoreAll(db=str(out / "t.duckdb"), dataset="cifar10", proxies="naswot,synflow",
                   seeds="0,1", data=str(images), batch_size=8, limit=3, shards=2,
                   benchmark=str(bench), device="cpu"))
    rows = pd.concat(pq.read_table(f).to_pandas() for f in shard_files(out))
    assert len(rows) == 3 * 2 * 2  # archs × proxies × seeds
    for seed, group in rows.groupby("seed"):
        batch = sample_batch("cifar10", images, 8, seed)
        assert set(group["data_fingerprint"]) == {batch.fingerprint}
        for code, arch_rows in group.groupby("arch_code"):
            expected = score_arch(Arch.from_code(code), "cifar10", batch.images,
                                  ("naswot", "synflow"), seed)
            got = dict(zip(arch_rows["proxy"], arch_rows["score"], strict=True))
            assert got == {p: s.score for p, s in expected.items()}
    assert set(rows["device"]) == {"cpu"} and (rows["seconds"] > 0).all()
    with duckdb.connect(str(out / "t.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT (arch_code, proxy, seed)) "
                           "FROM proxy_scores").fetchone() == (12, 12)


def test_cli_as_typed_and_one_line_input_errors(tmp_path, bench):
    out = tmp_path / "out"
    common = ["--db", out / "t.duckdb", "--benchmark", bench]
    done = luigi_cli("ScoreAll", "--dataset", "cifar10", "--proxies", "params,flops",
                     "--limit", 6, "--shards", 2, *common)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "params        6     0" in done.stdout
    before = {f: f.stat().st_mtime_ns for f in shard_files(out)}
    assert len(before) == 2

    cases = [
        (["--dataset", "cifar1000"], "ValueError: unknown dataset 'cifar1000'; valid datasets"),
        (["--dataset", "cifar10", "--proxies", "naswot,snyflow", "--limit", 6],
         "ValueError: unknown proxy snyflow; choose from naswot, synflow, params, flops"),
        (["--dataset", "cifar10", "--proxies", "naswot", "--data", tmp_path / "missing"],
         f"FileNotFoundError: data path {tmp_path / 'missing'} does not exist"),
        (["--dataset", "cifar10", "--proxies", "params", "--benchmark", tmp_path / "nope.csv",
          "--db", tmp_path / "other" / "t.duckdb"], "FileNotFoundError: benchmark"),
    ]
    for args, message in cases:
        failed = luigi_cli("ScoreAll", *common, *args)
        lines = [line for line in failed.stderr.splitlines() if line.strip()]
        assert failed.returncode == 40, failed.stderr[-2000:]
        assert len(lines) == 1 and lines[0].startswith("ERROR: " + message), lines
    assert {f: f.stat().st_mtime_ns for f in shard_files(out)} == before
    assert not (tmp_path / "other").exists()
