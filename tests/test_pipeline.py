"""The Luigi pipeline: parameters, task identity from content, shard contents, the DB load,
recomputing what is not provably complete, and one-line errors before any work.

Most runs use ``--proxies params,flops`` (no forward pass); NASWOT/Synflow runs use a
16-image .npz, batch 8 and a handful of architectures. The benchmark is the table embedded in
tfnas (TORCH_HOME points at an empty folder). Everything is written under tmp.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import luigi
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st
from luigi.cmdline_parser import CmdlineParser

from db.read import read_arch_scores
from pipeline import ScoreAll, ScoreShard
from pipeline.parameters import CommaList, proxy_list, seed_list
from pipeline.shards import select_archs
from tfnas.config import NO_DATA, ScoringConfig
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import dataset_spec, labelled_fingerprint, sample_batch
from tfnas.proxies import ScoringRun
from tfnas.scoring import score_arch
from tfnas.space import NUM_ARCHS, Arch

LUIGI = Path(sys.executable).parent / "luigi"
TWO_ARCHS = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
             "skip_connect~2|", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.fixture(autouse=True)
def empty_torch_home(tmp_path, monkeypatch):
    """No official benchmark or dataset at the default paths: the embedded table is used."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def write_images(path: Path, n: int = 16, size: int = 32, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
             y=rng.integers(0, 10, n))
    return path


def shard_files(out: Path) -> list[Path]:
    return sorted(out.glob("shards/*/*/shard-*-of-*.parquet"))


def luigi_argv(*args: object) -> list[str]:
    return [str(LUIGI), "--module", "pipeline", *map(str, args)]


def luigi_env(**extra: str | None) -> dict:
    """The test's environment for ``luigi``; ``NAME=None`` removes a variable."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}
    return {name: value for name, value in env.items() if value is not None}


def luigi_cli(*args: object, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """``luigi --module pipeline …`` as a user types it, from the repo root (its luigi.cfg)."""
    return subprocess.run(luigi_argv(*args), cwd=REPO, env=luigi_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def build(task: luigi.Task) -> None:
    assert luigi.build([task], local_scheduler=True, workers=1, log_level="WARNING")


def stored(db_path: Path) -> pd.DataFrame:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute("SELECT * FROM proxy_scores ORDER BY ALL").df()


def test_comma_list_parameters_parse_validate_and_canonicalise():
    proxies = CommaList(flag="--proxies", check=proxy_list)
    value = proxies.normalize(proxies.parse("synflow, naswot"))
    assert value == ("naswot", "synflow")
    assert proxies.serialize(value) == "naswot,synflow"
    with pytest.raises(ValueError, match="--proxies: unknown proxy 'foo'; choose from "):
        proxies.normalize(proxies.parse("naswot,foo"))
    with pytest.raises(ValueError, match="^--proxies: 'naswot' is listed twice; name each "
                                         "proxy once$"):  # as tfnas score and the reports
        proxies.normalize(proxies.parse("naswot,synflow,naswot"))
    seeds = CommaList(flag="--seeds", check=seed_list)
    assert seeds.normalize(seeds.parse("2,0,2")) == (0, 2)
    assert seeds.serialize((0, 2)) == "0,2"
    for bad in ("1,x", "-1", "1.5", "9223372036854775808", "2147483648"):
        with pytest.raises(ValueError, match=r"--seeds must be an integer in 0..2147483647"):
            seeds.normalize(seeds.parse(bad))
    for parameter, flag in ((proxies, "--proxies"), (seeds, "--seeds")):
        with pytest.raises(ValueError, match=f"{flag} is empty; give a value or leave the flag"):
            parameter.parse("")


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=40))
def test_parameter_property_any_text_parses_or_fails_in_one_line(text):
    """Whatever is typed: a canonical tuple, or one ValueError line naming the flag."""
    for flag, check in (("--proxies", proxy_list), ("--seeds", seed_list)):
        parameter = CommaList(flag=flag, check=check)
        try:
            value = parameter.normalize(parameter.parse(text))
        except ValueError as err:
            assert str(err).startswith(flag) and "\n" not in str(err)
            continue
        assert value == parameter.normalize(parameter.serialize(value))


def test_task_identity_is_the_content_not_the_path_device_or_threads(tmp_path):
    base = dict(db=str(tmp_path / "t.duckdb"), dataset="cifar10", limit=10, shards=3, shard=1,
                fingerprint="6e7a9c562abff083")
    cpu = ScoreShard(**base, proxies="naswot,synflow", data="a.npz", device="cpu", threads=1)
    gpu = ScoreShard(**base, proxies="synflow,naswot", data="b.npz", device="cuda", threads=8)
    assert cpu.task_id == gpu.task_id and cpu.output().path == gpu.output().path
    folder = Path(cpu.output().path).parent
    for change in (dict(seed=1), dict(batch_size=64), dict(fingerprint="other"),
                   dict(limit=11), dict(proxies="naswot"), dict(augment=True)):
        other = ScoreShard(**{**base, "proxies": "naswot,synflow", **change})
        assert Path(other.output().path).parent != folder, change
    assert cpu.output().path.endswith("shard-0001-of-0003.parquet")
    assert cpu.task().arch_codes == tuple(select_archs(limit=10)[1::3])


def test_select_archs_limit_file_and_errors(tmp_path):
    all_codes = select_archs()
    assert all_codes == list(range(NUM_ARCHS))
    small, large = select_archs(limit=50), select_archs(limit=500)
    assert len(set(small)) == 50 and small == sorted(small) and set(small) <= set(large)
    assert small == sorted(np.random.default_rng(0).permutation(NUM_ARCHS)[:50].tolist())
    listing = tmp_path / "archs.txt"
    listing.write_text(f"# two archs, one twice\n{TWO_ARCHS[0]}\n\n{TWO_ARCHS[1]}  # empty\n"
                       f"{TWO_ARCHS[0]}\n")
    assert select_archs(archs_file=listing) == sorted(Arch.from_str(a).code for a in TWO_ARCHS)
    listing.write_text(f"{TWO_ARCHS[0]}\n|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    with pytest.raises(ValueError, match=r"--archs-file .*archs.txt:2: malformed architecture"):
        select_archs(archs_file=listing)
    with pytest.raises(ValueError, match="--limit or --archs-file, not both"):
        select_archs(limit=3, archs_file=listing)
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match=r"--archs-file .*binary.bin is not a UTF-8 text file"):
        select_archs(archs_file=binary)


def test_params_flops_run_covers_the_subset_once_and_loads_the_db(tmp_path):
    out = tmp_path / "out"
    task = ScoreAll(db=str(out / "t.duckdb"), dataset="cifar100", proxies="params,flops",
                    limit=12, shards=5)
    build(task)
    files = shard_files(out)
    assert [f.name for f in files] == [f"shard-{i:04d}-of-0005.parquet" for i in range(5)]
    frames = [pq.read_table(f).to_pandas() for f in files]
    codes = [set(frame["arch_code"]) for frame in frames]
    assert sum(map(len, codes)) == 12 and set().union(*codes) == set(select_archs(limit=12))
    rows = pd.concat(frames)
    assert len(rows) == 24 and set(rows["data_fingerprint"]) == {"none"}
    assert set(rows["batch_size"]) == {128} and set(rows["seed"]) == {0}
    spec = dataset_spec("cifar100")
    for row in rows.itertuples():
        cost = arch_params if row.proxy == "params" else arch_flops
        assert row.score == pytest.approx(cost(Arch.from_code(row.arch_code), spec))
    table = read_arch_scores(out / "t.duckdb", "cifar100")
    assert sorted(table["arch_code"]) == select_archs(limit=12)
    assert table["params"].notna().all() and "naswot" not in table
    assert table["test_acc_200ep"].notna().all()  # the embedded NATS-Bench accuracies
    summary, = (out / "summaries").glob("cifar100-*.txt")
    assert "params       12     0" in summary.read_text()
    assert "benchmark tfnas:embedded NATS-tss-v1_0-3ffb9 accuracy table" in summary.read_text()

    mtimes = [f.stat().st_mtime_ns for f in files]
    build(ScoreAll(db=str(out / "t.duckdb"), dataset="cifar100", proxies="flops,params",
                   limit=12, shards=5))
    assert [f.stat().st_mtime_ns for f in shard_files(out)] == mtimes
    assert len(stored(out / "t.duckdb")) == 24


def test_naswot_synflow_shards_hold_the_library_scores(tmp_path):
    images = write_images(tmp_path / "images.npz")
    out = tmp_path / "out"
    build(ScoreAll(db=str(out / "t.duckdb"), dataset="cifar10", proxies="naswot,synflow",
                   seeds="0,1", data=str(images), batch_size=8, limit=3, shards=2,
                   device="cpu"))
    files = shard_files(out)
    assert len(files) == 2 * 2 * 2  # shards × seeds × (images: naswot; data-free: synflow)
    rows = pd.concat(pq.read_table(f).to_pandas() for f in files)
    assert len(rows) == 3 * 2 * 2  # archs × proxies × seeds
    spec = dataset_spec("cifar10")
    for seed, group in rows.groupby("seed"):
        batch = sample_batch(spec, images, ScoringConfig(int(seed), 8))
        fingerprints = group.groupby("proxy")["data_fingerprint"].unique().map(list).to_dict()
        assert fingerprints == {"naswot": [batch.fingerprint], "synflow": [NO_DATA]}
        run = ScoringRun(spec, int(seed), "cpu", batch)
        for code, arch_rows in group.groupby("arch_code"):
            expected = score_arch(Arch.from_code(code), run, ("naswot", "synflow"))
            got = dict(zip(arch_rows["proxy"], arch_rows["score"], strict=True))
            assert got == {p: s.score for p, s in expected.items()}
    assert set(rows["device"]) == {"cpu"} and (rows["seconds"] > 0).all()
    assert len(stored(out / "t.duckdb")) == 12


def _run(tmp_path, **change) -> ScoreAll:
    return ScoreAll(**{"db": str(tmp_path / "out" / "t.duckdb"), "dataset": "cifar10",
                       "proxies": "params,flops", "limit": 40, "shards": 4, **change})


def test_each_row_is_keyed_by_what_its_proxy_read(tmp_path):
    """synflow (data-free) under 'none', naswot under its images, grad_norm under its images and
    labels: new labels rescore grad_norm only, and synflow rows already stored by a data-free
    run are the same rows, not duplicates."""
    db_path = tmp_path / "out" / "t.duckdb"
    build(ScoreAll(db=str(db_path), dataset="cifar10", proxies="synflow", batch_size=8,
                   limit=2, shards=1))
    images = write_images(tmp_path / "images.npz")
    run = dict(db=str(db_path), dataset="cifar10", proxies="grad_norm,naswot,synflow",
               data=str(images), batch_size=8, limit=2, shards=1, device="cpu")
    build(ScoreAll(**run))
    batch = sample_batch(dataset_spec("cifar10"), images, ScoringConfig(batch_size=8))
    labelled = labelled_fingerprint(batch.fingerprint, batch.labels.numpy())
    first = stored(db_path).groupby("proxy")["data_fingerprint"].unique().map(list).to_dict()
    assert first == {"naswot": [batch.fingerprint], "synflow": [NO_DATA],
                     "grad_norm": [labelled]}
    assert len(stored(db_path)) == 2 * 3

    with np.load(images) as npz:  # the same images, every label changed
        x, y = npz["x"], npz["y"].copy()
    y[:] = (y + 1) % 10
    np.savez(images, x=x, y=y)
    relabelled = sample_batch(dataset_spec("cifar10"), images, ScoringConfig(batch_size=8))
    assert relabelled.fingerprint == batch.fingerprint
    relabelled_key = labelled_fingerprint(relabelled.fingerprint, relabelled.labels.numpy())
    assert relabelled_key != labelled
    build(ScoreAll(**run))
    rows = stored(db_path)
    assert len(rows) == 2 * 4  # only grad_norm scored again, under the new labels
    assert set(rows.loc[rows["proxy"] == "grad_norm", "data_fingerprint"]) == {
        labelled, relabelled_key}


def test_a_foreign_or_swapped_shard_is_recomputed_not_loaded(tmp_path):
    """Shard files replaced by another shard's or another dataset's, the database removed,
    the command rerun: the foreign shards are recomputed, never loaded."""
    out = tmp_path / "out"
    build(_run(tmp_path))
    build(_run(tmp_path, dataset="cifar100"))
    c10 = sorted((out / "shards" / "cifar10").glob("*/shard-*"))
    c100 = sorted((out / "shards" / "cifar100").glob("*/shard-*"))
    c10[2].write_bytes(c10[1].read_bytes())  # a swapped shard
    c10[3].write_bytes(c100[3].read_bytes())  # another dataset's shard
    (out / "t.duckdb").unlink()
    build(_run(tmp_path))
    rows = stored(out / "t.duckdb")
    assert set(rows["dataset"]) == {"cifar10"}
    assert sorted(rows["arch_code"].unique()) == select_archs(limit=40) and len(rows) == 80
    assert pq.read_table(c10[3]).column("dataset").unique().to_pylist() == ["cifar10"]


def test_a_bit_flipped_shard_is_recomputed(tmp_path):
    """A single-bit flip in a shard (batch_size 128 → 17592186044544, the data fingerprint)
    makes it incomplete: it is recomputed."""
    out = tmp_path / "out"
    build(_run(tmp_path))
    files = shard_files(out)
    first = files[0].read_bytes()
    changed = 0
    for bit in np.random.default_rng(7).choice(len(first) * 8, 40, replace=False):
        data = bytearray(first)
        data[bit // 8] ^= 1 << (bit % 8)
        files[0].write_bytes(bytes(data))
        shard = _run(tmp_path).requires()["shards"][0]
        if not shard.complete():
            changed += 1
        elif files[0].read_bytes() != first:  # accepted: must read back the same rows
            assert pq.read_table(files[0]).equals(pq.read_table(_write(tmp_path, first)))
    assert changed >= 15
    (out / "t.duckdb").unlink()
    build(_run(tmp_path))
    assert pq.read_table(files[0]).column("batch_size").unique().to_pylist() == [128]
    assert len(stored(out / "t.duckdb")) == 80


def _write(tmp_path, data: bytes) -> Path:
    path = tmp_path / "original.parquet"
    path.write_bytes(data)
    return path


def test_other_images_at_the_same_path_are_a_new_run(tmp_path):
    """The same --data path holding different images is a new run, not the old shards."""
    images = tmp_path / "images.npz"
    out = tmp_path / "out"

    def run() -> ScoreAll:
        return ScoreAll(db=str(out / "t.duckdb"), dataset="cifar10", proxies="naswot",
                        data=str(images), batch_size=8, limit=2, shards=1)

    write_images(images, seed=1)
    build(run())
    first = stored(out / "t.duckdb")
    write_images(images, seed=2)  # same path, other pixels
    build(run())
    second = stored(out / "t.duckdb")
    assert len(shard_files(out)) == 2 and len(second) == 4
    assert second["data_fingerprint"].nunique() == 2
    new = second[~second["data_fingerprint"].isin(first["data_fingerprint"])]
    assert not np.allclose(np.sort(new["score"]), np.sort(first["score"]))


def test_an_emptied_database_is_reloaded(tmp_path):
    """A database replaced by an empty DuckDB file is loaded again: completeness is the
    database's rows, not a marker file."""
    out = tmp_path / "out"
    build(_run(tmp_path))
    (out / "t.duckdb").unlink()
    duckdb.connect(str(out / "t.duckdb")).close()
    assert not _run(tmp_path).complete()
    build(_run(tmp_path))
    assert len(stored(out / "t.duckdb")) == 80
    assert len(read_arch_scores(out / "t.duckdb", "cifar10")) == 40


def test_a_db_path_with_url_characters_is_a_plain_path(tmp_path):
    """--db 'x/a?b/tfnas.duckdb' writes the database and its shards under x/a?b, literally."""
    out = tmp_path / "x" / "a?b #%41"
    build(ScoreAll(db=str(out / "tfnas.duckdb"), dataset="cifar10", proxies="params", limit=5,
                   shards=2))
    assert (out / "tfnas.duckdb").is_file() and len(shard_files(out)) == 2
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["a?b #%41"]
    assert len(read_arch_scores(out / "tfnas.duckdb", "cifar10")) == 5


def test_cli_as_typed_and_one_line_input_errors(tmp_path, capsys, monkeypatch):
    """The command as typed (one `luigi` process), then each bad input as Luigi's command line
    parses it (in this process: the same parameters, checks and exit status)."""
    out = tmp_path / "out"
    common = ["--db", out / "t.duckdb"]
    done = luigi_cli("ScoreAll", "--dataset", "cifar10", "--proxies", "params,flops",
                     "--limit", 6, "--shards", 2, *common, TORCH_HOME=str(tmp_path / "th"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "params        6     0" in done.stdout
    before = {f: f.stat().st_mtime_ns for f in shard_files(out)}
    assert len(before) == 2
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database\n" * 1000)
    broken = tmp_path / "broken.csv"
    pd.read_csv(REPO.parent / "shared" / "data" / "nats_tss_accuracy.csv").head(100).to_csv(
        broken, index=False) if (REPO.parent / "shared").is_dir() else broken.write_text(
        "arch_index,arch_str\n0,x\n")
    cases = [
        (["--dataset", "cifar1000"], "UserError: --dataset: unknown dataset 'cifar1000'; "
                                     "valid datasets"),
        (["--dataset", "cifar10", "--proxies", "naswot,snyflow", "--limit", 6],
         "UserError: --proxies: unknown proxy 'snyflow'; choose from "),
        (["--dataset", "cifar10", "--limit", ""], "UserError: --limit is empty; give a value"),
        (["--dataset", "cifar10", "--proxies", ""], "UserError: --proxies is empty"),
        (["--dataset", "cifar10", "--limit", "0"], "UserError: --limit must be an integer "
                                                   "1..15625, got 0"),
        (["--dataset", "cifar10", "--proxies", "params", "--db", not_duckdb],
         f"DatabaseError: database {not_duckdb} is not a DuckDB database"),
        (["--dataset", "cifar10", "--proxies", "params", "--device", "gpu"],
         "UserError: --device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
        (["--dataset", "cifar10", "--proxies", "naswot,params,tenas_ntk", "--batch-size", 1],
         "UserError: --batch-size 1 is too small for naswot, tenas_ntk: they compare the "
         "images of a batch; use --batch-size 2 or more"),
        (["--dataset", "cifar10", "--seeds", "9223372036854775808"],
         "UserError: --seeds must be an integer in 0..2147483647, got '9223372036854775808'"),
        (["--dataset", "ImageNet16-120", "--proxies", "naswot", "--data", tmp_path / "missing"],
         "MissingFileError: no ImageNet16/ in"),
        (["--dataset", "cifar10", "--proxies", "params", "--benchmark", tmp_path / "nope.csv",
          "--db", tmp_path / "other" / "t.duckdb"], "MissingFileError: --benchmark"),
        (["--dataset", "cifar10", "--proxies", "params", "--benchmark", broken,
          "--db", tmp_path / "other" / "t.duckdb"], "UserError: table "),
        (["--dataset", "cifar10", "--proxies", "params", "--db", not_a_dir / "t.duckdb"],
         f"UnwritableError: --db: cannot write in {not_a_dir} ({not_a_dir} is not a folder)"),
    ]
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    capsys.readouterr()
    for args, message in cases:
        argv = ["ScoreAll", *map(str, common), *map(str, args)]
        with CmdlineParser.global_instance(argv) as parser, pytest.raises(SystemExit) as stop:
            parser.get_task_obj()
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert stop.value.code == 40, (args, lines)
        assert len(lines) == 1 and lines[0].startswith("ERROR: " + message), lines
    failed = luigi_cli("ScoreAll", *common, *cases[0][0])  # the real command line, once
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert failed.returncode == 40 and lines == ["ERROR: " + cases[0][1] + ": cifar10, "
                                                 "cifar100, ImageNet16-120"], lines
    assert {f: f.stat().st_mtime_ns for f in shard_files(out)} == before
    assert not (tmp_path / "other").exists() and not (tmp_path / "th").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway; the "
                                              "not-a-folder case above covers the check")
def test_a_read_only_output_folder_fails_before_scoring(tmp_path):
    """A read-only output folder is refused before any shard is scored."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="--db: cannot write in"):
            ScoreAll(db=str(folder / "t.duckdb"), dataset="cifar10", proxies="params", limit=3)
    finally:
        folder.chmod(0o700)


def test_the_same_command_running_already_exits_non_zero(tmp_path):
    """Luigi's pid lock: a second identical command while the first runs exited 0 ("done")
    after printing "Pid(s) {...} already running"; luigi.cfg's [retcode] already_running makes
    it exit 10. The first command is stood in for by the same command line, stopped at once
    and written into the pid file of a lock folder of the test's own."""
    from luigi.lock import get_info

    locks = tmp_path / "locks"
    locks.mkdir()
    argv = luigi_argv("ScoreAll", "--dataset", "cifar10", "--proxies", "params",
                      "--db", tmp_path / "t.duckdb", "--lock-pid-dir", locks)
    first = subprocess.Popen(argv, cwd=REPO, env=luigi_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        cmdline = Path(f"/proc/{first.pid}/cmdline")
        deadline = time.monotonic() + 30
        while str(locks).encode() not in cmdline.read_bytes():  # until it has exec'd
            assert time.monotonic() < deadline, "the first command did not start"
            time.sleep(0.01)
        os.kill(first.pid, signal.SIGSTOP)  # seconds before it imports the pipeline
        _, command, pid_file = get_info(str(locks), my_pid=first.pid)
        assert command.endswith(f"--lock-pid-dir {locks}")
        Path(pid_file).write_text(f"{first.pid}\n")
        second = subprocess.run(argv, cwd=REPO, env=luigi_env(), capture_output=True,
                                text=True, timeout=180)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert second.returncode == 10, second.stderr[-2000:]
    assert f"Pid(s) {{{first.pid}}} already running" in second.stdout
    assert not (tmp_path / "t.duckdb").exists()
