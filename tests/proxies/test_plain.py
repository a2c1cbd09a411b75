"""plain (tfnas/proxies/plain.py): minus the closed-form Σ W ⊙ ∂L/∂W."""

import pytest
import torch
from _tiny import batch, linear_classifier, softmax_gradient
from torch import nn

from tfnas.network import ResidualReduction, TinyNetwork
from tfnas.proxies import get
from tfnas.proxies._gradients import weight_gradients
from tfnas.proxies.plain import plain_score
from tfnas.space import Arch


def test_equals_minus_the_closed_form_first_order_term():
    net, (x, y) = linear_classifier(seed=2), batch(seed=5)
    w = net[0].weight.detach().double()
    expected = -(w * softmax_gradient(w, x, y)).sum().item()
    assert plain_score(net, x, y) == pytest.approx(expected, rel=1e-12)  # float64
    assert get("plain").negated and "minus" in get("plain").convention


def test_on_nas_bench_201_only_the_layers_without_batchnorm_after_them_count():
    """Train-mode BatchNorm makes the loss blind to the scale of the conv before it, so
    Σ W ⊙ ∂L/∂W over that conv is 0 (Euler's theorem, up to BN's ε). On NAS-Bench-201 every
    conv but the reduction blocks' 1×1 shortcuts is followed by BN: plain is the classifier's
    term plus those two shortcuts' (the README's reading of plain's weak fidelity)."""
    torch.manual_seed(0)
    net = TinyNetwork(Arch.from_str("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+"
                                    "|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"),
                      num_classes=10)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(8, 3, 16, 16, generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    free = [m for m in net.modules() if isinstance(m, nn.Linear)] + [
        block.shortcut[1] for block in net.modules() if isinstance(block, ResidualReduction)]
    terms = {id(g.module): (g.weight * g.grad).sum().item()
             for g in weight_gradients(net, x, y)}
    assert len(free) == 3 and len(terms) > 20
    kept = sum(terms[id(m)] for m in free)
    scale = max(abs(terms[id(m)]) for m in free)
    assert scale > 1e-4
    assert max(abs(t) for key, t in terms.items() if key not in map(id, free)) < 1e-3 * scale
    assert plain_score(net, x, y) == pytest.approx(-kept, rel=1e-3)
