"""normtheory.claims.lecture_preconditioners and normtheory.quasi_diagonal: each claim's property
holds for the library and FAILS for a deliberately broken variant. Test names carry the claim id."""

from __future__ import annotations

import pytest
import torch

from normtheory import quasi_diagonal as qd
from normtheory.claims import lecture_preconditioners as lp
from normtheory.registry import Verdict


# ------------------------------------------------------------------------ L5-tanh-centering

def test_L5_tanh_centering_confirmed():
    ev = lp.centering_evidence(lp.centering_case(n=400), lp.centering_case(n=400, shift=1.0))
    assert ev.verdict is Verdict.CONFIRMED


def test_L5_tanh_centering_fails_for_uncentred_pre_activations():
    # broken: pre-activations centred at 1 (a bias left in): tanh units are uncentered too
    shifted = lp.centering_case(n=400, shift=1.0)
    ev = lp.centering_evidence(shifted, shifted)
    assert ev.verdict is Verdict.REFUTED
    assert shifted["tanh"]["mean_norm"] > 0.5


# ------------------------------------------------------------------------ L5-quasi-diagonal-invariance

def test_L5_quasi_diagonal_invariance_confirmed():
    found = lp.qd_invariance(steps=1)
    assert lp.qd_evidence(found).verdict is Verdict.CONFIRMED


def test_L5_quasi_diagonal_invariance_fails_without_the_bias_coupling():
    # broken: the bias step g_0 / F_00 without the - sum_j F_0j dw_j / F_00 correction
    def uncoupled(grad_w, grad_b, a, r):
        dw, _ = qd.quasi_diagonal_direction(grad_w, grad_b, a, r)
        f00, _, _ = qd.unit_metric_moments(a, r)
        return dw, grad_b / f00

    found = lp.qd_invariance(steps=1, qd_direction=uncoupled)
    assert lp.qd_evidence(found).verdict is Verdict.REFUTED


def test_L5_quasi_diagonal_step_is_the_two_parameter_natural_gradient():
    # one input: the quasi-diagonal step is the exact natural gradient of (w, b)
    g = torch.Generator().manual_seed(1)
    a = torch.randn(20, 1, generator=g, dtype=torch.float64) + 2
    r = torch.rand(20, 1, generator=g, dtype=torch.float64) + 0.5
    gw, gb = torch.randn(1, 1, generator=g, dtype=torch.float64), torch.randn(1, generator=g, dtype=torch.float64)
    dw, db = qd.quasi_diagonal_direction(gw, gb, a, r)
    abar = torch.cat([a, torch.ones_like(a)], 1)
    F = (abar * r).T @ abar / 20
    sol = torch.linalg.solve(F, torch.cat([gw[0], gb]))
    assert torch.allclose(torch.cat([dw[0], db]), sol, rtol=1e-12, atol=0)


def test_L5_quasi_diagonal_bad_input_is_refused():
    with pytest.raises(ValueError, match="singular"):
        qd.quasi_diagonal_direction(torch.ones(1, 1, dtype=torch.float64), torch.ones(1, dtype=torch.float64),
                                    torch.ones(5, 1, dtype=torch.float64), torch.ones(5, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="samples"):
        qd.unit_metric_moments(torch.ones(5, 1), torch.ones(4, 1))


# ------------------------------------------------------------------------ L5-kfac-lr-decay-immune

_FAST = {**lp.KFAC_SETUP, "steps": 4}


def test_L5_kfac_lr_decay_immune_confirmed():
    ev = lp.kfac_immune_evidence(lp.kfac_trajectories(setup=_FAST), lp.normalized_steps(setup=_FAST))
    assert ev.verdict is Verdict.CONFIRMED


def test_L5_kfac_lr_decay_immune_fails_for_damped_kfac():
    # broken: the usual damping on S, which the slides' invariance argument does not cover
    step = lambda L, W: L.kfac(W, lr=_FAST["lr"], damping=1e-3)  # noqa: E731
    ev = lp.kfac_immune_evidence(lp.kfac_trajectories(setup=_FAST, step=step), lp.normalized_steps(setup=_FAST))
    assert ev.verdict is Verdict.REFUTED


# ------------------------------------------------------------------------ L5-kfac-damping

def test_L5_kfac_damping_confirmed():
    ev = lp.kfac_damping_evidence(lp.damping_identity(), lp.normalized_steps())
    assert ev.verdict is Verdict.CONFIRMED


def test_L5_kfac_damping_fails_for_unscaled_damping():
    # broken derivation: the damping taken to stay lam (not lam Gamma^2) under the rescaling
    ident = lp.damping_identity(damping_of=lambda lam, gam: lam * torch.ones_like(gam))
    assert lp.kfac_damping_evidence(ident, lp.normalized_steps()).verdict is Verdict.REFUTED
