"""Sharing report work over the cores (tfnas.replay.parallel): the shares, the forked map, and
reports that come out the same whatever the number of cores."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tfnas.replay.correlations as correlations
import tfnas.replay.tables as tables
from db.read import read_published, read_scores
from tfnas.replay.parallel import fork_map, share


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


@given(st.lists(st.floats(0, 1e6), max_size=40), st.integers(1, 8))
def test_share_gives_every_index_once_in_balanced_groups(costs, parts):
    groups = share(costs, parts)
    assert sorted(i for group in groups for i in group) == list(range(len(costs)))
    assert len(groups) <= parts and all(group == sorted(group) for group in groups)
    loads = [sum(costs[i] for i in group) for group in groups]
    if loads:  # greedy largest-first: no group exceeds the mean by more than the largest item
        assert max(loads) <= sum(costs) / parts + max(costs) + 1e-6


def test_fork_map_keeps_order_and_forks_all_but_the_first():
    results = fork_map(_pid_and_square, [3, 4, 5])
    assert [square for _, square in results] == [9, 16, 25]
    assert results[0][0] == os.getpid()
    assert all(pid != os.getpid() for pid, _ in results[1:])


@pytest.fixture(scope="module")
def full_db(score_db):
    return score_db()


def test_reports_do_not_depend_on_the_number_of_cores(full_db, monkeypatch):
    frames = read_scores(full_db).frames
    published = read_published(full_db)
    results = []
    for cores in (1, 2, 3):
        monkeypatch.setattr(tables, "workers", lambda cores=cores: cores)
        monkeypatch.setattr(correlations, "workers", lambda cores=cores: cores)
        results.append((tables.tables(frames, runs=40),
                        correlations.correlation_table(frames, published=published)))
    (first_tables, first_correlations), *others = results
    for other_tables, other_correlations in others:
        assert other_correlations.equals(first_correlations)
        for name, frame in first_tables.items():
            assert other_tables[name].equals(frame), name
    assert np.isfinite(first_correlations["spearman"]).all()
