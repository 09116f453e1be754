"""Paper Eqs. (14)-(16), (23)-(24): exact gradients through WN/WS vs autograd, and broken variants."""

from __future__ import annotations

import numpy as np
import torch
import pytest
from hypothesis import example, given, strategies as st

import copy
import json

from normtheory import reparam
from normtheory.claims import all_claims, paper_gradients as gradients

scales = st.floats(min_value=-8, max_value=8).map(lambda e: 10.0 ** e)


def _draw(seed, out_ch, n, scale, shift):
    rng = np.random.default_rng(seed)
    w = torch.from_numpy(rng.standard_normal((out_ch, n)) * scale + shift * scale)
    g = torch.from_numpy(rng.standard_normal((out_ch, n)))
    return w, g


@given(seed=st.integers(0, 2**32 - 1), out_ch=st.integers(1, 5), n=st.integers(2, 40), scale=scales,
       shift=st.floats(-3, 3))
@example(seed=0, out_ch=1, n=2, scale=1e-8, shift=3.0)
def test_PAPER_wn_gradient_exact_matches_autograd(seed, out_ch, n, scale, shift):
    w, g = _draw(seed, out_ch, n, scale, shift)
    ref = gradients._vjp(lambda x: reparam.weight_norm(x, dim=0), w, g)
    k = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    assert bool(((gradients.exact_wn_grad(w, g) - ref).abs() <= gradients.grad_tolerance(n, g, k)).all())


@given(seed=st.integers(0, 2**32 - 1), out_ch=st.integers(1, 5), n=st.integers(3, 40), scale=scales,
       shift=st.floats(-3, 3))
def test_PAPER_ws_gradient_exact_matches_autograd(seed, out_ch, n, scale, shift):
    w, g = _draw(seed, out_ch, n, scale, shift)
    ref = gradients._vjp(lambda x: reparam.weight_standardization(x, dim=0), w, g)
    v = gradients._ws_stats(w)[2]
    # the shift adds cancellation kappa = max|w| / v to the centering's round-off
    kappa = float((w.abs().amax(dim=1, keepdim=True) / v).max())
    assert bool(((gradients.exact_ws_grad(w, g) - ref).abs() <= kappa * gradients.grad_tolerance(n, g, v)).all())


def test_PAPER_wn_gradient_and_PAPER_ws_gradient_printed_formulas_fail():
    # the element-wise Eq. (14)/(16) keep only the Jacobian's diagonal
    assert gradients.gradient_gaps(gradients.paper_wn_grad, "wn", cases=10)["worst_err_over_tol"] > 1e6
    assert gradients.gradient_gaps(gradients.paper_ws_grad, "ws", cases=10)["worst_err_over_tol"] > 1e6


def test_PAPER_wn_gradient_check_fails_on_sign_flip():
    flipped = lambda w, g: -gradients.exact_wn_grad(w, g)
    assert gradients.gradient_gaps(flipped, "wn", cases=5)["worst_err_over_tol"] > 1.0


def test_PAPER_wn_gradient_scale_law_holds_and_fails_for_k_squared():
    assert gradients.scale_law_gaps(gradients.exact_wn_grad, "wn") <= 1.0
    assert gradients.scale_law_gaps(gradients.exact_ws_grad, "ws") <= 1.0
    # dividing by ||W||^2 (the angular rate) instead of ||W|| breaks c * grad(cW) = grad(W)
    k2 = lambda w, g: gradients.exact_wn_grad(w, g) / torch.linalg.vector_norm(w, dim=1, keepdim=True)
    assert gradients.scale_law_gaps(k2, "wn") > 1.0


def test_PAPER_ws_eps_overflow_eq24_is_the_diagonal_and_a_wrong_diagonal_fails():
    found = gradients.ws_eps_jacobian_gaps()
    assert found["eq24_diag_err_over_tol"] <= 1.0
    assert found["max_opnorm_times_eps"] <= 1.0 + 1e-12

    def no_eps_in_second_term(w, eps):  # 1/(n v^2) in place of 1/(n v (v+eps))
        n, c, v = gradients._ws_stats(w)
        return (1 - 1 / n - c**2 / (n * v * v)) / (v + eps)

    assert gradients.ws_eps_jacobian_gaps(no_eps_in_second_term)["eq24_diag_err_over_tol"] > 1.0


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 20), log_spread=st.floats(-14, 2),
       log_eps=st.floats(-6, 0))
def test_PAPER_ws_eps_overflow_gradient_bounded_by_one_over_eps(seed, n, log_spread, log_eps):
    rng = np.random.default_rng(seed)
    eps = 10.0**log_eps
    w = torch.from_numpy(rng.standard_normal((1, n)) * 10.0**log_spread)
    g = torch.from_numpy(rng.standard_normal((1, n)))
    grad = gradients._vjp(lambda x: reparam.weight_standardization(x, eps=eps, dim=0), w, g)
    # ||J||_2 = 1/(v + eps) <= 1/eps; 1e-12 relative slack for round-off
    assert float(torch.linalg.vector_norm(grad)) <= float(torch.linalg.vector_norm(g)) / eps * (1 + 1e-12)


def test_PAPER_ws_eps_overflow_float_scan_reports_the_failure_modes():
    scan = gradients.float_overflow_scan()
    # the naive float32 implementation fails only once the variance underflows (spread ~ 1e-19 or below)
    assert scan["float32/naive"]["first_nonfinite_spread"] < 1e-15
    assert scan["float32/scaled"]["first_nonfinite_spread"] is None
    # float16 fails at ordinary spreads: 1/(v+eps)^2 in the backward pass overflows 65504
    assert scan["float16/naive"]["first_nonfinite_spread"] > 1e-4


def test_PAPER_ws_gradient_fails_without_the_mean_term():
    # forgetting -mean(g) (the centering's Jacobian) leaves a gradient that is not shift invariant
    def no_mean(w, g):
        n, c, v = gradients._ws_stats(w)
        return (g - c * (c * g).sum(dim=1, keepdim=True) / (n * v * v)) / v

    assert gradients.gradient_gaps(no_mean, "ws", cases=10)["worst_err_over_tol"] > 1.0


def test_PAPER_ws_eps_overflow_without_eps_the_gradient_is_unbounded():
    # the 1/eps bound is the eps's doing: plain WS (Eq. 7) at spread 1e-12 exceeds ||g||/1e-5 by far
    rng = np.random.default_rng(0)
    w = torch.from_numpy(rng.standard_normal((1, 9)) * 1e-12)
    g = torch.from_numpy(rng.standard_normal((1, 9)))
    grad = gradients._vjp(lambda x: reparam.weight_standardization(x, dim=0), w, g)
    assert float(torch.linalg.vector_norm(grad)) > 1e3 * float(torch.linalg.vector_norm(g)) / 1e-5


@pytest.mark.parametrize("check, tamper", [
    (gradients.check_wn_gradient, lambda ce: ce["weight"][0].__setitem__(0, 3.0)),
    (gradients.check_ws_gradient, lambda ce: ce["upstream_gradient"][1].__setitem__(2, -4.0)),
    (gradients.check_ws_eps_overflow, lambda ce: ce.__setitem__("eps", 1e-2)),
], ids=["PAPER_wn_gradient", "PAPER_ws_gradient", "PAPER_ws_eps_overflow"])
def test_replay_from_json(check, tamper):
    record = json.loads(json.dumps(check().to_json()))
    claim = next(c for c in all_claims() if c.check is check)
    assert claim.replay(record) == record["counterexample"]["reproduces"]
    changed = copy.deepcopy(record)
    tamper(changed["counterexample"])
    assert claim.replay(changed) != record["counterexample"]["reproduces"]
