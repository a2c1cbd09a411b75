"""score_archs / score_arch (tfnas/scoring.py): every proxy through the registry, grouped or one
at a time, with the inputs each proxy reads checked first."""

import math
import sys

import pytest
import torch

from tfnas.datasets import DATASETS, Batch
from tfnas.network import build_network
from tfnas.proxies import ScoringRun
from tfnas.proxies.naswot import naswot_score
from tfnas.proxies.synflow import synflow_score
from tfnas.scoring import score_arch, score_archs
from tfnas.space import Arch

SPEC = DATASETS["ImageNet16-120"]
ARCHS = [
    Arch(("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "skip_connect",
          "nor_conv_1x1")),
    Arch(("none", "nor_conv_3x3", "none", "none", "nor_conv_3x3", "none")),
    Arch(("skip_connect", "avg_pool_3x3", "nor_conv_1x1", "skip_connect", "none",
          "nor_conv_3x3")),
    Arch(("none",) * 6),
]
STUDY = ("naswot", "synflow", "params", "flops")


def run(seed: int = 3, n: int = 16, labels: torch.Tensor | None = None) -> ScoringRun:
    images = torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(n) % 120 if labels is None else labels
    return ScoringRun(SPEC, seed, "cpu", Batch(images, labels, "test"))


def _close(a: float, b: float, rel: float) -> bool:
    return a == b if math.isinf(a) or math.isinf(b) else abs(a - b) <= rel * abs(b)


def test_score_arch_equals_the_proxy_functions():
    scoring = run()
    for arch in ARCHS:
        scores = score_arch(arch, scoring, STUDY)
        net = build_network(arch, 120, seed=3)
        assert _close(scores["naswot"].score, naswot_score(net, scoring.images), 1e-6)
        assert _close(scores["synflow"].score, synflow_score(net, (3, 16, 16)), 1e-9)
        assert all(s.seconds >= 0 for s in scores.values()) and list(scores) == sorted(STUDY)
    assert score_arch(ARCHS[3], scoring, STUDY)["naswot"].score == -math.inf
    assert score_arch(ARCHS[3], scoring, STUDY)["synflow"].score == -math.inf
    assert math.isfinite(score_arch(ARCHS[1], scoring, STUDY)["naswot"].score)


def test_score_archs_groups_agree_with_one_at_a_time():
    together = score_archs(ARCHS, run(seed=1), STUDY)
    for arch, scores in zip(ARCHS, together, strict=True):
        alone = score_arch(arch, run(seed=1), STUDY)
        for proxy in STUDY:
            assert _close(scores[proxy].score, alone[proxy].score, 1e-6)


def test_score_archs_checks_what_each_proxy_reads():
    with pytest.raises(ValueError, match="proxies naswot read images: pass --data"):
        score_archs(ARCHS[:1], ScoringRun(SPEC), ("naswot",))
    assert score_archs(ARCHS[:1], ScoringRun(SPEC), ("synflow", "params"))[0]["params"].score > 0
    broken = run()
    broken.batch.images[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        score_archs(ARCHS[:1], broken, ("naswot",))
    with pytest.raises(ValueError, match="--proxies: unknown proxy 'zzz'"):
        score_archs(ARCHS[:1], run(), ("zzz",))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_nan_or_plus_inf_score_is_an_error_never_a_row(monkeypatch, bad):
    """+inf would rank first in SQL and search but last in the correlations: never stored."""
    from tfnas import proxies

    original = proxies.get("params")
    monkeypatch.setitem(proxies.registry(), "params",
                        original.__class__(**{**original.__dict__,
                                              "score": lambda arch, run: bad}))
    with pytest.raises(ValueError, match=f"params returned {bad} for .* on ImageNet16-120; "
                                         "scores are finite or -inf"):
        score_archs(ARCHS[:1], run(), ("params",))
    minus = original.__class__(**{**original.__dict__, "score": lambda arch, run: -math.inf})
    monkeypatch.setitem(proxies.registry(), "params", minus)
    assert score_archs(ARCHS[:1], run(), ("params",))[0]["params"].score == -math.inf


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes need Python 3.11")
def test_an_error_while_scoring_names_the_proxy_and_architecture(monkeypatch):
    from tfnas import proxies

    def broken(arch, run):
        raise RuntimeError("linalg.eigh failed")

    original = proxies.get("params")
    monkeypatch.setitem(proxies.registry(), "params",
                        original.__class__(**{**original.__dict__, "score": broken}))
    with pytest.raises(RuntimeError, match="linalg.eigh failed") as err:
        score_archs(ARCHS[:2], run(), ("params",))
    assert err.value.__notes__ == [f"tfnas: while scoring params on {ARCHS[0]} (ImageNet16-120)"]
