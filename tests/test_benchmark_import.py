"""Importing NATS-Bench: the official fast-mode files (through nats_bench), accuracy tables and
the table embedded in tfnas, each validated against the search space and NATS-Bench's index."""

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import PathEngine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nats_bench import ArchResults, ResultsCount, pickle_save

import db
from db.benchmark import (
    EMBEDDED_SOURCE,
    NATS_TSS,
    TABLE_COLUMNS,
    check_source,
    default_source,
    is_embedded,
    is_imported,
    nats_bench_index,
    read_nats_bench,
    validate_index,
)
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
    return 5 * (index % 7) + 10 * RUN_OFFSET[run] + SET_OFFSET[setname] + epochs / 20 + seed / 1000


def _result(index, arch_str, run, epochs, seed):
    def per_epoch(setname):  # earlier epochs carry junk; only the last one is reported
        return {e: (final_accuracy(index, run, setname, epochs, seed) if e == epochs - 1
                    else -1.0) for e in range(epochs)}

    dataset = "cifar10" if run == "cifar10-valid" else run
    result = ResultsCount(run, None, per_epoch("train"), per_epoch("train"),
                          PARAMS_M[dataset] - index / 1e6, 220.0 - index / 100,
                          {"arch_str": arch_str},
                          seed, epochs, [0.01 * (index + 1)])
    accs, times = {}, {}
    for setname in EVAL_SETS[run]:
        for e, acc in per_epoch(setname).items():
            accs[f"{setname}@{e}"], times[f"{setname}@{e}"] = acc, 0.1
    result.update_eval(accs, accs, times)
    return result


def real_index(arch_str: str) -> int:
    index = nats_bench_index()
    return int(index[index == arch_str].index[0])


INDICES = [real_index(a) for a in ARCHS]


def write_nats_dir(directory: Path, archs=ARCHS) -> Path:
    """The real meta list of all 15,625 architectures, and result files for ``archs`` (at
    their real NATS-Bench indices, with made-up accuracies)."""
    directory.mkdir(parents=True)
    meta = list(nats_bench_index())
    pickle_save({"meta_archs": meta, "total_archs": len(meta), "arch2infos": None,
                 "evaluated_indexes": set()}, str(directory / "meta.pickle"))
    for arch_str in archs:
        index = real_index(arch_str)
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
    engine = PathEngine(tmp_path / "tfnas.duckdb")
    db.create_schema(engine)
    return engine


def test_official_fast_mode_directory(engine, tmp_path):
    directory = write_nats_dir(tmp_path / f"{NATS_TSS}-simple")
    rows = db.import_benchmark(engine, directory, indices=INDICES)
    # per arch and schedule: cifar10-valid train/valid/test, cifar10 train/test, 2 × 3 others
    assert rows == len(ARCHS) * 2 * 11
    stored = {(r.arch_code, r.training_run, r.epochs, r.split): r for r in query(
        engine, "SELECT * FROM accuracies")}
    assert len(stored) == rows
    splits = {"train": "train", "valid": "x-valid"}
    for arch_str in ARCHS:
        index, code = real_index(arch_str), Arch.from_str(arch_str).code
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
    assert len(indices) == NUM_ARCHS and all(indices[a] == real_index(a) for a in ARCHS)
    costs = query(engine, "SELECT a.arch_index, c.dataset, c.params, c.flops_m, c.latency_s "
                          "FROM costs c JOIN architectures a USING (arch_code) "
                          "WHERE c.source = 'nats-bench' ORDER BY 1, 2")
    assert len(costs) == len(ARCHS) * 3
    for index, dataset, params, flops, latency in costs:
        assert params == round((PARAMS_M[dataset] - index / 1e6) * 1e6)
        assert flops == pytest.approx(220.0 - index / 100)
        assert latency == pytest.approx(0.01 * (index + 1))
    assert db.import_benchmark(engine, directory, indices=INDICES) == rows  # replaces
    assert query(engine, "SELECT count(*) FROM accuracies") == [(rows,)]


def test_the_real_official_files(engine, shared_data):
    """The four real files of NATS-tss-v1_0-3ffb9-simple: meta and architectures 0, 11, 284."""
    directory = shared_data / "nats_bench_official" / f"{NATS_TSS}-simple"
    benchmark = read_nats_bench(directory, indices=[0, 11, 284])
    assert len(benchmark.codes) == NUM_ARCHS  # the whole index, validated
    acc = benchmark.accuracies.set_index(["arch_code", "training_run", "epochs", "split"])
    table = pd.read_csv(shared_data / "nats_tss_accuracy.csv").set_index("arch_index")
    for index in (0, 11, 284):
        code = Arch.from_str(table.loc[index, "arch_str"]).code
        for column, (dataset, epochs) in TABLE_COLUMNS.items():
            # the shared table rounds to 4 decimals; the official files hold the exact mean
            assert acc.loc[(code, dataset, epochs, "test"), "accuracy_pct"] == pytest.approx(
                table.loc[index, column], abs=5e-5), (index, column)
    code0 = Arch.from_str(table.loc[0, "arch_str"]).code
    assert acc.loc[(code0, "cifar10", 200, "test"), "accuracy_pct"] == pytest.approx(85.8633)
    assert acc.loc[(code0, "cifar10", 12, "test"), "accuracy_pct"] == pytest.approx(69.55)
    assert (acc.loc[(code0, "cifar10-valid", 200, "valid"), "num_seeds"]) >= 2
    assert db.import_benchmark(engine, directory, indices=[0, 11, 284]) == len(acc)
    with pytest.raises(FileNotFoundError, match=r"lacks 15,622 of the 15,625 architecture files "
                                                r"\(first: 000001.pickle.pbz2\)"):
        db.import_benchmark(engine, directory)


def test_default_is_the_official_directory_if_present_else_the_embedded_table(
        engine, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert is_embedded(default_source())
    assert db.import_benchmark(engine) == NUM_ARCHS * 6
    assert query(engine, "SELECT DISTINCT source FROM accuracies") == [(EMBEDDED_SOURCE,)]
    assert is_imported(tmp_path / "tfnas.duckdb", default_source())
    write_nats_dir(tmp_path / "torch" / f"{NATS_TSS}-simple", ARCHS[:1])
    assert default_source() == tmp_path / "torch" / f"{NATS_TSS}-simple"


def test_the_embedded_table_is_the_shared_one(shared_data):
    embedded = pd.read_parquet(str(db.benchmark.EMBEDDED))
    shared = pd.read_csv(shared_data / "nats_tss_accuracy.csv")
    pd.testing.assert_frame_equal(embedded.astype({"arch_index": int}), shared,
                                  check_dtype=False)
    assert (embedded["arch_str"].to_numpy() == shared["arch_str"].to_numpy()).all()


def test_an_import_is_complete_only_while_the_database_holds_its_rows(engine, tmp_path,
                                                                      shared_data):
    table = shared_data / "nats_tss_accuracy.csv"
    path = tmp_path / "tfnas.duckdb"
    assert not is_imported(path, table)
    db.import_benchmark(engine, table)
    assert is_imported(path, table)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM accuracies WHERE arch_code < 10"))
    assert not is_imported(path, table)
    other = tmp_path / "nats_tss_accuracy.csv"
    other.write_bytes(table.read_bytes() + b"\n")
    assert not is_imported(path, other)  # same name, other content


def test_missing_architecture_file_is_named(engine, tmp_path):
    directory = write_nats_dir(tmp_path / "bench")
    (directory / f"{INDICES[1]:06d}.pickle.pbz2").unlink()
    with pytest.raises(FileNotFoundError, match=f"lacks {INDICES[1]:06d}.pickle.pbz2 "
                                                f"\\(architecture {INDICES[1]}\\)"):
        db.import_benchmark(engine, directory, indices=INDICES)
    with pytest.raises(FileNotFoundError, match="lacks 15,623 of the 15,625"):
        check_source(directory)
    assert query(engine, "SELECT count(*) FROM accuracies") == [(0,)]


def test_not_a_benchmark(engine, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no meta.pickle.pbz2"):
        db.import_benchmark(engine, tmp_path / "empty")
    (tmp_path / "bench.txt").write_text("x")
    with pytest.raises(ValueError, match="--benchmark .*bench.txt: pass the NATS-Bench"):
        db.import_benchmark(engine, tmp_path / "bench.txt")
    with pytest.raises(FileNotFoundError, match="--benchmark .*nowhere does not exist"):
        db.import_benchmark(engine, tmp_path / "nowhere")


def full_table(rng_seed=0):
    """A 15,625-row table in NATS-Bench's index order with made-up accuracies."""
    index = nats_bench_index()
    table = pd.DataFrame({"arch_index": index.index, "arch_str": index.to_numpy()})
    rng = np.random.default_rng(rng_seed)
    for column in TABLE_COLUMNS:
        table[column] = rng.uniform(10, 90, NUM_ARCHS).round(2)
    return table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_import(engine, tmp_path, suffix):
    table = full_table()
    table.loc[2, "cifar100_test_acc_12ep"] = math.nan  # unknown: no row
    path = tmp_path / f"table{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    assert db.import_benchmark(engine, path) == NUM_ARCHS * 6 - 1
    rows = query(engine, "SELECT c.epochs, c.split, c.accuracy_pct, c.aggregation, "
                         "c.num_seeds, c.source FROM accuracies c JOIN architectures a "
                         "USING (arch_code) WHERE a.arch_index = 12 AND "
                         "c.dataset = 'ImageNet16-120' ORDER BY 1")
    assert rows == [(12, "test", table.loc[12, "imagenet16_120_test_acc_12ep"], "single_seed",
                     1, f"table:table{suffix}"),
                    (200, "test", table.loc[12, "imagenet16_120_test_acc_200ep"],
                     "mean_over_seeds", None, f"table:table{suffix}")]
    assert query(engine, "SELECT arch_str FROM architectures WHERE arch_index = 13") == [
        (table.loc[13, "arch_str"],)]


def _refusals():
    """Broken tables (issue: each was accepted and stored a wrong index ↔ arch mapping)."""
    swapped = full_table()
    swapped.loc[[5, 9], "arch_str"] = swapped.loc[[9, 5], "arch_str"].to_numpy()
    shifted = full_table().assign(arch_index=lambda t: t["arch_index"] + 100000)
    fractional = full_table().astype({"arch_index": float})
    fractional.loc[7, "arch_index"] = 7.5
    short = full_table().head(100)
    bad_string = full_table()
    bad_string.loc[3, "arch_str"] = bad_string.loc[3, "arch_str"].replace("~0|", "~1|", 1)
    return {
        "swapped": (swapped, r"2 rows disagree with NATS-Bench's index \(first: arch_index 5"),
        "shifted": (shifted, r"arch_index outside 0..15624 in 15625 rows \(first: 100000\)"),
        "fractional": (fractional, r"arch_index is not an integer in 1 rows \(first: row 7, "
                                   r"7.5\)"),
        "short": (short, r"has 100 architectures, not 15,625"),
        "bad string": (bad_string, r"1 rows disagree with NATS-Bench's index \(first: "
                                   r"arch_index 3"),
    }


@pytest.mark.parametrize("case", list(_refusals()))
def test_a_table_that_disagrees_with_the_space_is_refused(engine, tmp_path, case):
    table, message = _refusals()[case]
    path = tmp_path / "broken.csv"
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match=message) as err:
        db.import_benchmark(engine, path)
    assert "broken.csv" in str(err.value) and "\n" not in str(err.value)
    assert "meta_archs order" in str(err.value)
    assert query(engine, "SELECT count(*) FROM accuracies") == [(0,)]
    assert query(engine, "SELECT count(arch_index) FROM architectures") == [(0,)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, NUM_ARCHS - 1),
                                st.sampled_from(["index", "string", "drop", "float"]),
                                st.integers(-5, 20000)), min_size=1, max_size=4))
@example(edits=[(0, "drop", 0), (15624, "index", 0)])  # a row past a shortened listing
@example(edits=[(0, "drop", 0), (15624, "float", 0)])
@example(edits=[(0, "drop", 0), (0, "string", -1)])
def test_validator_property_mutated_listings_are_refused_or_exact(edits):
    """Random edits of the real listing: a one-line ValueError, or (edits that restore the
    same listing) exactly the real mapping — never a wrong mapping, never another error."""
    index = nats_bench_index()
    indices, strings = list(index.index), list(index.to_numpy())
    for row, kind, value in edits:
        row %= len(indices)  # an earlier "drop" shortens the listing
        if kind == "index":
            indices[row] = value
        elif kind == "string":
            strings[row] = strings[value % len(strings)]
        elif kind == "float":
            indices[row] = indices[row] + (value % 7) / 7
        elif len(indices) > 1:
            del indices[row], strings[row]
    try:
        codes = validate_index(indices, strings, "t.csv")
    except ValueError as err:
        assert "\n" not in str(err) and str(err).startswith("t.csv")
        return
    expected = {i: Arch.from_str(s).code for i, s in index.items()}
    assert dict(zip(codes["arch_index"], codes["arch_code"], strict=True)) == expected


def test_table_with_bad_columns(engine, tmp_path):
    full_table().rename(columns={"cifar10_test_acc_12ep": "cifar10_valid_acc_12ep"}).to_csv(
        tmp_path / "cols.csv", index=False)
    with pytest.raises(ValueError, match="cols.csv has columns .*expected arch_index, arch_str"):
        db.import_benchmark(engine, tmp_path / "cols.csv")


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
    db.import_benchmark(engine, table)  # idempotent
    assert query(engine, "SELECT count(*) FROM accuracies") == [(NUM_ARCHS * 6,)]
