"""Importing NATS-Bench: the official fast-mode files (through nats_bench) and accuracy tables."""

import itertools
import math
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from nats_bench import ArchResults, ResultsCount, pickle_save

import db
from db.benchmark import NATS_TSS, TABLE_COLUMNS
from tfnas.space import NUM_ARCHS, Arch

# A small benchmark in NATS-Bench's fast-mode layout: meta.pickle.pbz2 + {index:06d}.pickle.pbz2,
# each holding {"12": ArchResults state, "200": ArchResults state} as tss-collect.py writes them.
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
    "nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|",
]
EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("x-valid", "x-test", "ori-test"),
             "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
SEEDS = {12: (777,), 200: (777, 888)}
PARAMS_M = {"cifar10": 1.531546, "cifar100": 1.537396, "ImageNet16-120": 1.538696}
RUN_OFFSET = {"cifar10-valid": 0, "cifar10": 1, "cifar100": 2, "ImageNet16-120": 3}
SET_OFFSET = {"train": 0.5, "x-valid": 0.25, "x-test": 0.125, "ori-test": 0.0625}


def final_accuracy(index, run, setname, epochs, seed):
    """Distinct number for each cell; seeds differ so a mean is told apart from one seed."""
    return 5 * index + 10 * RUN_OFFSET[run] + SET_OFFSET[setname] + epochs / 20 + seed / 1000


def _result(index, arch_str, run, epochs, seed):
    def per_epoch(setname):  # earlier epochs carry junk; only the last one is reported
        return {e: (final_accuracy(index, run, setname, epochs, seed) if e == epochs - 1
                    else -1.0) for e in range(epochs)}

    dataset = "cifar10" if run == "cifar10-valid" else run
    result = ResultsCount(run, None, per_epoch("train"), per_epoch("train"),
                          PARAMS_M[dataset] - index / 1e6, 220.0 - index, {"arch_str": arch_str},
                          seed, epochs, [0.01 * (index + 1)])
    accs, times = {}, {}
    for setname in EVAL_SETS[run]:
        for e, acc in per_epoch(setname).items():
            accs[f"{setname}@{e}"], times[f"{setname}@{e}"] = acc, 0.1
    result.update_eval(accs, accs, times)
    return result


def write_nats_dir(directory: Path, archs=ARCHS) -> Path:
    directory.mkdir(parents=True)
    pickle_save({"meta_archs": list(archs), "total_archs": len(archs), "arch2infos": None,
                 "evaluated_indexes": set()}, str(directory / "meta.pickle"))
    for index, arch_str in enumerate(archs):
        per_hp = {}
        for epochs, seeds in SEEDS.items():
            results = ArchResults(index, arch_str)
            for run, seed in itertools.product(EVAL_SETS, seeds):
                results.update(run, seed, _result(index, arch_str, run, epochs, seed))
            per_hp[str(epochs)] = results.state_dict()
        pickle_save(per_hp, str(directory / f"{index:06d}.pickle"))
    return directory


def query(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


@pytest.fixture
def engine(tmp_path):
    engine = db.connect(tmp_path / "tfnas.duckdb")
    db.create_schema(engine)
    yield engine
    engine.dispose()


def test_official_fast_mode_directory(engine, tmp_path):
    directory = write_nats_dir(tmp_path / f"{NATS_TSS}-simple")
    rows = db.import_benchmark(engine, directory)
    # per arch and schedule: cifar10-valid train/valid/test, cifar10 train/test, 2 × 3 others
    assert rows == len(ARCHS) * 2 * 11
    stored = {(r.arch_code, r.training_run, r.epochs, r.split): r for r in query(
        engine, "SELECT * FROM accuracies")}
    assert len(stored) == rows
    splits = {"train": "train", "valid": "x-valid"}
    for index, arch_str in enumerate(ARCHS):
        code = Arch.from_str(arch_str).code
        for epochs, run in itertools.product(SEEDS, EVAL_SETS):
            for split in ("train", "valid", "test"):
                setname = splits.get(split, "x-test" if run in ("cifar100", "ImageNet16-120")
                                     else "ori-test")
                if setname not in ("train", *EVAL_SETS[run]):
                    assert (code, run, epochs, split) not in stored
                    continue
                row = stored[code, run, epochs, split]
                seeds = SEEDS[epochs]
                expected = sum(final_accuracy(index, run, setname, epochs, s)
                               for s in seeds) / len(seeds)
                assert row.accuracy_pct == pytest.approx(expected, abs=1e-9)
                assert row.num_seeds == len(seeds)
                assert row.aggregation == ("single_seed" if len(seeds) == 1
                                           else "mean_over_seeds")
                assert row.dataset == ("cifar10" if run == "cifar10-valid" else run)
                assert row.source == f"nats-bench:{NATS_TSS}-simple"
    indices = dict(query(engine, "SELECT arch_str, arch_index FROM architectures "
                                 "WHERE arch_index IS NOT NULL"))
    assert indices == {arch_str: i for i, arch_str in enumerate(ARCHS)}
    costs = query(engine, "SELECT a.arch_index, c.dataset, c.params, c.flops_m, c.latency_s "
                          "FROM costs c JOIN architectures a USING (arch_code) "
                          "WHERE c.source = 'nats-bench' ORDER BY 1, 2")
    assert len(costs) == len(ARCHS) * 3
    for index, dataset, params, flops, latency in costs:
        assert params == round((PARAMS_M[dataset] - index / 1e6) * 1e6)
        assert flops == pytest.approx(220.0 - index)
        assert latency == pytest.approx(0.01 * (index + 1))
    # the benchmark's all-3x3 params agree with the project's own count
    assert query(engine, "SELECT DISTINCT c.params FROM costs c JOIN architectures a "
                         "USING (arch_code) WHERE a.arch_index = 0 AND c.dataset = 'cifar10'"
                 ) == [(1531546,)]
    assert db.import_benchmark(engine, directory) == rows  # re-import replaces, adds nothing
    assert query(engine, "SELECT count(*) FROM accuracies") == [(rows,)]


def test_default_location_is_torch_home(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(FileNotFoundError, match=f"no NATS-Bench benchmark at .*{NATS_TSS}-simple"
                                                ".*nats_tss_accuracy.csv"):
        db.import_benchmark(engine)
    write_nats_dir(tmp_path / "torch" / f"{NATS_TSS}-simple", ARCHS[:1])
    assert db.import_benchmark(engine) == 22


def test_missing_architecture_file_is_named(engine, tmp_path):
    directory = write_nats_dir(tmp_path / "bench")
    (directory / "000001.pickle.pbz2").unlink()
    with pytest.raises(FileNotFoundError, match="lacks 000001.pickle.pbz2 \\(architecture 1\\)"):
        db.import_benchmark(engine, directory)
    assert query(engine, "SELECT count(*) FROM accuracies") == [(0,)]


def test_not_a_benchmark_directory(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no meta.pickle.pbz2"):
        db.import_benchmark(engine, tmp_path / "empty")
    (tmp_path / "bench.txt").write_text("x")
    with pytest.raises(ValueError, match="cannot import .*bench.txt"):
        db.import_benchmark(engine, tmp_path / "bench.txt")


def _small_table(n=4):
    archs = [Arch.from_code(code) for code in (0, 1, 777, NUM_ARCHS - 1)][:n]
    table = pd.DataFrame({"arch_index": [10, 11, 12, 13][:n], "arch_str": [str(a) for a in archs]})
    for k, column in enumerate(TABLE_COLUMNS):
        table[column] = [50.0 + k + i / 4 for i in range(n)]
    return archs, table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_import(engine, tmp_path, suffix):
    archs, table = _small_table()
    table.loc[2, "cifar100_test_acc_12ep"] = math.nan  # unknown: no row
    path = tmp_path / f"table{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    assert db.import_benchmark(engine, path) == 4 * 6 - 1
    rows = query(engine, "SELECT a.arch_index, c.dataset, c.training_run, c.epochs, c.split, "
                         "c.accuracy_pct, c.aggregation, c.num_seeds, c.source "
                         "FROM accuracies c JOIN architectures a USING (arch_code) "
                         "WHERE a.arch_index = 12 AND c.dataset = 'ImageNet16-120' ORDER BY 4")
    assert rows == [(12, "ImageNet16-120", "ImageNet16-120", 12, "test", 50.0 + 5 + 0.5,
                     "single_seed", 1, f"table:table{suffix}"),
                    (12, "ImageNet16-120", "ImageNet16-120", 200, "test", 50.0 + 4 + 0.5,
                     "mean_over_seeds", None, f"table:table{suffix}")]
    assert query(engine, "SELECT arch_code FROM architectures WHERE arch_index = 13") == [
        (archs[3].code,)]
    assert query(engine, "SELECT count(*) FROM costs WHERE source = 'tfnas'") == [(NUM_ARCHS * 3,)]


def test_table_with_bad_arch_string_or_columns(engine, tmp_path):
    _, table = _small_table()
    table.loc[1, "arch_str"] = table.loc[1, "arch_str"].replace("none~0", "conv~0", 1)
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv: malformed architecture string .*'conv'"):
        db.import_benchmark(engine, tmp_path / "bad.csv")
    _, table = _small_table()
    table.rename(columns={"cifar10_test_acc_12ep": "cifar10_valid_acc_12ep"}).to_csv(
        tmp_path / "cols.csv", index=False)
    with pytest.raises(ValueError, match="cols.csv has columns .*expected arch_index, arch_str"):
        db.import_benchmark(engine, tmp_path / "cols.csv")


def test_a_differently_numbered_benchmark_is_refused(engine, tmp_path):
    _, table = _small_table()
    table.to_csv(tmp_path / "a.csv", index=False)
    db.import_benchmark(engine, tmp_path / "a.csv")
    table["arch_index"] = table["arch_index"][::-1].to_numpy()
    table.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(ValueError, match="numbers the architectures differently"):
        db.import_benchmark(engine, tmp_path / "b.csv")


def test_real_nats_table(engine, shared_data):
    table = shared_data / "nats_tss_accuracy.csv"
    assert db.import_benchmark(engine, table) == NUM_ARCHS * 6
    best = query(engine, "SELECT c.dataset, max(c.accuracy_pct), arg_max(a.arch_index, "
                         "c.accuracy_pct) FROM accuracies c JOIN architectures a "
                         "USING (arch_code) WHERE c.epochs = 200 AND c.split = 'test' "
                         "GROUP BY 1 ORDER BY 1")
    assert [(d, round(acc, 2), i) for d, acc, i in best] == [
        ("ImageNet16-120", 47.31, 857), ("cifar10", 94.37, 6111), ("cifar100", 73.51, 9930)]
    assert query(engine, "SELECT count(arch_index), count(DISTINCT arch_index) "
                         "FROM architectures") == [(NUM_ARCHS, NUM_ARCHS)]
    assert query(engine, "SELECT arch_str FROM architectures WHERE arch_index = 0") == [
        ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
         "skip_connect~2|",)]
    costs = query(engine, "SELECT c.dataset, c.params, round(c.flops_m, 5) FROM costs c "
                          "JOIN architectures a USING (arch_code) WHERE c.source = 'tfnas' AND "
                          "a.edge_1_0 = 'nor_conv_3x3' AND a.edge_2_0 = 'nor_conv_3x3' AND "
                          "a.edge_2_1 = 'nor_conv_3x3' AND a.edge_3_0 = 'nor_conv_3x3' AND "
                          "a.edge_3_1 = 'nor_conv_3x3' AND a.edge_3_2 = 'nor_conv_3x3' "
                          "ORDER BY 1")
    assert costs == [("ImageNet16-120", 1538696, 55.03756), ("cifar10", 1531546, 220.11969),
                     ("cifar100", 1537396, 220.12554)]
    db.import_benchmark(engine, table)  # idempotent
    assert query(engine, "SELECT count(*) FROM accuracies") == [(NUM_ARCHS * 6,)]
