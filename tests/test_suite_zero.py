"""NAS-Bench-Suite-Zero in and out (db/suite_zero.py, `tfnas db import/export --format
suite-zero`), checked against the real extracts in ../shared/data/suite_zero/: the key mapping
must make Suite-Zero's data-free scores rank architectures as tfnas's own do."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from db.read import read_scores
from db.suite_zero import (
    EDGE_POSITION,
    FAILED,
    NASLIB_NAMES,
    SUITE_ZERO_PROXIES,
    arch_to_key,
    config_of,
    key_to_arch,
    naslib_name,
    read_suite_zero,
    tfnas_name,
    to_naslib_score,
    to_tfnas_score,
)
from tfnas.cli import main
from tfnas.errors import UserError
from tfnas.proxies import ALIASES, check_proxies, names, resolve
from tfnas.space import NUM_ARCHS, Arch

RELEASED = "zc_nasbench201_sample.json"
FLAT = "zc_nasbench201_flat_sample.json"
NASLIB_TYPED = ("nwot", "jacob_cov", "jacov", "grad_norm", "snip", "grasp", "fisher", "synflow",
                "l2_norm", "params", "flops", "zen", "plain", "epe_nas")


# --- pure conversions --------------------------------------------------------------------------

def test_naslib_key_maps_to_the_nats_bench_string_by_naslib_edge_order():
    # NASLib conversions.py: edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4); ops 0 skip, 1 none,
    # 2 conv3x3, 3 conv1x1, 4 avg_pool; |a~0|+|b~0|c~1|+|d~0|e~1|f~2| with a=(1,2), b=(1,3),
    # c=(2,3), d=(1,4), e=(2,4), f=(3,4)
    assert EDGE_POSITION == (0, 1, 3, 2, 4, 5)
    arch = key_to_arch("(1, 2, 3, 4, 0, 1)")
    assert str(arch) == ("|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_1x1~0|"
                         "skip_connect~1|none~2|")
    assert arch_to_key(arch) == "(1, 2, 3, 4, 0, 1)"
    assert str(key_to_arch("(0, 0, 0, 0, 0, 0)")) == ("|skip_connect~0|+|skip_connect~0|"
                                                      "skip_connect~1|+|skip_connect~0|"
                                                      "skip_connect~1|skip_connect~2|")


def test_every_architecture_has_one_key_and_back():
    keys = {arch_to_key(Arch.from_code(code)) for code in range(NUM_ARCHS)}
    assert len(keys) == NUM_ARCHS
    assert all(key == str(tuple(int(i) for i in key[1:-1].split(", "))) for key in keys)
    assert {key_to_arch(key).code for key in keys} == set(range(NUM_ARCHS))


@given(st.integers(0, NUM_ARCHS - 1))
def test_key_round_trip(code):
    arch = Arch.from_code(code)
    assert key_to_arch(arch_to_key(arch)) == arch
    assert key_to_arch(arch_to_key(arch).replace(" ", "")) == arch  # spacing is not meaning


@pytest.mark.parametrize("key", ["(0, 5, 0, 0, 0, 0)", "(0, 1, 2)", "[0, 1, 2, 3, 4, 0]",
                                 "(0, 1, 2, 3, 4, -1)", "|none~0|", "(0, 1, 2, 3, 4, 0, 1)"])
def test_a_key_that_is_no_architecture_is_refused(key):
    with pytest.raises(UserError, match="is not a NAS-Bench-201 architecture"):
        key_to_arch(key)


@given(st.sampled_from(SUITE_ZERO_PROXIES))
def test_proxy_names_round_trip(name):
    proxy = tfnas_name(name)
    assert proxy in names()  # every Suite-Zero proxy is a registered tfnas proxy
    assert naslib_name(proxy) == name


@given(st.lists(st.sampled_from(NASLIB_TYPED + tuple(names())), unique=True, min_size=1))
def test_aliases_resolve_wherever_a_proxy_is_named(typed):
    targets = [resolve(name) for name in typed]
    if len(set(targets)) < len(targets):  # an alias and its proxy: named twice
        with pytest.raises(UserError, match="both name|listed twice"):
            check_proxies(typed)
    else:
        assert check_proxies(typed) == check_proxies(targets)
        assert set(check_proxies(typed)) == set(targets) <= set(names())


def test_alias_table():
    assert ALIASES == {"nwot": "naswot", "jacob_cov": "jacov"}
    assert not set(ALIASES) & set(names()) and set(ALIASES.values()) <= set(names())
    assert NASLIB_NAMES["naswot"] == "nwot" and naslib_name("meco") is None
    assert tfnas_name("jacob_cov") == "jacov" and tfnas_name("unknown_proxy") is None


@given(st.sampled_from(sorted(NASLIB_NAMES)),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6))
def test_scores_round_trip(proxy, value):
    if proxy == "params":  # millions with 6 decimals in the file = a count in tfnas
        value = round(abs(value)) / 1e6
    assert to_naslib_score(proxy, to_tfnas_score(proxy, value)) == value


def test_units_signs_and_failures():
    assert to_tfnas_score("params", 1.045466) == 1045466.0
    assert to_tfnas_score("plain", 0.118) == -0.118  # tfnas stores plain negated
    assert to_tfnas_score("jacov", -32.3) == -32.3 and to_tfnas_score("flops", 151.2) == 151.2
    assert to_tfnas_score("epe_nas", FAILED) == -math.inf
    assert to_naslib_score("synflow", -math.inf) == FAILED


# --- the real extracts -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(shared_data):
    folder = shared_data / "suite_zero"
    if not (folder / RELEASED).is_file():
        pytest.skip(f"the Suite-Zero extracts are not in {folder}")
    return folder


@pytest.fixture(scope="module")
def database(files, tmp_path_factory):
    """A fresh `tfnas db init` with both extracts imported."""
    path = tmp_path_factory.mktemp("suite_zero") / "t.duckdb"
    assert main(["db", "init", "--db", str(path)]) == 0
    for name in (RELEASED, FLAT):
        assert main(["db", "import", "--format", "suite-zero", str(files / name),
                     "--db", str(path)]) == 0
    return path


def _fingerprint(path):
    return "suite-zero:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_both_layouts_are_recognised(files):
    released, flat = read_suite_zero(files / RELEASED), read_suite_zero(files / FLAT)
    assert (released.layout, flat.layout) == ("released", "flat")
    assert len(released.rows) == 3 * 50 * 12 and len(flat.rows) == 3 * 50 * 11  # flat: no nwot
    assert all(math.isnan(row.seconds) for row in flat.rows)
    assert not released.skipped and not flat.skipped


def _tfnas_scores(database):
    conn = duckdb.connect(str(database), read_only=True)
    try:
        rows = conn.execute("SELECT dataset, proxy, arch_code, score FROM default_scores"
                            ).fetchall()
    finally:
        conn.close()
    return {(d, p, c): s for d, p, c, s in rows}


@pytest.mark.parametrize("name", [RELEASED, FLAT])
def test_the_mapping_is_right_on_the_data(files, database, name):
    """Suite-Zero's params are tfnas's parameter counts exactly, and its data-free proxies rank
    like tfnas's; with NASLib's edges (1,4) and (2,3) swapped, Synflow would not."""
    ours = _tfnas_scores(database)
    data = read_suite_zero(files / name)
    pairs: dict = {}
    for row in data.rows:
        proxy = tfnas_name(row.proxy)
        if proxy == "params":  # exactly the NATS-Bench count, every architecture
            assert round(row.value * 1e6) == ours[row.dataset, "params", row.arch_code]
        swapped = list(row.key[1:-1].split(", "))
        swapped[2], swapped[3] = swapped[3], swapped[2]
        wrong = key_to_arch("(" + ", ".join(swapped) + ")").code
        if (row.dataset, proxy, row.arch_code) in ours:
            pairs.setdefault((row.dataset, proxy), []).append(
                (to_tfnas_score(proxy, row.value), ours[row.dataset, proxy, row.arch_code],
                 ours[row.dataset, proxy, wrong]))
    rho = {key: (stats.spearmanr(a, b)[0], stats.spearmanr(a, w)[0])
           for key, (a, b, w) in ((k, zip(*v, strict=True)) for k, v in pairs.items())}
    for (dataset, proxy), (right, wrong) in rho.items():
        floor = {"params": 0.9999, "synflow": 0.995, "naswot": 0.99, "flops": 0.99,
                 "l2_norm": 0.9}[proxy]
        assert right > floor, (dataset, proxy, right)
        if proxy in ("synflow", "naswot"):  # depend on where each op sits
            assert wrong < 0.97, (dataset, proxy, wrong)
    assert {p for _, p in rho} == ({"params", "flops", "synflow", "l2_norm", "naswot"} if
                                   name == RELEASED else {"params", "flops", "synflow",
                                                          "l2_norm"})


def test_import_prints_the_agreement_and_the_query_agrees(files, database, capsys, tmp_path):
    copy = tmp_path / "c.duckdb"
    shutil.copy(database, copy)
    assert main(["db", "import", "--format", "suite-zero", str(files / RELEASED),
                 "--db", str(copy)]) == 0
    printed = capsys.readouterr().out
    fingerprint = _fingerprint(files / RELEASED)
    assert f"--fingerprint {fingerprint} --batch-size 32" in printed
    rows = [re.fullmatch(r"\s+(\S+)\s+(\S+)\s+(\d+)\s+(\S+)", line)
            for line in printed.split("spearman", 1)[1].splitlines()[1:]]
    table = {(m[1], m[2]): (int(m[3]), float(m[4])) for m in rows}
    assert len(table) == 14  # naswot only where tfnas has it (not cifar100)
    assert table[("cifar10", "params")] == (50, 1.0)
    assert table[("cifar10", "synflow")][1] >= 0.998 and table[("cifar10", "naswot")][1] >= 0.99
    assert main(["sql", "suite_zero_agreement", "--db", str(copy), "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    from_sql = {(d, p): (int(n), float(r)) for s, d, p, n, r in (x.split(",") for x in lines)
                if s == fingerprint}
    assert from_sql.keys() == table.keys()
    for key, (n, rho) in table.items():
        assert from_sql[key][0] == n and from_sql[key][1] == pytest.approx(rho, abs=5e-4)
    # importing the same file again replaces its rows: nothing twice
    conn = duckdb.connect(str(copy), read_only=True)
    assert conn.execute("SELECT count(*) FROM proxy_scores WHERE data_fingerprint = ?",
                        [fingerprint]).fetchone()[0] == 1800
    conn.close()


def test_imported_rows_never_mix_with_tfnas_rows(files, database):
    default = read_scores(database)
    assert np.isnan(default.columns["cifar10"]["plain"]).all()  # only by its fingerprint
    assert not np.isnan(default.columns["cifar10"]["naswot"]).any()
    assert len(default.columns["cifar10"]["arch_code"]) == NUM_ARCHS
    imported = read_scores(database, config_of(_fingerprint(files / RELEASED)))
    columns = imported.columns["cifar10"]
    assert len(columns["arch_code"]) == 50  # tfnas's 15,625 data-free rows are not beside it
    assert {"plain", "naswot", "params", "epe_nas"} <= set(columns)
    assert np.isnan(columns["meco"]).all()  # tfnas's own proxies: nothing under this import


def test_correlations_show_both_sources_side_by_side(files, database, tmp_path, capsys):
    """`tfnas correlations --beside suite-zero`: each proxy beside its imported namesake, both
    over exactly the architectures both sources hold (params: the same ranking, so the same
    statistics)."""
    import pandas as pd

    assert main(["correlations", "--db", str(database), "--beside", _fingerprint(files / RELEASED),
                 "--proxies", "params,naswot", "--dataset", "cifar10", "--out",
                 str(tmp_path)]) == 0
    assert "over the architectures both hold (cifar10 50)" in capsys.readouterr().err
    table = pd.read_csv(tmp_path / "correlations.csv")
    table = table[table["accuracy"] == "test_acc_200ep"].set_index("proxy")
    assert set(table.index) == {"params", "naswot", "params@suite-zero", "naswot@suite-zero"}
    assert (table["n"] == 50).all()
    assert table.loc["params", "spearman"] == table.loc["params@suite-zero", "spearman"]
    assert abs(table.loc["naswot", "spearman"] - table.loc["naswot@suite-zero", "spearman"]) < 0.1
    assert main(["correlations", "--db", str(database), "--beside", "nas-bench-x"]) == 2
    assert "holds no scores imported from 'nas-bench-x'" in capsys.readouterr().err


@pytest.mark.parametrize("name", [RELEASED, FLAT])
def test_import_then_export_round_trips(files, database, tmp_path, name):
    out = tmp_path / "out.json"
    assert main(["db", "export", "--format", "suite-zero", "--out", str(out), "--db",
                 str(database), "--fingerprint", _fingerprint(files / name),
                 "--batch-size", "32"]) == 0
    source = json.loads((files / name).read_text())
    source = source.get("nasbench201", source)
    written = json.loads(out.read_text())
    assert written.keys() == source.keys()
    for dataset, entries in source.items():
        assert written[dataset].keys() == entries.keys()
        for key, entry in entries.items():
            assert written[dataset][key]["arch"] == key
            for proxy, value in entry.items():
                if proxy in ("idx", "arch", "val_accuracy"):
                    continue
                got = written[dataset][key][proxy]
                if name == RELEASED:
                    assert got == value  # score and time, bit for bit (-1e8 included)
                else:
                    assert got == {"score": value, "time": None}
            assert "val_accuracy" not in written[dataset][key]  # embedded table: test only


def test_export_of_tfnas_scores_uses_naslib_names_and_units(database, tmp_path, capsys):
    out = tmp_path / "tfnas.json"
    assert main(["db", "export", "--format", "suite-zero", "--out", str(out), "--db",
                 str(database), "--dataset", "cifar10", "--accuracy", "test_acc_200ep"]) == 0
    assert "left out (no Suite-Zero counterpart): meco, tenas_lr" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert list(written) == ["cifar10"] and len(written["cifar10"]) == NUM_ARCHS
    entry = written["cifar10"][arch_to_key(Arch(("nor_conv_3x3",) * 6))]
    assert entry["params"]["score"] == 1.531546  # millions, NATS-Bench's count
    assert entry["flops"]["score"] == pytest.approx(220.11969, abs=1e-5)
    assert {"nwot", "synflow", "l2_norm"} <= set(entry) and "naswot" not in entry
    assert 0 < entry["val_accuracy"] <= 100


def _bad_files(tmp_path, files):
    good = json.loads((files / RELEASED).read_text())
    one = next(iter(good["cifar10"].items()))
    text = json.dumps({"cifar10": dict([one])})
    entry = json.dumps(one[1])
    other_spelling = one[0].replace(" ", "")
    cases = {
        "not-json": ("{not json", "is not JSON"),
        "binary": (b"\xff\xfe\x00", "not a UTF-8 text file"),
        "list": ("[1, 2]", "is not a zc_nasbench201.json"),
        "layout": (json.dumps({"nasbench101": {}}), "not a dataset"),
        "mixed": (json.dumps({"cifar10": {one[0]: one[1] | {"flops": 1.5}}}),
                  "has {score, time} per proxy"),
        "flat-mixed": (json.dumps({"nasbench201": {"cifar10": {one[0]: one[1]}}}),
                       "has a number per proxy"),
        "unknown-key": (text.replace('"idx"', '"colour": "red", "idx"'), "unknown key"),
        "bad-arch": (text.replace(one[0], "(0, 7, 2, 2, 2, 0)", 1), "op index 7"),
        "short-key": (text.replace(one[0], "(0, 2)", 1), "is not a NAS-Bench-201"),
        "duplicate-key": ('{"cifar10": {' + f'"{one[0]}": {entry}, "{one[0]}": {entry}' + "}}",
                          "twice"),
        "duplicate-arch": ('{"cifar10": {' + f'"{one[0]}": {entry}, "{other_spelling}": '
                           + entry.replace(f'"arch": "{one[0]}"', f'"arch": "{other_spelling}"')
                           + "}}", "lists one architecture twice"),
        "nan": (_replace_first_score(text, "NaN"), "NaN"),
        "inf": (_replace_first_score(text, "Infinity"), "not a number"),
        "string-score": (_replace_first_score(text, '"high"'), "not a number"),
        "empty": ("{}", "is not a zc_nasbench201.json"),
    }
    for name, (content, _) in cases.items():
        path = tmp_path / f"{name}.json"
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return {name: (tmp_path / f"{name}.json", problem) for name, (_, problem) in cases.items()}


def _replace_first_score(text: str, value: str) -> str:
    start = text.index('"score": ') + len('"score": ')
    end = text.index(",", start)
    return text[:start] + value + text[end:]


def test_bad_files_are_refused_in_one_line_and_nothing_is_stored(files, database, tmp_path,
                                                                capsys):
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    for name, (path, problem) in _bad_files(tmp_path, files).items():
        code = main(["db", "import", "--format", "suite-zero", str(path), "--db",
                     str(database)])
        err = capsys.readouterr().err
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and str(path) in err, (name, err)
        assert problem in err, (name, err)
        assert "nothing was stored" in err, (name, err)
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_reports_accept_naslib_names(files, database, tmp_path, capsys):
    assert main(["correlations", "--db", str(database), "--proxies", "nwot,params", "--out",
                 str(tmp_path), "--fingerprint", _fingerprint(files / RELEASED),
                 "--batch-size", "32", "--dataset", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert "| cifar10 | naswot | 50 |" in out and "suite-zero:" in out
    assert main(["correlations", "--db", str(database), "--proxies", "nwot,naswot",
                 "--out", str(tmp_path)]) == 2
    assert "'nwot' and 'naswot' both name naswot" in capsys.readouterr().err


def test_export_with_nothing_to_export_is_one_line(database, tmp_path, capsys):
    assert main(["db", "export", "--format", "suite-zero", "--out", str(tmp_path / "x.json"),
                 "--db", str(database), "--seed", "7"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no scores of the Suite-Zero proxies" in err
    assert not (tmp_path / "x.json").exists()
