"""Eqs. (4), (8)-(13), (25)-(28), Sec. 6.2: the objective with L2 and eps-shifted L2; each property and
a plausible broken variant that must fail; replay of the corrected claims from their JSON record.

Test names carry the claim id (``pytest -k PAPER_eps_shift_floor``)."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from normtheory import regularizers as rg
from normtheory.claims import paper_weight_decay as pw
from normtheory.models import ScaleInvariantNet


def test_PAPER_no_global_minimum_shrinking_helps_with_l2_but_not_with_the_shift():
    net = ScaleInvariantNet("wn", seed=3)
    ok = pw.shrink_gaps(net, pw._l2(0.1), 0.1, cases=10)
    assert ok["always_lower"] and ok["drop_formula_err_over_tol"] <= 1.0
    shifted = pw.shrink_gaps(net, lambda w: rg.eps_shifted_l2(w, lam=0.1, eps=5.0), 0.1, cases=10)
    assert not shifted["always_lower"]


def test_PAPER_no_global_minimum_drop_formula_fails_for_wrong_lambda():
    net = ScaleInvariantNet("ws", seed=3)
    assert pw.shrink_gaps(net, pw._l2(0.1), 0.2, cases=5)["drop_formula_err_over_tol"] > 1.0


def test_PAPER_wd_optimal_direction_l2_keeps_directions_and_l1_does_not():
    net = ScaleInvariantNet("wn", seed=4)
    assert pw.direction_gaps(net, pw._l2(0.1), cases=5)["tangential_err_over_tol"] <= 1.0
    l1 = lambda w: 0.1 * w.abs().sum()  # noqa: E731
    assert pw.direction_gaps(net, l1, cases=5)["tangential_err_over_tol"] > 1.0


def test_PAPER_wd_optimal_direction_radial_derivative_is_lambda_k():
    net = ScaleInvariantNet("wn", seed=4)
    found = pw.direction_gaps(net, pw._l2(0.3), cases=5)
    assert abs(found["min_radial_over_k"] - 0.3) < 1e-12
    # the eps-shifted penalty (Eq. 25) has a stationary k: its radial derivative changes sign
    shifted = pw.direction_gaps(net, lambda w: rg.eps_shifted_l2(w, lam=0.3, eps=50.0, form="wn"), cases=5)
    assert shifted["min_radial_over_k"] < 0


def test_PAPER_eps_shift_minimum_at_eps_and_a_penalty_without_the_root_fails():
    found = pw.shifted_minimum("wn", lam=0.1, eps=0.5)
    tol = 2 * found["final_grad_norm"] / 0.1 + 1e-12
    assert found["k_minus_eps"] <= tol

    def squared_norm_shift(w, *, lam, eps, form):  # 1/2 lam (||W||^2 - eps)^2: the square root forgotten
        return 0.5 * lam * (w.square().sum(dim=1) - eps).square().sum()

    broken = pw.shifted_minimum("wn", lam=0.1, eps=0.5, penalty=squared_norm_shift)
    assert broken["k_minus_eps"] > 2 * broken["final_grad_norm"] / 0.1 + 1e-12  # minimum at sqrt(eps)


def test_PAPER_eps_shift_gradients_printed_eq27_eq28_pass_and_broken_variants_fail():
    assert pw.penalty_grad_gaps(pw.paper_eq27, "wn", cases=10) <= 1.0
    assert pw.penalty_grad_gaps(pw.paper_eq28, "ws", cases=10) <= 1.0
    k2 = lambda w, lam, eps: lam * (1 - eps / torch.linalg.vector_norm(w, dim=1, keepdim=True) ** 2) * w  # noqa: E731
    assert pw.penalty_grad_gaps(k2, "wn", cases=10) > 1.0
    swapped = lambda w, lam, eps: pw.paper_eq27(w, lam, eps)  # noqa: E731  (the WN formula used for WS)
    assert pw.penalty_grad_gaps(swapped, "ws", cases=10) > 1.0


def test_PAPER_eps_shift_floor_holds_for_sgd_and_breaks_for_underdamped_momentum():
    ok = pw.norm_floor_run("momentum", lr=0.1, lam=0.02, eps=0.1, steps=150)
    bad = pw.norm_floor_run("momentum", lr=0.1, lam=0.1, eps=0.1, steps=150)
    assert ok["min_norm_over_eps"] >= 1 - 1e-12
    assert bad["min_norm_over_eps"] < 0.5
    assert pw.norm_floor_run("sgd", lr=0.5, lam=2.0, eps=0.1, steps=50)["min_norm_over_eps"] >= 1 - 1e-12
    # plain SGD past lr lam = 1 overshoots: the radial step k -> k - lr lam (k - eps) flips sign
    assert pw.norm_floor_run("sgd", lr=1.0, lam=1.5, eps=0.1, steps=50)["min_norm_over_eps"] < 1 - 1e-12


def test_PAPER_ws_constraint_replay_and_a_variance_of_n_minus_1_fails():
    record = json.loads(json.dumps(pw.check_ws_constraint().to_json()))
    assert pw.replay_ws_constraint(record) == record["counterexample"]["reproduces"]
    assert abs(record["counterexample"]["reproduces"]["norm_B_over_sqrt_n"] - 1) < 1e-14
    changed = copy.deepcopy(record)
    changed["counterexample"]["weight"][0].append(3.0)  # n = 8
    assert pw.replay_ws_constraint(changed)["n"] == 8 != record["counterexample"]["reproduces"]["n"]


@pytest.mark.parametrize("check, replay, tamper", [
    (pw.check_wd_optimal_direction, pw.replay_wd_optimal_direction, lambda ce: ce.__setitem__("lam", 0.25)),
    pytest.param(pw.check_eps_shift_floor, pw.replay_eps_shift_floor,
                 lambda ce: ce["runs"]["adam+loss"].__setitem__("lr", 0.01), marks=pytest.mark.slow),
], ids=["PAPER_wd_optimal_direction", "PAPER_eps_shift_floor"])
def test_replay_from_json(check, replay, tamper):
    record = json.loads(json.dumps(check().to_json()))
    assert replay(record) == record["counterexample"]["reproduces"]
    changed = copy.deepcopy(record)
    tamper(changed["counterexample"])
    assert replay(changed) != record["counterexample"]["reproduces"]


def test_PAPER_eps_shift_floor_replay_short_record():
    # the full claim replays under -m slow; the same code on a 60-step momentum record, quickly
    net, w0 = pw.floor_start(with_loss=True)
    from normtheory.claims._replay import net_record

    runs = {"m": {"optimizer": "momentum", "lr": 0.1, "lam": 0.3, "eps": 0.1, "steps": 60, "momentum": 0.9}}
    record = {"counterexample": {"model": net_record(net, net.init()), "w0": w0.tolist(), "runs": runs}}
    first = pw.replay_eps_shift_floor(record)
    assert first == {"m": pw.norm_floor_run("momentum", net=net, w0=w0, lr=0.1, lam=0.3, eps=0.1, steps=60)[
        "min_norm_over_eps"]}
    record["counterexample"]["w0"][0][0] += 1.0
    assert pw.replay_eps_shift_floor(record) != first
