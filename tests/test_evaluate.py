"""`tfnas evaluate FILE.py`: a proxy of one's own, loaded by path (tfnas.plugins), checked
against the registry's contract, scored on the seeded sample and compared with the stored
proxies; bad files are one line naming the file, exit 2, nothing written. Also the
``tfnas.proxies`` entry-point group (a fake installed distribution)."""

import csv
import functools
import importlib.metadata
import sys

import pytest

from tfnas import proxies
from tfnas.cli import main
from tfnas.plugins import load_proxy_file, source_version

HEADER = "from tfnas.proxies import Proxy\nfrom tfnas.costs import arch_params\n"


def proxy_file(folder, stem, name, score, extra="", reads="frozenset()"):
    path = folder / f"{stem}.py"
    path.write_text(HEADER + extra + f"""
PROXY = Proxy(
    name={name!r},
    citation="an example",
    reads={reads},
    convention="a test score; higher is better",
    settings="closed form",
    score={score},
)
""")
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "tfnas.duckdb"
    assert main(["db", "init", "--db", str(path)]) == 0
    return path


def test_a_data_free_proxy_from_another_folder_is_minus_params(db, tmp_path, monkeypatch,
                                                               capsys):
    mine = tmp_path / "elsewhere"
    mine.mkdir()
    path = proxy_file(mine, "minus_params", "ev_minus_params",
                      "lambda arch, run: -float(arch_params(arch, run.spec))")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert main(["evaluate", str(path), "--limit", "30", "--db", str(db), "--resamples", "200",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first 30 architectures" in printed and source_version(path) in printed
    with (out / "evaluate.csv").open() as handle:
        rows = {row["proxy"]: row for row in csv.DictReader(handle)}
    new, params = rows["ev_minus_params"], rows["params"]
    assert float(new["spearman"]) == -float(params["spearman"])  # ranks exactly reversed
    assert float(new["kendall"]) == pytest.approx(-float(params["kendall"]), abs=1e-12)
    assert float(new["delta_spearman"]) == 0.0
    delta = float(params["delta_spearman"])
    assert delta == pytest.approx(2 * float(new["spearman"]))
    assert float(params["delta_low"]) <= delta <= float(params["delta_high"])
    assert {"naswot", "synflow", "flops", "ens_naswot_synflow"} <= set(rows)
    assert all(int(row["n"]) == 30 for row in rows.values())
    with (out / "scores.csv").open() as handle:
        scores = list(csv.DictReader(handle))
    from tfnas.space import seeded_order

    assert [int(r["arch_code"]) for r in scores] == seeded_order()[:30]
    assert {r["tfnas_version"] for r in scores} == {source_version(path)}
    assert source_version(path).startswith("external:") and len(source_version(path)) == 25
    # an edited file is another version, and loading it again replaces the proxy
    path.write_text(path.read_text() + "# edited\n")
    assert source_version(path) != scores[0]["tfnas_version"]
    assert load_proxy_file(path).name == "ev_minus_params"
    assert "ev_minus_params" in proxies.names()


def test_the_public_names_are_importable_from_tfnas_proxies():
    from tfnas.proxies import IMAGES, LABELS, Proxy, ScoringRun, register  # noqa: F401


THREADS = "import torch\n"
BAD = {
    "syntax": ("x = (\n", r"^tfnas: error: bad\.py: syntax error at line \d+: "),
    "no_proxy": ("x = 1\n", r"^tfnas: error: bad\.py: defines no PROXY; "),
    "not_a_proxy": ("PROXY = 3\n", r"^tfnas: error: bad\.py: PROXY is a int, not a Proxy"),
    "clash": (None, r"^tfnas: error: bad\.py: PROXY's name 'params' is a registered proxy; "),
    "alias": (None, r"^tfnas: error: bad\.py: PROXY's name 'nwot' is the alias of naswot; "),
    "nan": (None, r"^tfnas: error: bad\.py: PROXY scored .* nan; a score is finite or -inf"),
    "threads": (None, r"^tfnas: error: bad\.py: PROXY scored the same architecture differently "
                      r"with 1 and 2 threads \(1\.0, 2\.0 for .*\); a score must not depend on "
                      r"the thread count$"),
    "raises_in_check": (None, r"^tfnas: error: bad\.py: PROXY raised ZeroDivisionError on "),
    "raises_later": (None, r"^tfnas: error: bad\.py: PROXY raised KeyError: .* a proxy must "
                           r"score every architecture"),
    "reads_images": (None, r"^tfnas: error: bad\.py: PROXY read images on .* but does not "
                           r"declare them"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_proxy_file_is_one_line_exit_2_nothing_written(case, db, tmp_path, capsys):
    from tfnas.space import seeded_order

    text, message = BAD[case]
    name = f"ev_bad_{case}"
    later = seeded_order()[5]
    score = {
        "clash": "lambda arch, run: 1.0", "alias": "lambda arch, run: 1.0",
        "nan": "lambda arch, run: float('nan') if arch.ops[0] == 'none' else 1.0",
        "threads": "lambda arch, run: float(torch.get_num_threads())",
        "raises_in_check": "lambda arch, run: 1 / 0",
        "raises_later": f"lambda arch, run: {{}}['x'] if arch.code == {later} else 1.0",
        "reads_images": "lambda arch, run: float(run.images.sum())",
    }.get(case)
    name = {"clash": "params", "alias": "nwot"}.get(case, name)
    path = tmp_path / "bad.py"
    if text is not None:
        path.write_text(text)
    else:
        path = proxy_file(tmp_path, "bad", name, score, extra=THREADS)
    out = tmp_path / "out"
    before = len(proxies.names())
    assert main(["evaluate", str(path), "--limit", "10", "--db", str(db), "--resamples", "50",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert __import__("re").search(message, err.strip()), err
    assert not out.exists()  # nothing written
    if case in ("syntax", "no_proxy", "not_a_proxy", "clash", "alias"):
        assert len(proxies.names()) == before


def test_an_installed_package_adds_proxies_through_the_entry_point_group(tmp_path,
                                                                         monkeypatch):
    """A fake distribution on sys.path: a .dist-info with entry_points.txt, and its module."""
    (tmp_path / "ev_plugin_pkg.py").write_text(HEADER + """
PROXY = Proxy(name="ev_installed", citation="an installed example", reads=frozenset(),
              convention="params; higher is better", settings="closed form",
              score=lambda arch, run: float(arch_params(arch, run.spec)))
""")
    info = tmp_path / "ev_plugin_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ev-plugin-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tfnas.proxies]\nev_installed = ev_plugin_pkg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    points = importlib.metadata.entry_points(group=proxies.ENTRY_POINT_GROUP)
    assert [p.name for p in points] == ["ev_installed"]
    installed = proxies._installed(set(proxies.names()))
    assert [p.name for p in installed] == ["ev_installed"]
    from tfnas.datasets import DATASETS
    from tfnas.plugins import check_contract

    check_contract(installed[0])
    # and a registry read afresh (the process's is cached: patched, then restored) lists it
    monkeypatch.setattr(proxies, "registry", functools.cache(proxies.registry.__wrapped__))
    names = proxies.names()
    assert "ev_installed" in names and list(names) == sorted(names)
    from tfnas.space import Arch

    arch, run = Arch.from_code(1234), proxies.ScoringRun(DATASETS["cifar10"])
    assert proxies.get("ev_installed").score(arch, run) == proxies.get("params").score(arch, run)
    sys.modules.pop("ev_plugin_pkg", None)
