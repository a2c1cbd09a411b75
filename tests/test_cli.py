import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from tfnas.cli import main
from tfnas.config import ScoringConfig
from tfnas.datasets import dataset_spec, sample_batch
from tfnas.proxies import ScoringRun
from tfnas.scoring import score_arch
from tfnas.space import Arch

MIXED = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
         "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
PROXIES = ("naswot", "synflow", "params", "flops")


@pytest.fixture
def images(tmp_path):
    """16 random 32×32 images and 16 random 16×16 images as .npz samples."""
    rng = np.random.default_rng(0)
    paths = {}
    for name, size in (("cifar", 32), ("imagenet16", 16)):
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], x=rng.integers(0, 256, (16, size, size, 3), dtype=np.uint8),
                 y=np.zeros(16, np.int64))
    return paths


def strict_json(line: str) -> dict:
    def reject(constant):
        raise AssertionError(f"{constant} is not valid JSON")
    return json.loads(line, parse_constant=reject)


def run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_json_lines_have_exactly_the_documented_keys(capsys, images):
    code, out, err = run(capsys, "score", "--dataset", "cifar10", "--data", images["cifar"],
                         "--arch", MIXED, "--arch", EMPTY, "--batch-size", 8, "--json")
    assert code == 0 and err == []
    assert len(out) == 2
    mixed, empty = map(strict_json, out)
    for record in (mixed, empty):
        assert set(record) == {"arch", *PROXIES, "seconds"}
        assert set(record["seconds"]) == set(PROXIES)
        assert all(isinstance(s, float) and s >= 0 for s in record["seconds"].values())
    assert mixed["arch"] == MIXED and empty["arch"] == EMPTY
    # NATS-Bench's numbers for these two cells on CIFAR-10 (params exact, MFLOPs as MACs)
    assert mixed["params"] == 129_306 and empty["params"] == 73_306
    assert mixed["flops"] == pytest.approx(15.64737, abs=1e-5)
    assert math.isfinite(mixed["naswot"]) and math.isfinite(mixed["synflow"])
    # the all-`none` cell has no path from input to output: singular K, zero synflow
    assert empty["naswot"] == "-inf" and empty["synflow"] == "-inf"
    assert float(empty["naswot"]) == -math.inf


def test_scores_are_those_of_the_library_on_the_seeded_batch(capsys, images):
    data = images["imagenet16"]
    lines = {}
    for seed in (0, 1):
        code, out, _ = run(capsys, "score", "--dataset", "ImageNet16-120", "--data", data,
                           "--arch", MIXED, "--batch-size", 8, "--seed", seed, "--json")
        assert code == 0
        lines[seed] = strict_json(out[0])
    spec = dataset_spec("ImageNet16-120")
    batch = sample_batch(spec, data, ScoringConfig(seed=1, batch_size=8))
    expected = score_arch(Arch.from_str(MIXED), ScoringRun(spec, 1, "cpu", batch), PROXIES)
    assert lines[1]["naswot"] == expected["naswot"].score
    assert lines[1]["synflow"] == expected["synflow"].score
    assert lines[1]["params"] == 136_456
    assert lines[0]["naswot"] != lines[1]["naswot"]


def test_human_table_names_the_batch_and_one_row_per_arch(capsys, images, tmp_path):
    archs = tmp_path / "archs.txt"
    archs.write_text(f"# two cells\n{MIXED}\n\n  {EMPTY}  \n")
    code, out, err = run(capsys, "score", "--dataset", "cifar100", "--data", images["cifar"],
                         "--archs-file", archs, "--batch-size", 8)
    assert code == 0 and err == []
    fingerprint = sample_batch(dataset_spec("cifar100"), images["cifar"],
                               ScoringConfig(batch_size=8)).fingerprint
    assert out[0].startswith("# cifar100: 8 training images") and fingerprint in out[0]
    assert out[1].split() == ["flops", "naswot", "params", "synflow", "flops_s", "naswot_s",
                              "params_s", "synflow_s", "arch"]
    assert len(out) == 4
    mixed, empty = (row.split() for row in out[2:])
    assert mixed[0] == "15.6532" and mixed[2] == "135,156" and mixed[-1] == MIXED
    assert empty[:4] == ["7.7889", "-inf", "79,156", "-inf"] and empty[-1] == EMPTY


def test_any_registered_proxy_can_be_asked_for(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out, err = run(capsys, "score", "--dataset", "cifar10", "--arch", MIXED,
                         "--proxies", "params", "--json")  # data-free: no images read
    assert code == 0 and err == [] and strict_json(out[0]) == {
        "arch": MIXED, "params": 129_306, "seconds": {"params": pytest.approx(0, abs=0.1)}}
    code, out, err = run(capsys, "score", "--dataset", "cifar10", "--arch", MIXED,
                         "--proxies", "naswot")  # reads images: the default root is fetched
    assert code == 2 and len(err) == 1
    assert err[0].startswith("tfnas: error: cannot reach http://127.0.0.1:9/cifar-10-python")
    assert f"{tmp_path / 'torch' / 'cifar.python' / 'cifar-10-batches-py'} by hand" in err[0]


@pytest.mark.parametrize("argv, message", [
    (["--arch", "|nor_conv_3x3~0|+|none~0|"], "malformed architecture string"),
    (["--arch", MIXED.replace("avg_pool_3x3", "max_pool_3x3")], "unknown op 'max_pool_3x3'"),
    (["--arch", MIXED, "--dataset", "imagenet"], "valid datasets: cifar10, cifar100, "
                                                 "ImageNet16-120"),
    (["--arch", MIXED, "--data", "{tmp}/missing"], "cannot reach http://127.0.0.1:9/"),
    (["--arch", MIXED, "--data", "{tmp}"], "cannot reach http://127.0.0.1:9/"),
    (["--arch", MIXED, "--data", "{tmp}/notes.txt"], "--data {tmp}/notes.txt is a file but not "
                                                     "an .npz sample; give the dataset's root "
                                                     "folder or an .npz file"),
    (["--arch", MIXED, "--batch-size", "17"], "at most 16"),
    (["--arch", MIXED, "--batch-size", "1"], "--batch-size 1 is too small for naswot: it "
                                             "compares the images of a batch"),
    ([], "no architecture given"),
    (["--archs-file", "{tmp}/none.txt"], "--archs-file {tmp}/none.txt does not exist"),
    (["--arch", MIXED, "--seed", "zero"], "argument --seed: must be an integer in "
                                          "0..2147483647, got 'zero'"),
    (["--arch", MIXED, "--seed", "-1"], "argument --seed: must be an integer in 0..2147483647"),
    (["--arch", MIXED, "--seed", "4294967296"], "argument --seed: must be an integer in "
                                                "0..2147483647, got '4294967296'"),
    (["--arch", MIXED, "--proxies", "naswot,,synflow"], "argument --proxies: needs a comma"),
    (["--arch", MIXED, "--proxies", "snip2"], "--proxies: unknown proxy 'snip2'"),
    (["--arch", MIXED, "--proxies", "naswot,params,naswot"],  # scored and printed twice
     "argument --proxies: 'naswot' is listed twice; name each proxy once"),
    (["--arch", MIXED.replace("|+", "\n|+", 1)], "malformed architecture string"),  # "$"
    (["--archs-file", "{tmp}"], "cannot read --archs-file {tmp}: Is a directory"),
    (["--arch", "|" + "x" * 10_000 + "~0|"], "malformed architecture string '|xxxx"),
])
def test_errors_are_one_line_and_exit_2(capsys, images, tmp_path, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    (tmp_path / "notes.txt").write_text("not images\n")
    base = ["score", "--dataset", "cifar10", "--data", str(images["cifar"])]
    code, out, err = run(capsys, *base, *argv)
    assert code == 2 and out == []
    assert len(err) == 1 and err[0].startswith("tfnas: error: ")
    assert message.format(tmp=tmp_path) in err[0]
    assert len(err[0]) < 500  # a 10,000-character argument is not echoed whole


def test_argparse_messages_do_not_echo_a_long_argument_whole(capsys):
    code, _, err = run(capsys, "y" * 10_000)
    assert code == 2 and len(err) == 1 and len(err[0]) < 500
    assert "argument COMMAND: invalid choice: 'yyyyyyyyyyyyyyyyyyyyyyyyyyy...yyy" in err[0]


def test_a_binary_archs_file_is_named(capsys, images, tmp_path):
    binary = tmp_path / "archs.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    code, _, err = run(capsys, "score", "--dataset", "cifar10", "--data", images["cifar"],
                       "--archs-file", binary)
    assert code == 2 and err == [f"tfnas: error: --archs-file {binary} is not a UTF-8 text "
                                 "file; give a text file with one NATS-Bench arch string per "
                                 "line"]


def test_bad_line_of_archs_file_is_named(capsys, images, tmp_path):
    archs = tmp_path / "archs.txt"
    archs.write_text(f"{MIXED}\n|none~0|+oops\n")
    code, _, err = run(capsys, "score", "--dataset", "cifar10", "--data", images["cifar"],
                       "--archs-file", archs)
    assert code == 2 and err[0].startswith(f"tfnas: error: --archs-file {archs}:2: malformed")


def test_console_process_reports_one_line_and_status_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tfnas.cli", "score", "--dataset", "cifar10",
                           "--data", str(tmp_path), "--arch", MIXED],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "cannot reach http://127.0.0.1:9/cifar-10-python.tar.gz" in done.stderr
    assert "cs.toronto.edu/~kriz/cifar.html" in done.stderr  # where to get it by hand


def test_real_cifar10_sample(capsys, shared_data):
    code, out, _ = run(capsys, "score", "--dataset", "cifar10", "--data",
                       shared_data / "images" / "cifar10_sample.npz", "--arch", MIXED,
                       "--batch-size", 16, "--json")
    record = strict_json(out[0])
    assert code == 0 and math.isfinite(record["naswot"]) and record["params"] == 129_306


def test_duplicate_proxies_are_refused_by_the_registry_check():
    """`tfnas score` and the pipeline (its --proxies) validate names with check_proxies."""
    from tfnas import proxies

    with pytest.raises(ValueError, match="^--proxies: 'naswot' is listed twice; name each "
                                         "proxy once$"):
        proxies.check_proxies(["naswot", "params", "naswot"])
    assert proxies.check_proxies(["params", "naswot"]) == ("naswot", "params")


# --- --db of every command: refused before it is opened ---------------------------------------

def test_db_init_on_a_named_pipe_is_refused_at_once(tmp_path):
    """Was: DuckDB opened a FIFO and waited for a writer forever."""
    fifo = tmp_path / "db.fifo"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "tfnas.cli", "db", "init", "--db", "db.fifo"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("tfnas: error: argument --db: 'db.fifo' is a named pipe, not a "
                           "database file; give a DuckDB file (`tfnas db init --db FILE` "
                           "creates one) (see 'tfnas db init -h')\n")


@pytest.mark.parametrize("argv", [["db", "init"], ["db", "ensemble", "ens_x", "--method",
                                                   "mean_rank", "--members", "naswot,synflow"],
                                  ["sql", "-"], ["tables"], ["correlations"], ["plot"]])
def test_every_command_refuses_a_db_that_is_not_a_regular_file(tmp_path, capsys, monkeypatch,
                                                                argv):
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "db.fifo")
    (tmp_path / "db.folder").mkdir()
    for db, kind in (("db.fifo", "a named pipe"), ("db.folder", "a folder")):
        code, out, err = run(capsys, *argv, "--db", db)
        assert code == 2 and out == [] and len(err) == 1
        assert err[0].startswith(f"tfnas: error: argument --db: '{db}' is {kind}, not a "
                                 "database file; give a DuckDB file")


def test_writing_commands_check_the_db_can_be_written_before_opening_it(tmp_path, capsys,
                                                                         monkeypatch):
    """Write failures say "cannot write", before any work (DuckDB's own error on opening a
    read-only file was reported as "database ... cannot be read")."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("a file\n")
    code, _, err = run(capsys, "db", "init", "--db", "file.txt/t.duckdb")
    assert code == 2 and err == ["tfnas: error: --db: cannot write in file.txt (file.txt is not "
                                 "a folder); choose a folder you can write"]
    assert main(["db", "init", "--db", "t.duckdb"]) == 0
    stored = (tmp_path / "t.duckdb").read_bytes()
    capsys.readouterr()
    real_access = os.access  # as for a user who may not write the file (root always may)
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if (
        str(path) == "t.duckdb" and mode & os.W_OK) else real_access(path, mode, **kw))
    for argv in (["db", "init"], ["db", "ensemble", "ens_x", "--method", "mean_rank",
                                  "--members", "naswot,synflow"]):
        code, out, err = run(capsys, *argv, "--db", "t.duckdb")
        assert code == 2 and out == [] and err == [
            "tfnas: error: --db: cannot write database t.duckdb: it is read-only (or not "
            "yours); make it writable or give another --db"]
    assert (tmp_path / "t.duckdb").read_bytes() == stored


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway; the test "
                                              "above simulates it")
def test_a_read_only_database_is_not_written(tmp_path, capsys):
    database = tmp_path / "t.duckdb"
    assert main(["db", "init", "--db", str(database)]) == 0
    database.chmod(0o444)
    capsys.readouterr()
    code, _, err = run(capsys, "db", "init", "--db", database)
    assert code == 2 and err[0].startswith(f"tfnas: error: --db: cannot write database {database}")
