"""Isomorphic cells (tfnas/isomorphism.py): the published 6,466 classes, an independent
implementation, invariances, and the isomorphism-aware replays and SQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.read import read_scores
from db.sql_file import run_sql
from tfnas.cli import main
from tfnas.isomorphism import ZERO, canonical_form, canonical_forms, iso_classes
from tfnas.queries import resolve
from tfnas.replay.search import ScoreTable, random_search
from tfnas.replay.search.arrays import iso_class_of, one_per_class
from tfnas.replay.search.evolution import evolve
from tfnas.space import EDGES, NUM_ARCHS, OPS, Arch, all_archs

ARCHS = st.tuples(*[st.sampled_from(OPS)] * 6).map(Arch)


def independent_form(arch: Arch) -> str:
    """NAS-Bench-201's to_unique_str(consider_zero=True), written the other way round: from
    the output node back, each node's incoming edges looked up in a dict."""
    into = {j: [(op, i) for op, (t, i) in zip(arch.ops, EDGES, strict=True) if t == j]
            for j in (1, 2, 3)}

    def node(j: int) -> str:
        if j == 0:
            return "0"
        terms = []
        for op, i in into[j]:
            source = node(i)
            if op == "none" or source == ZERO:
                terms.append(ZERO)
            else:
                terms.append(source if op == "skip_connect" else f"({source})@{op}")
        return "+".join(sorted(terms))

    return node(3)


def test_the_space_has_the_published_6466_classes():
    forms = canonical_forms(all_archs())
    assert len(set(forms.values())) == 6466
    classes = iso_classes(all_archs())
    assert len(set(classes.values())) == 6466
    assert all(classes[arch] <= arch.code for arch in classes)  # the class id: smallest code
    assert all(forms[arch] == independent_form(arch) for arch in forms)
    sizes = pd.Series(list(classes.values())).value_counts()
    assert (sizes == 1).sum() == 5116 and sizes.max() == 275  # known shape of the partition


@given(ARCHS, st.sampled_from(OPS))
def test_a_node_that_feeds_nothing_does_not_matter(arch, op):
    """With edges 1 → 2 and 1 → 3 empty, node 1 never reaches the output: its input edge's op
    does not change the form."""
    ops = list(arch.ops)
    ops[2] = ops[4] = "none"
    changed = list(ops)
    changed[0] = op
    assert canonical_form(Arch(tuple(ops))) == canonical_form(Arch(tuple(changed)))


def test_node_swaps_are_not_merged_as_nas_bench_201_does_not_merge_them():
    """Node 2 always has two inputs: an empty edge 1 → 2 leaves a zero term, so swapping
    nodes 1 and 2 changes the form (the kept '#' of to_unique_str; a functional equivalence
    would merge these two all-zero cells)."""
    a = Arch(("none", "none", "none", "none", "none", "skip_connect"))
    b = Arch(("none", "none", "none", "none", "skip_connect", "none"))
    assert canonical_form(a) == "#+#+#+#" and canonical_form(b) == "#+#+#"


@given(ARCHS, st.sampled_from(OPS), st.sampled_from(OPS))
def test_ops_leaving_a_zero_node_do_not_matter(arch, a, b):
    """With node 1 fed by ``none``, node 1 is exactly zero: whatever reads it adds nothing."""
    ops = list(arch.ops)
    ops[0] = "none"
    first, second = list(ops), list(ops)
    first[2], first[4] = a, b  # edges 1 → 2 and 1 → 3
    second[2], second[4] = b, a
    assert canonical_form(Arch(tuple(first))) == canonical_form(Arch(tuple(second)))


def test_unique_tables_stand_in_one_architecture_per_class(score_db):
    frame = read_scores(score_db()).frames["cifar10"]
    table = ScoreTable.from_frame(frame, "naswot").unique()
    classes = iso_class_of()
    assert len(table.scored) == 6466 and len(set(classes[table.scored])) == 6466
    assert table.complete and (table.representative[table.scored] == table.scored).all()
    assert (classes[table.representative] == classes).all()
    picks = random_search(table, 100, 50, np.random.default_rng(0))
    assert (table.representative[picks["chosen"]] == picks["chosen"]).all()
    visited = evolve(table, 300, 64, 20, 20, np.random.default_rng(1))
    assert np.isin(visited, table.scored).all()  # REA only ever visits stand-ins
    assert len(one_per_class(frame)) == 6466


def test_correlations_unique_reads_one_architecture_per_class(score_db, tmp_path, capsys):
    path = score_db()
    assert main(["correlations", "--db", str(path), "--out", str(tmp_path), "--unique",
                 "--proxies", "naswot"]) == 0
    out = capsys.readouterr().out
    assert "one architecture per class of isomorphic cells" in out.splitlines()[0]
    written = pd.read_csv(tmp_path / "correlations.csv")
    assert set(written["n"]) == {6466}


def test_the_within_class_spread_query(score_db):
    import io

    path = score_db()
    out = io.StringIO()
    run_sql(path, resolve("isomorphism"), csv=True, out=out)
    got = pd.read_csv(io.StringIO(out.getvalue())).set_index(["dataset", "quantity"])
    frame = read_scores(path).frames["cifar10"]
    groups = frame.groupby("iso_class")["params"]
    size = groups.transform("size")
    multi = frame[size >= 2].groupby("iso_class")["params"]
    row = got.loc[("cifar10", "params")]
    assert row["classes"] == multi.ngroups and row["members"] == (size >= 2).sum()
    assert row["mean_within_sd"] == pytest.approx(multi.std(ddof=0).mean())
    assert row["max_within_range"] == pytest.approx((multi.max() - multi.min()).max())
    assert row["between_sd"] == pytest.approx(groups.mean().std(ddof=1))
    assert row["identical"] == int(((multi.max() - multi.min()) == 0).sum())
    assert ("cifar10", "test_acc_200ep") in got.index
    assert NUM_ARCHS == 15625


def test_a_database_written_before_the_classes_gains_them_on_the_next_write(score_db, tmp_path):
    """A database an older tfnas wrote (no canonical_form / iso_class in ``architectures``)
    is completed by the next write (here ``tfnas db init``; the pipeline's ImportBenchmark
    runs the same schema step) instead of failing on the views that read the classes."""
    import duckdb

    old = tmp_path / "old.duckdb"
    old.write_bytes(score_db(datasets=("cifar10",), proxies=("naswot",)).read_bytes())
    with duckdb.connect(str(old)) as conn:
        conn.execute("DROP VIEW arch_scores")
        conn.execute("ALTER TABLE architectures DROP COLUMN iso_class")
        conn.execute("ALTER TABLE architectures DROP COLUMN canonical_form")
        conn.execute("DROP TABLE tfnas_schema")
    assert main(["db", "init", "--db", str(old)]) == 0
    with duckdb.connect(str(old), read_only=True) as conn:
        stored = conn.execute("SELECT arch_code, canonical_form, iso_class FROM architectures "
                              "ORDER BY arch_code").df()
        assert conn.execute("SELECT count(*) FROM arch_scores WHERE iso_class IS NULL "
                            "AND dataset = 'cifar10'").fetchone()[0] == 0
    forms = canonical_forms(list(all_archs()))
    assert stored["canonical_form"].tolist() == [forms[a] for a in all_archs()]
    assert stored["iso_class"].nunique() == 6466
    assert (stored["iso_class"] <= stored["arch_code"]).all()
