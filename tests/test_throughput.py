"""The throughput benchmark in CI size: few architectures, a small batch; scores, never timing."""

import importlib.util
import io
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "score_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("score_throughput", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("dataset", "group"), [("ImageNet16-120", 1), ("cifar10", 3)])
def test_benchmark_scores_agree_with_the_baseline(bench, dataset, group):
    out = io.StringIO()
    per_arch = bench.run(dataset, batch_size=10, archs=4, device="cpu", threads=1, group=group,
                         seed=2, out=out)
    assert set(per_arch) == {"baseline", "engine"}
    assert "scores identical within tolerance for all 4 architectures" in out.getvalue()


def test_benchmark_reports_a_mismatch(bench, monkeypatch):
    real = bench.score_archs

    def off_by_a_little(*args, **kwargs):  # NASWOT off by 1e-5 relative: over the tolerance
        results = real(*args, **kwargs)
        return [{p: s._replace(score=s.score * (1 + 1e-5)) if p == "naswot" else s
                 for p, s in r.items()} for r in results]

    monkeypatch.setattr(bench, "score_archs", off_by_a_little)
    with pytest.raises(AssertionError, match="naswot baseline"):
        bench.run("ImageNet16-120", batch_size=10, archs=2, device="cpu", threads=1, seed=2,
                  out=io.StringIO())


def test_sample_is_seeded_and_distinct(bench):
    a, b = bench.sample_archs(50, 3), bench.sample_archs(50, 3)
    assert a == b and len(set(a)) == 50
    assert bench.sample_archs(50, 4) != a
