"""Eqs. (4), (8)-(13), (25)-(28): the objective with L2 and eps-shifted L2; broken variants."""

from __future__ import annotations

import torch

from normtheory import regularizers as rg
from normtheory.claims import paper_weight_decay as pw
from normtheory.models import ScaleInvariantNet


def test_shrinking_always_helps_with_plain_l2_but_not_with_the_shift():
    net = ScaleInvariantNet("wn", seed=3)
    ok = pw.shrink_gaps(net, pw._l2(0.1), 0.1, cases=10)
    assert ok["always_lower"] and ok["drop_formula_err_over_tol"] <= 1.0
    shifted = pw.shrink_gaps(net, lambda w: rg.eps_shifted_l2(w, lam=0.1, eps=5.0), 0.1, cases=10)
    assert not shifted["always_lower"]


def test_drop_formula_fails_for_wrong_lambda():
    net = ScaleInvariantNet("ws", seed=3)
    assert pw.shrink_gaps(net, pw._l2(0.1), 0.2, cases=5)["drop_formula_err_over_tol"] > 1.0


def test_l2_keeps_directions_and_l1_does_not():
    net = ScaleInvariantNet("wn", seed=4)
    assert pw.direction_gaps(net, pw._l2(0.1), cases=5)["tangential_err_over_tol"] <= 1.0
    l1 = lambda w: 0.1 * w.abs().sum()
    assert pw.direction_gaps(net, l1, cases=5)["tangential_err_over_tol"] > 1.0


def test_radial_derivative_is_lambda_k():
    net = ScaleInvariantNet("wn", seed=4)
    found = pw.direction_gaps(net, pw._l2(0.3), cases=5)
    assert abs(found["min_radial_over_k"] - 0.3) < 1e-12


def test_eps_shifted_minimum_at_eps_not_elsewhere():
    found = pw.shifted_minimum("wn", lam=0.1, eps=0.5)
    tol = 2 * found["final_grad_norm"] / 0.1 + 1e-12
    assert found["k_minus_eps"] <= tol
    # broken variant: a minimum claimed at k = eps/2 (e.g. the square root forgotten) is far off
    other = pw.shifted_minimum("wn", lam=0.1, eps=0.25)
    assert abs((0.5 - found["k_minus_eps"]) - 0.25) > tol and other["k_minus_eps"] <= 1e-6


def test_printed_eq27_eq28_pass_and_broken_variants_fail():
    assert pw.penalty_grad_gaps(pw.paper_eq27, "wn", cases=10) <= 1.0
    assert pw.penalty_grad_gaps(pw.paper_eq28, "ws", cases=10) <= 1.0
    k2 = lambda w, lam, eps: lam * (1 - eps / torch.linalg.vector_norm(w, dim=1, keepdim=True) ** 2) * w
    assert pw.penalty_grad_gaps(k2, "wn", cases=10) > 1.0
    swapped = lambda w, lam, eps: pw.paper_eq27(w, lam, eps)  # the WN formula used for WS
    assert pw.penalty_grad_gaps(swapped, "ws", cases=10) > 1.0


def test_norm_floor_holds_for_sgd_and_breaks_for_underdamped_momentum():
    ok = pw.norm_floor_run("momentum", lr=0.1, lam=0.02, eps=0.1, steps=150)
    bad = pw.norm_floor_run("momentum", lr=0.1, lam=0.1, eps=0.1, steps=150)
    assert ok["min_norm_over_eps"] >= 1 - 1e-12
    assert bad["min_norm_over_eps"] < 0.5
    assert pw.norm_floor_run("sgd", lr=0.5, lam=2.0, eps=0.1, steps=50)["min_norm_over_eps"] >= 1 - 1e-12
