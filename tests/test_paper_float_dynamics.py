"""Secs. 3.2, 4.2, 5.1, Fig. 6 (normtheory.claims.paper_float_dynamics) and normtheory.float_limits: each
property and a plausible broken variant that must fail; the corrected claim replays from its JSON record.
Test names carry the claim id."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from normtheory import float_limits as fl
from normtheory import reparam
from normtheory.claims import paper_float_dynamics as pf
from normtheory.models import ScaleInvariantNet
from normtheory.registry import Verdict


def test_PAPER_k_to_zero_settles_at_equilibrium_but_a_unit_without_gradient_shrinks():
    found = pf.equilibrium_comparison(pf.minibatch_norms(lam=0.05, steps=150))
    assert all(1 / 1.25 <= r <= 1.25 for r in found["last_over_pred"])
    assert all(r > 0.5 for r in found["last_over_middle"])
    dead = ScaleInvariantNet("wn", batch=64, seed=0)
    dead.head = torch.zeros_like(dead.head)  # no loss gradient: only the L2 pull is left
    s = pf.minibatch_norms(lam=0.05, steps=150, net=dead)["s"]
    assert np.all(s[-50:].mean(axis=0) < 0.5 * s[-100:-50].mean(axis=0))  # what the as-written test asks
    with pytest.raises(ValueError, match="grad_norm"):  # and no equilibrium exists for G = 0
        pf.equilibrium_comparison(pf.minibatch_norms(lam=0.05, steps=30, net=dead))


def test_PAPER_k_to_zero_decay_applied_twice_misses_the_equilibrium():
    run = pf.minibatch_norms(lam=0.1, steps=150)  # optimizer weight_decay and an L2 term: lam counted twice
    assert not all(1 / 1.25 <= r <= 1.25 for r in pf.equilibrium_comparison(dict(run, lam=0.05))["last_over_pred"])


def test_PAPER_k_to_zero_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(pf.check_k_to_zero().to_json()))
    assert pf.replay_k_to_zero(ev) == ev["counterexample"]["reproduces"]
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lam"] = 0.02
    assert pf.replay_k_to_zero(bad) != ev["counterexample"]["reproduces"]


def test_PAPER_eff_lr_growth_identity_holds_without_decay_and_fails_with_it():
    ok = pf.growth_checks(pf.minibatch_norms(lam=0.0, steps=80))
    assert ok["monotone"] and ok["bound_holds"] and ok["step_identity_over_tol"] <= 1
    decayed = pf.growth_checks(pf.minibatch_norms(lam=0.05, steps=80))
    assert not decayed["monotone"] and decayed["step_identity_over_tol"] > 1


def test_PAPER_eff_lr_overflow_is_a_property_of_the_kernel():
    w = torch.randn(2, 27, generator=torch.Generator().manual_seed(0))
    r = torch.randn(2, 27, generator=torch.Generator().manual_seed(1))
    kernel = fl.shrink_threshold(fl.torch_weight_norm, w, r)
    assert kernel.what == "gradient" and 1e-22 < kernel.size_at_failure < 1e-17
    # the library's scaled norm keeps float32 usable ~1e15 times further down
    scaled = fl.shrink_threshold(lambda x: reparam.weight_norm(x, dim=0), w, r)
    assert scaled.size_at_failure < 1e-3 * kernel.size_at_failure
    # float64 moves the kernel's threshold to ~1e-150
    assert fl.shrink_threshold(fl.torch_weight_norm, w.double(), r.double(), dtype=torch.float64).size_at_failure < 1e-140


def test_PAPER_eff_lr_overflow_check_fails_for_a_normalizer_with_bounded_effective_lr(monkeypatch):
    # the check, run on a WN/WS that adds eps to the norm/std (so lr/(||W|| + eps) stays bounded as ||W|| -> 0),
    # finds no overflow: the scan reaches a row that underflows to zero first and the check cannot confirm
    def eps_thresholds(shapes):
        return pf.float32_thresholds(shapes=shapes[:1], rows=2, normalizers=(
            ("wn", lambda x: x / (torch.linalg.vector_norm(x, dim=1, keepdim=True) + 1e-5), "norm"),
            ("ws", lambda x: reparam.weight_standardization(x, eps=1e-5, dim=0), "std")))

    monkeypatch.setattr(pf, "_thresholds", eps_thresholds)
    with pytest.raises(ValueError, match="underflowed to zero"):
        pf.check_eff_lr_overflow()


def test_PAPER_fig6_rate_check_fails_when_the_rate_forgets_the_momentum(monkeypatch):
    # small shapes keep it fast; the measured thresholds are the real kernels'
    monkeypatch.setattr(pf, "_thresholds", lambda shapes: pf.float32_thresholds(shapes=shapes[:2], rows=2))
    assert pf.check_fig6_rate().verdict is Verdict.CONFIRMED
    # the broken variant: heavy ball without momentum (alpha = 1 - lr lam), the failure comes after 100k
    plain_sgd = pf.decay_only_rate
    monkeypatch.setattr(pf, "decay_only_rate", lambda **kw: plain_sgd(**dict(kw, momentum=0.0)))
    assert pf.check_fig6_rate().verdict is Verdict.REFUTED


def test_float_limits_refuses_bad_input():
    w = torch.randn(2, 5)
    with pytest.raises(ValueError, match="measure"):
        fl.shrink_threshold(fl.torch_weight_norm, w, w, measure="mean")
    with pytest.raises(ValueError, match="upstream"):
        fl.shrink_threshold(fl.torch_weight_norm, w, torch.randn(2, 4))
    with pytest.raises(ValueError, match="nothing"):
        fl.shrink_threshold(lambda x: x, w, w, dtype=torch.float64, max_halvings=10)


def test_PAPER_adam_square_overflow_threshold_and_a_formula_without_beta2_fails():
    found = fl.adam_second_moment_bracket()
    assert found["finite_below"] and found["inf_above"] and found["param_after_overflow"] == 1.0
    wrong = math.sqrt(float(torch.finfo(torch.float32).max))  # forgets the (1 - beta2) factor
    after = fl.optimizer_step_after(lambda p: torch.optim.Adam(p, lr=1e-3), 1.01 * wrong)
    assert math.isfinite(after["state"]["exp_avg_sq"])
    other = fl.adam_second_moment_bracket(beta2=0.99)
    assert other["finite_below"] and other["inf_above"] and other["predicted"] < found["predicted"]


def test_PAPER_fig6_rate_root_matches_torch_and_a_broken_momentum_free_rate_fails_the_window():
    rate = pf.decay_only_rate(lr=0.1, lam=1e-3, momentum=0.9, steps=400)
    assert abs(rate["alpha_measured"] / rate["alpha_pred"] - 1) <= 1e-9
    wrong = pf.decay_only_rate(lr=0.1, lam=1e-3, momentum=0.0, steps=400)
    assert abs(wrong["alpha_pred"] - (1 - 1e-4)) < 1e-15
    th = pf.float32_thresholds(shapes=pf.RESNET50_CONV_SHAPES[:2], rows=2)
    its = pf.resnet50_failure_iterations(th, rate["rate_per_iter"])
    assert all(25_000 <= i <= 100_000 for v in its.values() for i in v["iterations"])
    # the rate without the momentum's 1/(1 - mu) amplification puts the failure past 100k iterations
    slow = pf.resnet50_failure_iterations(th, wrong["rate_per_iter"])
    assert all(min(v["iterations"]) > 100_000 for v in slow.values())


def test_PAPER_sec51_gradient_label_exact_gradient_would_pass_and_lr_squared_fails():
    from normtheory import jacobians

    found = pf.sec51_gaps(cases=8)
    assert found["vs_gradient_over_tol"] > 1 and found["vs_lr_times_eq14_over_tol"] <= 1
    exact = pf.sec51_gaps(cases=8, expression=lambda w, g, lr: jacobians.wn_vjp(w, g))
    assert exact["vs_gradient_over_tol"] <= 1
    squared = pf.sec51_gaps(cases=8, expression=lambda w, g, lr: lr * pf.sec51_expression(w, g, lr))
    assert squared["vs_lr_times_eq14_over_tol"] > 1


def test_PAPER_sec51_gradient_label_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(pf.check_sec51_gradient_label().to_json()))
    assert pf.replay_sec51(ev) == ev["counterexample"]["reproduces"]
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lr"] = 0.2
    assert pf.replay_sec51(bad) != ev["counterexample"]["reproduces"]


def test_PAPER_eps_avoids_overflow_margin_and_a_tiny_eps_fails():
    th = {"wn x": {"size_at_failure": 4e-20}, "ws x": {"size_at_failure": 2e-19}}
    ok = pf.eps_margin(th)
    assert min(ok["margin"].values()) == pytest.approx(1e-8 / 2e-19)
    # an eps near the failure size (a plausible mis-set eps, e.g. 1e-18) leaves no margin
    assert min(pf.eps_margin(th, eps_values=(1e-18,))["margin"].values()) < 1e6
