"""plain (tfnas/proxies/plain.py): minus the closed-form Σ W ⊙ ∂L/∂W."""

import pytest
from _tiny import batch, linear_classifier, softmax_gradient

from tfnas.proxies import get
from tfnas.proxies.plain import plain_score


def test_equals_minus_the_closed_form_first_order_term():
    net, (x, y) = linear_classifier(seed=2), batch(seed=5)
    w = net[0].weight.detach().double()
    expected = -(w * softmax_gradient(w, x, y)).sum().item()
    assert plain_score(net, x, y) == pytest.approx(expected, rel=1e-12)  # float64
    assert get("plain").negated and "minus" in get("plain").convention
