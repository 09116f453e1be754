"""Lecture 5 counter-measures: exponential LR (Li-Arora), explicit normalization, the weight-decay
equilibrium; each property, then a broken variant that must fail."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import dynamics
from normtheory.claims import lecture_schedules as schedules
from normtheory.roundoff import EPS64
from normtheory.toy_models import train_minibatch_wn


@given(lr=st.floats(1e-3, 1.0), lam=st.floats(1e-4, 0.1), mu=st.sampled_from([0.0, 0.5, 0.9]))
@example(lr=1.0, lam=0.1, mu=0.0)
def test_L5_exp_lr_equivalence_alpha_solves_characteristic_equation(lr, lam, mu):
    if mu > 0 and lr * lam > (1 - math.sqrt(mu)) ** 2:
        with pytest.raises(ValueError, match="no real alpha"):
            dynamics.exponential_lr_schedule(5, lr=lr, lam=lam, momentum=mu)
        return
    sched = dynamics.exponential_lr_schedule(5, lr=lr, lam=lam, momentum=mu)
    a = sched.alpha
    assert abs(a * a - (1 + mu - lr * lam) * a + mu) <= 8 * EPS64 * (1 + mu + a)
    assert np.allclose(sched.multipliers, a ** -(2 * np.arange(5) + 1.0), rtol=1e-13)
    if mu == 0:
        assert np.allclose(sched.multipliers, dynamics.theorem1_multipliers(5, lr=lr, lam=lam), rtol=1e-13)
        assert sched.initial_buffer_factor == pytest.approx((1 - 1 / a) / lr)


def test_L5_exp_lr_equivalence_holds_with_and_without_momentum():
    model = schedules.MinibatchWN(seed=1)
    for mu in (0.0, 0.9):
        found = schedules.exp_lr_equivalence(model, lr=0.1, lam=0.02, momentum=mu, steps=15, seed=2)
        assert found["gap_over_tol"] <= 1.0, found


def test_L5_exp_lr_equivalence_fails_with_empty_buffer():
    model = schedules.MinibatchWN(seed=1)
    found = schedules.exp_lr_equivalence(model, lr=0.1, lam=0.02, momentum=0.9, steps=15, seed=2, buffer="zero")
    assert found["gap_over_tol"] > 1.0


def test_L5_exp_lr_equivalence_fails_with_the_momentum_free_alpha():
    # broken schedule: alpha = 1 - lr lam (Theorem 1's) used with momentum 0.9
    model = schedules.MinibatchWN(seed=1)
    v0, batches = model.init(), model.batches(15, 2)
    a = train_minibatch_wn(model, v0, batches, lr=0.1, lam=0.02, momentum=0.9)
    wrong = dynamics.theorem1_multipliers(15, lr=0.1, lam=0.02)
    b = train_minibatch_wn(model, v0, batches, lr=0.1, momentum=0.9, multipliers=wrong)
    assert float((a["directions"] - b["directions"]).abs().max()) > 1e-6


def test_L5_counteract_lr_decay_explicit_normalization_gives_lr():
    model = schedules.MinibatchWN(seed=2)
    run = train_minibatch_wn(model, model.init(scale=3.0), model.batches(10, 0), lr=0.3, project=True)
    assert torch.allclose(run["effective_lr"][1:], torch.full_like(run["effective_lr"][1:], 0.3), rtol=1e-14)
    plain = train_minibatch_wn(model, model.init(scale=3.0), model.batches(10, 0), lr=0.3)
    assert not torch.allclose(plain["effective_lr"][1:], torch.full_like(plain["effective_lr"][1:], 0.3), rtol=1e-3)


@given(lr=st.floats(1e-3, 1.0), lam=st.floats(1e-4, 0.5), g=st.floats(-3, 3).map(lambda e: 10.0 ** e))
def test_L5_wd_equilibrium_is_a_fixed_point(lr, lam, g):
    eq = dynamics.weight_decay_equilibrium(lr=lr, lam=lam, grad_norm=g)
    q = 1 - lr * lam
    nxt = q * q * eq.norm_sq + lr**2 * g**2 / eq.norm_sq
    assert abs(nxt - eq.norm_sq) <= 16 * EPS64 * eq.norm_sq
    assert eq.effective_lr == pytest.approx(lr / eq.norm_sq)


def test_L5_wd_equilibrium_fails_for_the_naive_fixed_point():
    # s* = lr G / sqrt(2 lr lam) drops the (lr lam)^2 term: the simulated norm does not settle there
    def naive(*, lr, lam, grad_norm):
        s = lr * grad_norm / math.sqrt(2 * lr * lam)
        return dynamics.WeightDecayEquilibrium(norm_sq=s, effective_lr=lr / s, angular_update=math.sqrt(2 * lr * lam),
                                               relaxation=2 * (1 - lr * lam) ** 2 - 1)

    found = schedules.constant_g_equilibrium(0.5, 0.2, equilibrium=naive)
    assert found["final_err_over_tol"] > 1


def test_L5_wd_equilibrium_constant_g_run_reaches_prediction():
    found = schedules.constant_g_equilibrium(0.1, 0.5)
    assert found["final_err_over_tol"] <= 1 and found["contraction_err_over_tol"] <= 1


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": -1.0, "lam": 0.1}, "lr must be > 0"),
    ({"lr": 1.0, "lam": 1.0}, "lr \\* lam must be < 1"),
    ({"lr": 0.1, "lam": 0.1, "momentum": 1.0}, "momentum must be < 1"),
    ({"lr": 0.1, "lam": -0.1}, "lam must be >= 0"),
])
def test_L5_exp_lr_equivalence_schedule_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dynamics.exponential_lr_schedule(5, **kwargs)


def test_L5_wd_equilibrium_bad_input():
    with pytest.raises(ValueError, match="grad_norm"):
        dynamics.weight_decay_equilibrium(lr=0.1, lam=0.1, grad_norm=0.0)
    with pytest.raises(ValueError, match="lam must be > 0"):
        dynamics.weight_decay_equilibrium(lr=0.1, lam=0.0, grad_norm=1.0)
    with pytest.raises(TypeError, match="steps"):
        dynamics.exponential_lr_schedule(2.5, lr=0.1, lam=0.1)


def test_L5_counteract_lr_decay_exact_model():
    found = schedules.counteract_exact(steps=300)
    assert found["plain_monotone"] and found["plain_over_sqrt_bound"] <= 1
    assert found["exp_vs_decay_err_over_tol"] <= 1 and found["unit_err_over_tol"] <= 1
    assert found["plain_final_effective_lr"] < 0.5 * found["decay_limit"]  # plain decays below WD's level
    assert schedules.counteract_exact()["decay_limit_err_over_tol"] <= 1


def test_L5_counteract_lr_decay_fails_with_another_exponential_base():
    # a = 1 - lr lam / 2 (a plausible slip) no longer tracks the weight-decay run
    assert schedules.counteract_exact(steps=300, exp_alpha=1 - 0.5 * 0.02 / 2)["exp_vs_decay_err_over_tol"] > 1


def test_L5_counteract_lr_decay_claim_refuted_when_projection_is_skipped(monkeypatch):
    # 'explicit normalization' that does not renormalize: the effective LR is no longer lr
    original = schedules.train_minibatch_wn

    def no_projection(*args, project=False, **kw):
        return original(*args, **kw)

    monkeypatch.setattr(schedules, "train_minibatch_wn", no_projection)
    assert schedules.check_counteract_lr_decay().verdict.value == "refuted"


def test_L5_wd_equilibrium_classifier_matches_and_fails_with_the_raw_weight_gradient():
    assert schedules.classifier_equilibrium(steps=200)["err_over_tol"] <= 1
    # G measured at the raw weights (||grad J(w)|| = G/||w||) misplaces the prediction by ~s*
    assert schedules.classifier_equilibrium(steps=200, gradient_at="raw")["err_over_tol"] > 1
