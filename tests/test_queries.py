"""tfnas/queries/*.sql (the shipped queries) against a database built with the db API, checked
with scipy/numpy."""

import itertools
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import metadata
from scipy import stats

import db
from db.benchmark import TABLE_COLUMNS, nats_bench_index
from db.read import read_arch_scores
from db.shards import SHARD_SCHEMA, ShardTask, write_shard
from db.sql_file import run_sql
from tfnas.costs import arch_flops, arch_params
from tfnas.datasets import DATASETS as SPECS
from tfnas.ensembles import SHIPPED
from tfnas.space import Arch

QUERIES = Path(__file__).resolve().parents[1] / "tfnas" / "queries"
DATASETS = ("cifar10", "cifar100")
T0 = pd.Timestamp("2025-01-01", tz="UTC")
N = 150


def _shard(codes, dataset, proxy, scores, seed=0, fingerprint="fp-a", created_at=T0):
    return pd.DataFrame({
        "arch_code": codes, "dataset": dataset, "proxy": proxy, "seed": seed,
        "batch_size": 128, "data_fingerprint": fingerprint, "augment": False,
        "score": scores, "seconds": 0.1, "device": "cpu", "tfnas_version": "0.1.0",
        "created_at": created_at,
    })


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """Accuracies with ties and gaps, and proxies with -inf, ties (params) and seeds."""
    tmp = tmp_path_factory.mktemp("queries")
    rng = np.random.default_rng(0)
    codes = np.sort(rng.choice(15625, size=N, replace=False))
    archs = [Arch.from_code(int(c)) for c in codes]
    index = nats_bench_index()
    table = pd.DataFrame({"arch_index": index.index, "arch_str": index.to_numpy()})
    ours = table["arch_str"].map(lambda s: Arch.from_str(s).code).isin(codes).to_numpy()
    for column in TABLE_COLUMNS:
        values = np.round(rng.uniform(40, 90, N), 0)  # ~50 values: many ties
        values[rng.choice(N, 5, replace=False)] = np.nan
        table[column] = np.nan
        table.loc[ours, column] = values
    table.to_csv(tmp / "table.csv", index=False)
    shards = []
    for dataset in DATASETS:
        naswot = rng.normal(1500, 30, N)
        naswot[rng.choice(N, 8, replace=False)] = -math.inf
        shards += [
            _shard(codes, dataset, "naswot", naswot),
            # a newer batch for the first 40 archs: the view takes these
            _shard(codes[:40], dataset, "naswot", rng.normal(1500, 30, 40), fingerprint="fp-b",
                   created_at=T0 + pd.Timedelta(days=1)),
            _shard(codes, dataset, "synflow", rng.normal(80, 5, N)),
            _shard(codes, dataset, "params",
                   [float(arch_params(a, SPECS[dataset])) for a in archs]),
            _shard(codes, dataset, "flops", [arch_flops(a, SPECS[dataset]) for a in archs]),
        ]
        for seed in (1, 2):
            scores = naswot + rng.normal(0, 3 * seed, N)
            scores[rng.choice(N, 3, replace=False)] = -math.inf
            shards.append(_shard(codes[: 100 + 20 * seed], dataset, "naswot",
                                 scores[: 100 + 20 * seed], seed=seed, fingerprint=f"s{seed}"))
    path = tmp / "tfnas.duckdb"
    files = {}
    for i, frame in enumerate(shards):
        row = frame.iloc[0]
        task = ShardTask(row.dataset, (row.proxy,), int(row.seed), 128, False,
                         row.data_fingerprint, tuple(int(c) for c in frame["arch_code"]))
        table = pa.Table.from_pandas(frame[SHARD_SCHEMA.names], schema=SHARD_SCHEMA,
                                     preserve_index=False)
        files[write_shard(table, task, tmp / f"{i}.parquet")] = task
    with db.writing(path) as engine:
        db.import_benchmark(engine, tmp / "table.csv")
        db.load_shards(engine, files, *metadata(("naswot", "synflow", "params", "flops")))
    return path


def run_query(path, name, **variables):
    con = duckdb.connect(str(path), read_only=True)
    try:
        for key, value in variables.items():
            con.execute(f"SET VARIABLE {key} = {value}")
        return con.execute((QUERIES / name).read_text()).df()
    finally:
        con.close()


def views(path):
    return {d: read_arch_scores(path, d).reset_index() for d in DATASETS}  # arch_index: a column


ACCURACIES = ("test_acc_12ep", "test_acc_200ep", "valid_acc_12ep", "valid_acc_200ep")
PROXIES = ("naswot", "synflow", "params", "flops")
#: the shipped rank ensembles whose members are all stored: rows of default_scores like proxies
ENSEMBLES = tuple(e.name for e in SHIPPED if set(e.members) <= set(PROXIES))


def test_every_query_has_a_header_and_names_no_proxy():
    files = sorted(QUERIES.glob("*.sql"))
    assert {"correlations.sql", "proxy_agreement.sql", "seed_variance.sql",
            "topk.sql"} <= {f.name for f in files}
    for file in files:
        text = file.read_text()
        header = text[: text.index("\nWITH")]
        assert header.startswith(f"-- {file.name}") and "Returns" in header
        assert all(line.startswith("--") for line in header.splitlines())
        assert f"Run: tfnas sql {file.stem} " in header
        body = text[len(header):].lower()
        for proxy in ("naswot", "synflow", "params", "flops"):
            assert f"'{proxy}'" not in body and f" {proxy}," not in body, (file, proxy)


def test_queries_run_through_tfnas_sql(database, tmp_path, capsys):
    import io

    out = io.StringIO()
    assert run_sql(database, QUERIES / "topk.sql", csv=True, out=out) == 1
    got = pd.read_csv(io.StringIO(out.getvalue()))
    assert len(ENSEMBLES) == 2
    assert len(got) == len(DATASETS) * 6 * 10 and set(got["proxy"]) == {*PROXIES, *ENSEMBLES}
    script = tmp_path / "two.sql"
    script.write_text("SET VARIABLE topk = 2;\n-- a comment\n"
                      + (QUERIES / "topk.sql").read_text())
    out = io.StringIO()
    assert run_sql(database, script, csv=True, out=out) == 2
    assert len(pd.read_csv(io.StringIO(out.getvalue()))) == len(DATASETS) * 6 * 2
    with pytest.raises(db.DatabaseError, match=r"two.sql, statement 1 of 1: .*read-only"):
        script.write_text("DELETE FROM proxy_scores;")
        run_sql(database, script)


def test_tfnas_sql_prints_duckdb_s_own_compact_table(database, tmp_path):
    """A result is DuckDB's box table (header, types, one line per row), an empty one says
    "0 rows" (no pandas "Empty DataFrame"); --csv prints every row."""
    import io

    script = tmp_path / "q.sql"
    script.write_text("SELECT proxy, count(*) AS n FROM proxies GROUP BY ALL ORDER BY proxy;\n"
                      "SELECT proxy FROM proxies WHERE false;")
    out = io.StringIO()
    assert run_sql(database, script, out=out) == 2
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0].startswith("┌") and lines[1].split("│")[1].strip() == "proxy"
    assert "varchar" in lines[2]
    assert sum("│ naswot" in line for line in lines) == 1
    assert "0 rows" in text and "Empty DataFrame" not in text
    assert max(len(line) for line in lines) < 120

def test_correlations_match_scipy(database):
    result = run_query(database, "correlations.sql").set_index(["dataset", "proxy", "accuracy"])
    checked = 0
    for dataset, frame in views(database).items():
        for proxy, accuracy in itertools.product(PROXIES, ACCURACIES):
            pairs = frame[[proxy, accuracy]].dropna()
            key = (dataset, proxy, accuracy)
            if pairs.empty:  # the table has no valid accuracies: no row
                assert key not in result.index
                continue
            row = result.loc[key]
            finite = pairs[np.isfinite(pairs[proxy])]
            assert row.n == len(pairs) and row.n_nonfinite == len(pairs) - len(finite)
            assert row.spearman == pytest.approx(
                stats.spearmanr(pairs[proxy], pairs[accuracy]).statistic, abs=1e-12)
            assert row.pearson == pytest.approx(
                stats.pearsonr(finite[proxy], finite[accuracy]).statistic, abs=1e-12)
            checked += 1
    assert checked == len(DATASETS) * len(PROXIES) * 2  # test accuracies at 12 and 200 epochs
    assert result.loc[("cifar10", "naswot", "test_acc_200ep"), "n_nonfinite"] > 0
    assert result.loc[("cifar10", "params", "test_acc_200ep"), "n"] > 100


def test_average_ranks_matter_for_params(database):
    # params take few distinct values: a min-rank Spearman would differ from scipy's
    frame = views(database)["cifar10"][["params", "test_acc_200ep"]].dropna()
    assert frame["params"].nunique() < len(frame) / 2
    min_rank = np.corrcoef(frame["params"].rank(method="min"),
                           frame["test_acc_200ep"].rank(method="min"))[0, 1]
    scipy_rho = stats.spearmanr(frame["params"], frame["test_acc_200ep"]).statistic
    assert abs(min_rank - scipy_rho) > 1e-6


@pytest.mark.parametrize("k", [None, 3])
def test_topk(database, k):
    result = run_query(database, "topk.sql", **({} if k is None else {"topk": k}))
    k = k or 10
    for dataset, frame in views(database).items():
        for proxy in PROXIES:
            expected = frame.dropna(subset=[proxy]).sort_values(
                [proxy, "arch_code"], ascending=[False, True]).head(k)
            got = result[(result.dataset == dataset) & (result.proxy == proxy)]
            assert got["rank"].tolist() == list(range(1, k + 1))
            assert got["arch_code"].tolist() == expected["arch_code"].tolist()
            assert got["score"].tolist() == expected[proxy].tolist()
            for column in ("arch_index", "test_acc_200ep", "test_acc_12ep"):
                assert got[column].fillna(-1).tolist() == expected[column].fillna(-1).tolist()


def test_proxy_agreement(database):
    result = run_query(database, "proxy_agreement.sql", agreement_k=20)
    assert len(result) == len(DATASETS) * math.comb(len(PROXIES) + len(ENSEMBLES), 2)
    for dataset, frame in views(database).items():
        for a, b in itertools.combinations(sorted(PROXIES), 2):
            row = result[(result.dataset == dataset) & (result.proxy_a == a)
                         & (result.proxy_b == b)].iloc[0]
            both = frame.dropna(subset=[a, b])
            assert row.n == len(both)
            assert row.spearman == pytest.approx(stats.spearmanr(both[a], both[b]).statistic,
                                                 abs=1e-12)

            def top(proxy, data=both):
                return set(data.sort_values([proxy, "arch_code"],
                                            ascending=[False, True]).head(20)["arch_code"])

            assert row.k == 20 and row.top_k_overlap == len(top(a) & top(b))
            assert row.top_k_fraction == pytest.approx(row.top_k_overlap / 20)
    # flops and params both grow with the conv ops: they must agree more than chance
    agree = result[(result.proxy_a == "flops") & (result.proxy_b == "params")]
    assert (agree.spearman > 0.5).all()


def test_seed_variance(database):
    result = run_query(database, "seed_variance.sql")
    con = duckdb.connect(str(database), read_only=True)
    scores = con.execute("SELECT * FROM proxy_scores").df()
    con.close()
    latest = (scores.sort_values("created_at", ascending=False)
              .drop_duplicates(["dataset", "proxy", "batch_size", "augment", "arch_code",
                                "seed"]))
    assert len(result) == len(DATASETS)  # only naswot has several seeds
    for dataset in DATASETS:
        naswot = latest[(latest.dataset == dataset) & (latest.proxy == "naswot")]
        per_arch = naswot.groupby("arch_code")["score"].agg(list)
        per_arch = per_arch[per_arch.map(len) >= 2]
        finite = per_arch.map(lambda s: [x for x in s if np.isfinite(x)])
        sds = np.array([np.std(s, ddof=1) if len(s) > 1 else np.nan for s in finite])
        means = np.array([np.mean(s) for s in finite if s])  # SQL avg skips all-inf
        row = result[result.dataset == dataset].iloc[0]
        assert (row.proxy, row.batch_size, row.augment) == ("naswot", 128, False)
        assert row.n_archs == len(per_arch) == 140
        assert row.mean_seeds == pytest.approx(per_arch.map(len).mean())
        assert row.mean_within_sd == pytest.approx(np.nanmean(sds))
        assert row.median_within_sd == pytest.approx(np.nanmedian(sds))
        assert row.max_within_sd == pytest.approx(np.nanmax(sds))
        assert row.between_arch_sd == pytest.approx(np.std(means, ddof=1))
        assert row.noise_ratio == pytest.approx(np.nanmean(sds) / np.std(means, ddof=1))
        assert row.n_archs_nonfinite == sum(any(not np.isfinite(x) for x in s)
                                            for s in per_arch)


def test_a_reader_that_stops_reading_is_not_a_traceback(database):
    """`tfnas sql ... | head`: the pipe closes early; the command ends quietly (status 141, as
    a command killed by SIGPIPE), stderr empty."""
    import subprocess
    import sys

    done = subprocess.run(
        f"{sys.executable} -m tfnas.cli sql --db {database} - <<< 'SELECT * FROM range(100000)'"
        " | head -2", shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert done.stdout.count("\n") == 2 and done.stderr == ""
