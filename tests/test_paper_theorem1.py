"""Theorem 1 (plain SGD), its listed schedule, momentum and Adam: properties and broken variants.

Shorter runs than the registered claims (which the registry test runs in full)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from normtheory import dynamics as dy
from normtheory.claims import paper_theorem1 as pt


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), lr=st.floats(0.01, 0.1), lam=st.floats(0.0, 0.05))
def test_theorem1_schedule_reproduces_decay(seed, lr, lam):
    found = pt.theorem1_gaps(steps=40, lr=lr, lam=lam, seed=seed)
    assert found["max_gap"] <= found["tolerance"]


def test_theorem1_fails_with_constant_lr_and_with_listed_schedule():
    const = pt.theorem1_gaps(lambda lr, lam: (lambda t: 1.0), steps=60)
    listed = pt.theorem1_gaps(pt.paper_listed_factor, steps=60)
    assert const["max_gap"] > const["tolerance"]
    assert listed["max_gap"] > listed["tolerance"]


def test_momentum_needs_the_derived_schedule():
    assert pt.momentum_gaps(steps=60, use="derived")["max_gap"] <= pt.momentum_gaps(steps=60)["tolerance"]
    bad = pt.momentum_gaps(steps=60, use="paper")
    assert bad["max_gap"] > bad["tolerance"]


def test_momentum_regime_scan_consistent():
    scan = pt.momentum_regime_scan()
    assert scan["consistent"]
    # broken variant: declaring every regime valid (ignoring c_t's sign) must be inconsistent
    rows = [{**r, "valid": True} for r in scan["rows"]]
    assert not all(r["valid"] == (r["lr_lam_over_edge"] <= 1) for r in rows)


def test_adam_span_test_can_pass_and_fails_with_decay():
    # without decay the decay-free run itself is a solution: residuals at round-off
    assert pt.adam_span_residuals(steps=10, lam=0.0)["max_residual"] < 1e-12
    assert pt.adam_span_residuals(steps=10, lam=0.1)["max_residual"] > 1e-4


def test_lr_lambda_overflow_is_an_error_not_inf():
    with pytest.raises(OverflowError):
        dy.theorem1_lr_lambda(lr=0.5, lam=1.0)(5000)
