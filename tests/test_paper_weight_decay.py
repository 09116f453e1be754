"""Eqs. (4), (8)-(13), (26)-(28) (normtheory.claims.paper_weight_decay): the objective with L2 and the
eps-shifted penalty's gradients; each property and a plausible broken variant that must fail; replay of
the corrected claims from their JSON record. Test names carry the claim id (``pytest -k PAPER_ws_constraint``)."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from normtheory import regularizers
from normtheory.claims import paper_weight_decay as weight_decay
from normtheory.models import ScaleInvariantNet


def test_PAPER_no_global_minimum_shrinking_helps_with_l2_but_not_with_the_shift():
    net = ScaleInvariantNet("wn", seed=3)
    ok = weight_decay.shrink_gaps(net, weight_decay._l2(0.1), 0.1, cases=10)
    assert ok["always_lower"] and ok["drop_formula_err_over_tol"] <= 1.0
    shifted = weight_decay.shrink_gaps(net, lambda w: regularizers.eps_shifted_l2(w, lam=0.1, eps=5.0), 0.1, cases=10)
    assert not shifted["always_lower"]


def test_PAPER_no_global_minimum_drop_formula_fails_for_wrong_lambda():
    net = ScaleInvariantNet("ws", seed=3)
    assert weight_decay.shrink_gaps(net, weight_decay._l2(0.1), 0.2, cases=5)["drop_formula_err_over_tol"] > 1.0


def test_PAPER_wd_optimal_direction_l2_keeps_directions_and_fails_for_l1():
    net = ScaleInvariantNet("wn", seed=4)
    assert weight_decay.direction_gaps(net, weight_decay._l2(0.1), cases=5)["tangential_err_over_tol"] <= 1.0
    l1 = lambda w: 0.1 * w.abs().sum()  # noqa: E731
    assert weight_decay.direction_gaps(net, l1, cases=5)["tangential_err_over_tol"] > 1.0


def test_PAPER_wd_optimal_direction_radial_derivative_is_lambda_k():
    net = ScaleInvariantNet("wn", seed=4)
    found = weight_decay.direction_gaps(net, weight_decay._l2(0.3), cases=5)
    assert abs(found["min_radial_over_k"] - 0.3) < 1e-12
    # the eps-shifted penalty (Eq. 25) has a stationary k: its radial derivative changes sign
    shifted = weight_decay.direction_gaps(net, lambda w: regularizers.eps_shifted_l2(w, lam=0.3, eps=50.0, form="wn"), cases=5)
    assert shifted["min_radial_over_k"] < 0


def test_PAPER_eps_shift_gradients_printed_eq27_eq28_pass_and_broken_variants_fail():
    assert weight_decay.penalty_grad_gaps(weight_decay.paper_eq27, "wn", cases=10) <= 1.0
    assert weight_decay.penalty_grad_gaps(weight_decay.paper_eq28, "ws", cases=10) <= 1.0
    k2 = lambda w, lam, eps: lam * (1 - eps / torch.linalg.vector_norm(w, dim=1, keepdim=True) ** 2) * w  # noqa: E731
    assert weight_decay.penalty_grad_gaps(k2, "wn", cases=10) > 1.0
    swapped = lambda w, lam, eps: weight_decay.paper_eq27(w, lam, eps)  # noqa: E731  (the WN formula used for WS)
    assert weight_decay.penalty_grad_gaps(swapped, "ws", cases=10) > 1.0


def test_PAPER_ws_constraint_replay_and_a_variance_of_n_minus_1_fails():
    record = json.loads(json.dumps(weight_decay.check_ws_constraint().to_json()))
    assert weight_decay.replay_ws_constraint(record) == record["counterexample"]["reproduces"]
    assert abs(record["counterexample"]["reproduces"]["norm_B_over_sqrt_n"] - 1) < 1e-14
    changed = copy.deepcopy(record)
    changed["counterexample"]["weight"][0].append(3.0)  # n = 8
    assert weight_decay.replay_ws_constraint(changed)["n"] == 8 != record["counterexample"]["reproduces"]["n"]


@pytest.mark.parametrize("check, replay, tamper", [
    (weight_decay.check_wd_optimal_direction, weight_decay.replay_wd_optimal_direction, lambda ce: ce.__setitem__("lam", 0.25)),
], ids=["PAPER_wd_optimal_direction"])
def test_replay_from_json(check, replay, tamper):
    record = json.loads(json.dumps(check().to_json()))
    assert replay(record) == record["counterexample"]["reproduces"]
    changed = copy.deepcopy(record)
    tamper(changed["counterexample"])
    assert replay(changed) != record["counterexample"]["reproduces"]


