"""normtheory.roundoff: the constants, gamma_n, exact power-of-two scaling and outward rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from normtheory import roundoff as ro
from normtheory.claims import _roundoff as legacy


def test_constants_and_gamma():
    assert ro.U64 == 2.0 ** -53 and ro.EPS64 == 2.0 ** -52 and ro.ETA64 == 2.0 ** -1074
    assert ro.unit_roundoff(torch.float32) == 2.0 ** -24 and ro.unit_roundoff(torch.complex128) == ro.U64
    assert ro.gamma(0) == 0 and ro.gamma(10) == pytest.approx(10 * ro.U64, rel=1e-14)
    assert ro.gamma(10) > 10 * ro.U64  # n u / (1 - n u), strictly above n u
    with pytest.raises(ValueError):
        ro.gamma(2**52)
    with pytest.raises(TypeError):
        ro.unit_roundoff(torch.int64)
    # the claims' old import path still works and is the same object
    assert legacy.EPS64 is ro.EPS64 and legacy.unit_norm_tolerance is ro.unit_norm_tolerance


def test_complex_dot_bound_holds():
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in (1, 7, 100, 1000):
        x = torch.from_numpy(rng.standard_normal(n) + 1j * rng.standard_normal(n))
        y = torch.from_numpy(rng.standard_normal(n) + 1j * rng.standard_normal(n))
        from fractions import Fraction
        xs = [(Fraction(a.real), Fraction(a.imag)) for a in x.tolist()]
        ys = [(Fraction(b.real), Fraction(b.imag)) for b in y.tolist()]
        re = sum(a[0] * b[0] + a[1] * b[1] for a, b in zip(xs, ys))
        im = sum(a[0] * b[1] - a[1] * b[0] for a, b in zip(xs, ys))
        got = complex(torch.vdot(x, y))
        err = abs(complex(float(Fraction(got.real) - re), float(Fraction(got.imag) - im)))
        scale = float((x.abs() * y.abs()).sum())
        assert err <= ro.gamma_complex_dot(n) * scale
        worst = max(worst, err / scale)
    assert worst > 0  # rounding did happen: the check is not vacuous


@pytest.mark.parametrize("e", [-1074, -1060, -1029, -500, 0, 600, 1023])
def test_ldexp_exact_round_trips(e):
    x = torch.tensor([0.75, 0.5 + 2.0 ** -30, 0.9999999999999999], dtype=torch.float64)
    exps = torch.tensor(e)
    y = ro.ldexp_exact(x, exps)
    expect = torch.tensor([math.ldexp(v, e) for v in x.tolist()], dtype=torch.float64)
    normal = expect.abs() >= ro.TINY64
    assert torch.equal(y[normal], expect[normal])
    if bool(normal.all()):
        assert torch.equal(ro.ldexp_exact(y, -exps), x)


def test_single_step_scaling_is_the_bug_two_steps_fix():
    # broken variant: one factor 2^1029 overflows to inf (a 1e-310 matrix cannot be scaled up)
    tiny = torch.tensor([1e-310], dtype=torch.float64)
    e = ro.pow2_exponents(tiny)
    one_step = tiny * torch.ldexp(torch.ones((), dtype=torch.float64), (-e).to(torch.float64))
    assert not bool(torch.isfinite(one_step).all())
    fixed = ro.ldexp_exact(tiny, -e)
    assert 0.5 <= float(fixed) < 1 and float(ro.ldexp_exact(fixed, e)) == 1e-310


def test_outward_rounding_of_subnormal_and_overflowing_bounds():
    x = torch.tensor([0.7, 0.7], dtype=torch.float64)
    e = torch.tensor([-1070, 1100])
    up, down = ro.ldexp_outward(x, e, up=True), ro.ldexp_outward(x, e, up=False)
    from fractions import Fraction
    true = Fraction(0.7) * Fraction(2) ** -1070
    assert Fraction(float(down[0])) <= true <= Fraction(float(up[0]))
    assert math.isinf(float(up[1])) and float(down[1]) == float(np.finfo(np.float64).max)
