"""Eqs. (25)-(26), Sec. 6.2 (normtheory.claims.paper_eps_shift): where the eps-shifted objective has its
minimum and whether training keeps ||W|| >= eps; each property and a plausible broken variant that must
fail; replay of the corrected floor claim from its JSON record. Test names carry the claim id
(``pytest -k PAPER_eps_shift_floor``)."""

from __future__ import annotations

import copy
import json

import pytest

from normtheory.claims import paper_eps_shift as eps_shift
from normtheory.claims._replay import net_record


def test_PAPER_eps_shift_minimum_at_eps_and_a_penalty_without_the_root_fails():
    found = eps_shift.shifted_minimum("wn", lam=0.1, eps=0.5)
    tol = 2 * found["final_grad_norm"] / 0.1 + 1e-12
    assert found["k_minus_eps"] <= tol

    def squared_norm_shift(w, *, lam, eps, form):  # 1/2 lam (||W||^2 - eps)^2: the square root forgotten
        return 0.5 * lam * (w.square().sum(dim=1) - eps).square().sum()

    broken = eps_shift.shifted_minimum("wn", lam=0.1, eps=0.5, penalty=squared_norm_shift)
    assert broken["k_minus_eps"] > 2 * broken["final_grad_norm"] / 0.1 + 1e-12  # minimum at sqrt(eps)


def test_PAPER_eps_shift_floor_holds_for_sgd_and_breaks_for_underdamped_momentum():
    ok = eps_shift.norm_floor_run("momentum", lr=0.1, lam=0.02, eps=0.1, steps=150)
    bad = eps_shift.norm_floor_run("momentum", lr=0.1, lam=0.1, eps=0.1, steps=150)
    assert ok["min_norm_over_eps"] >= 1 - 1e-12
    assert bad["min_norm_over_eps"] < 0.5
    assert eps_shift.norm_floor_run("sgd", lr=0.5, lam=2.0, eps=0.1, steps=50)["min_norm_over_eps"] >= 1 - 1e-12
    # plain SGD past lr lam = 1 overshoots: the radial step k -> k - lr lam (k - eps) flips sign
    assert eps_shift.norm_floor_run("sgd", lr=1.0, lam=1.5, eps=0.1, steps=50)["min_norm_over_eps"] < 1 - 1e-12


def test_PAPER_eps_shift_floor_replay_short_record():
    # the full claim replays under -m slow; the same code on a 60-step momentum record, quickly
    net, w0 = eps_shift.floor_start(with_loss=True)
    runs = {"m": {"optimizer": "momentum", "lr": 0.1, "lam": 0.3, "eps": 0.1, "steps": 60, "momentum": 0.9}}
    record = {"counterexample": {"model": net_record(net, net.init()), "w0": w0.tolist(), "runs": runs}}
    first = eps_shift.replay_eps_shift_floor(record)
    assert first == {"m": eps_shift.norm_floor_run("momentum", net=net, w0=w0, lr=0.1, lam=0.3, eps=0.1, steps=60)[
        "min_norm_over_eps"]}
    record["counterexample"]["w0"][0][0] += 1.0
    assert eps_shift.replay_eps_shift_floor(record) != first


@pytest.mark.slow
def test_PAPER_eps_shift_floor_replay_from_json_and_tampered_record_fails():
    record = json.loads(json.dumps(eps_shift.check_eps_shift_floor().to_json()))
    assert eps_shift.replay_eps_shift_floor(record) == record["counterexample"]["reproduces"]
    changed = copy.deepcopy(record)
    changed["counterexample"]["runs"]["adam+loss"]["lr"] = 0.01
    assert eps_shift.replay_eps_shift_floor(changed) != record["counterexample"]["reproduces"]
