"""normtheory.dynamics: effective learning rate, Theorem 1's and the momentum schedules, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from normtheory import dynamics as dy
from normtheory.claims._roundoff import EPS64


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), c=st.floats(-6, 6).map(lambda e: 10.0 ** e),
       form=st.sampled_from(["wn", "ws"]), power=st.sampled_from([1, 2]))
def test_effective_lr_scales_as_inverse_power(seed, n, c, form, power):
    w = torch.from_numpy(np.random.default_rng(seed).standard_normal((4, n)))
    base = dy.effective_learning_rate(0.1, w, form=form, power=power)
    scaled = dy.effective_learning_rate(0.1, c * w, form=form, power=power)
    assert torch.allclose(scaled * c**power, base, rtol=8 * (n + 10) * EPS64)


def test_effective_lr_values_and_broken_variant():
    w = torch.tensor([[3.0, 4.0], [1.0, -1.0]], dtype=torch.float64)
    assert torch.allclose(dy.effective_learning_rate(0.5, w), torch.tensor([0.1, 0.5 / 2**0.5], dtype=torch.float64))
    assert torch.allclose(dy.effective_learning_rate(0.5, w, power=2), torch.tensor([0.02, 0.25], dtype=torch.float64))
    assert torch.allclose(dy.effective_learning_rate(0.5, w, form="ws"), torch.tensor([1.0, 0.5], dtype=torch.float64))
    # the sample std (n-1) is not the paper's spread: the value check notices
    assert not torch.allclose(0.5 / w.std(dim=1), dy.effective_learning_rate(0.5, w, form="ws"))


@given(lr=st.floats(1e-3, 1.0), lam=st.floats(0.0, 0.5), steps=st.integers(1, 200))
def test_theorem1_multipliers_closed_form(lr, lam, steps):
    d = dy.theorem1_multipliers(steps, lr=lr, lam=lam)
    q = 1 - lr * lam
    expected = q ** -(2 * np.arange(steps) + 1.0)
    assert np.allclose(d, expected, rtol=8 * steps * EPS64)
    f = dy.theorem1_lr_lambda(lr=lr, lam=lam)
    assert math.isclose(f(steps - 1), d[-1], rel_tol=8 * steps * EPS64)


@given(lr=st.floats(1e-3, 1.0), lam=st.floats(0.0, 0.5), steps=st.integers(1, 100))
def test_momentum_zero_reduces_to_theorem1(lr, lam, steps):
    s = dy.momentum_multipliers(steps, lr=lr, lam=lam, momentum=0.0)
    assert s.valid
    assert np.allclose(s.multipliers, dy.theorem1_multipliers(steps, lr=lr, lam=lam), rtol=16 * steps * EPS64)


def test_momentum_schedule_differs_from_theorem1_with_momentum():
    s = dy.momentum_multipliers(50, lr=0.1, lam=0.02, momentum=0.9)
    assert not np.allclose(s.multipliers, dy.theorem1_multipliers(50, lr=0.1, lam=0.02), rtol=1e-6)


@given(mu=st.floats(0.05, 0.99), frac=st.floats(0.05, 20.0))
def test_momentum_schedule_exists_iff_below_edge(mu, frac):
    edge = (1 - mu**0.5) ** 2
    if abs(frac - 1) < 0.05 or frac * edge >= 1:
        return  # too close to the edge to decide in a finite horizon / lr*lam >= 1 is refused
    s = dy.momentum_multipliers(20000, lr=1.0, lam=frac * edge, momentum=mu)
    assert s.valid == (frac < 1)


def test_lr_lambda_works_with_lambdalr():
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, dy.momentum_lr_lambda(5, lr=0.1, lam=0.01, momentum=0.5))
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    d = dy.momentum_multipliers(5, lr=0.1, lam=0.01, momentum=0.5).multipliers
    assert np.allclose(lrs, 0.1 * d)


@pytest.mark.parametrize("call, err, match", [
    (lambda: dy.effective_learning_rate(0.0, torch.ones(2, 3)), ValueError, "lr"),
    (lambda: dy.effective_learning_rate(0.1, torch.zeros(2, 3)), ValueError, "zero norm"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3), form="ws"), ValueError, "zero spread"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3), form="bn"), ValueError, "form"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3), power=3), ValueError, "power"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3, dtype=torch.int32)), TypeError, "floating"),
    (lambda: dy.theorem1_multipliers(0, lr=0.1, lam=0.1), ValueError, "steps"),
    (lambda: dy.theorem1_multipliers(5, lr=0.1, lam=10.0), ValueError, "lr \\* lam"),
    (lambda: dy.theorem1_multipliers(5, lr=-0.1, lam=0.1), ValueError, "lr"),
    (lambda: dy.theorem1_lr_lambda(lr=0.5, lam=1.0)(2000), OverflowError, "float64"),
    (lambda: dy.momentum_multipliers(5, lr=0.1, lam=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda: dy.momentum_lr_lambda(100, lr=0.1, lam=0.5, momentum=0.9), ValueError, "no positive schedule"),
    (lambda: dy.momentum_lr_lambda(5, lr=0.1, lam=0.01, momentum=0.5)(7), IndexError, "outside"),
])
def test_bad_input_raises(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_exponential_schedule_values_without_momentum():
    s = dy.exponential_lr_schedule(4, lr=0.1, lam=0.5)
    alpha = 1 - 0.1 * 0.5
    assert s.alpha == pytest.approx(alpha, rel=4 * EPS64)
    t = np.arange(5)
    assert np.allclose(s.multipliers, alpha ** -(2 * t[:-1] + 1.0), rtol=32 * EPS64, atol=0)
    assert np.allclose(s.scales, alpha ** -t.astype(float), rtol=32 * EPS64, atol=0)
    assert s.multipliers.shape == (4,) and s.scales.shape == (5,)
    assert s.initial_buffer_factor == pytest.approx((1 - 1 / alpha) / 0.1, rel=16 * EPS64)
    # Theorem 1's schedule is the same sequence without momentum
    assert np.allclose(s.multipliers, dy.theorem1_multipliers(4, lr=0.1, lam=0.5), rtol=32 * EPS64, atol=0)


def test_exponential_schedule_alpha_is_the_larger_root_with_momentum():
    lr, lam, mu = 0.1, 0.05, 0.81
    s = dy.exponential_lr_schedule(3, lr=lr, lam=lam, momentum=mu)
    beta = 1 + mu - lr * lam
    assert s.alpha + mu / s.alpha == pytest.approx(beta, rel=8 * EPS64)
    other = mu / s.alpha  # the product of the roots is mu
    assert s.alpha > other
    assert s.initial_buffer_factor == pytest.approx((1 - 1 / s.alpha) / lr, rel=16 * EPS64)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"lr": 1.0, "lam": 0.5, "momentum": 0.81}, ValueError, "no real alpha"),
    ({"lr": 0.1, "lam": 0.1, "momentum": 1.0}, ValueError, "momentum must be < 1"),
    ({"lr": 0.5, "lam": 1.0, "momentum": 0.0, "steps": 600}, OverflowError, "float64 range"),
    ({"lr": 0.1, "lam": 0.1, "steps": 0}, ValueError, "steps"),
])
def test_exponential_schedule_bad_input(kwargs, err, match):
    kwargs = {"steps": 5, **kwargs}
    with pytest.raises(err, match=match):
        dy.exponential_lr_schedule(kwargs.pop("steps"), **kwargs)


def test_exponential_schedule_at_the_edge_of_the_range():
    # alpha = 1/2: alpha^-(2t+1) = 2^1023 at t = 511 is representable (the old check refused it)
    last = dy.exponential_lr_schedule(512, lr=0.5, lam=1.0).multipliers[-1]
    assert last == pytest.approx(2.0**1023, rel=1024 * EPS64)  # exp of a logarithm: ~|log| eps
    with pytest.raises(OverflowError, match="alpha\\^-\\(2t\\+1\\) at step 512"):
        dy.exponential_lr_schedule(513, lr=0.5, lam=1.0)


def test_weight_decay_equilibrium_values_and_fixed_point():
    lr, lam, g = 0.1, 0.5, 2.0
    eq = dy.weight_decay_equilibrium(lr=lr, lam=lam, grad_norm=g)
    root = math.sqrt(lr * lam * (2 - lr * lam))
    assert eq.angular_update == pytest.approx(root, rel=4 * EPS64)
    assert eq.norm_sq == pytest.approx(lr * g / root, rel=8 * EPS64)
    assert eq.effective_lr == pytest.approx(lr / eq.norm_sq, rel=8 * EPS64)
    assert eq.relaxation == pytest.approx(2 * (1 - lr * lam) ** 2 - 1, rel=8 * EPS64)
    s = eq.norm_sq  # the fixed point of s -> (1 - lr lam)^2 s + lr^2 g^2 / s
    assert (1 - lr * lam) ** 2 * s + (lr * g) ** 2 / s == pytest.approx(s, rel=16 * EPS64)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0.1, "lam": 0.0, "grad_norm": 1.0}, "lam must be > 0"),
    ({"lr": 0.1, "lam": 0.1, "grad_norm": 0.0}, "grad_norm must be > 0"),
    ({"lr": 2.0, "lam": 0.5, "grad_norm": 1.0}, "lr \\* lam must be < 1"),
])
def test_weight_decay_equilibrium_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dy.weight_decay_equilibrium(**kwargs)


def test_theorem1_scales_values():
    c = dy.theorem1_scales(3, lr=0.5, lam=1.0, p0=4.0)
    assert c.tolist() == [4.0, 2.0, 1.0, 0.5]  # exact: powers of two survive exp(log) here
    assert dy.theorem1_scales(0, lr=0.1, lam=0.1).tolist() == [1.0]
    assert dy.theorem1_multipliers(2, lr=0.5, lam=1.0, p0=4.0) == pytest.approx([1 / 8, 1 / 2], rel=8 * EPS64)


@pytest.mark.parametrize("call, err, match", [
    (lambda: dy.theorem1_scales(-1, lr=0.1, lam=0.1), ValueError, "^steps must be >= 0"),
    (lambda: dy.theorem1_scales(1, lr=0.1, lam=0.1, p0=0.0), ValueError, "^p0 must be > 0"),
    (lambda: dy.theorem1_multipliers(1, lr=0.1, lam=0.1, p0=-1.0), ValueError, "^p0 must be > 0"),
    (lambda: dy.theorem1_lr_lambda(lr=0.1, lam=0.1, p0=0.0), ValueError, "^p0 must be > 0"),
    (lambda: dy.theorem1_multipliers(1, lr=0.1, lam=-0.1), ValueError, "^lam must be >= 0"),
    (lambda: dy.momentum_scales(-1, lr=0.1, lam=0.1, momentum=0.5), ValueError, "^steps must be >= 0"),
    (lambda: dy.momentum_scales(1, lr=0.1, lam=0.1, momentum=0.5, p0=0.0), ValueError, "^p0 must be > 0"),
    (lambda: dy.momentum_multipliers(1, lr=0.1, lam=0.1, momentum=0.5, p0=0.0), ValueError, "^p0 must be > 0"),
    (lambda: dy.momentum_multipliers(1, lr=0.1, lam=0.1, momentum=-0.5), ValueError, "^momentum must be >= 0"),
    (lambda: dy.momentum_multipliers(0, lr=0.1, lam=0.1, momentum=0.5), ValueError, "^steps must be >= 1, got 0"),
    (lambda: dy.exponential_lr_schedule(0, lr=0.1, lam=0.1), ValueError, "^steps must be >= 1"),
    (lambda: dy.exponential_lr_schedule(3, lr=0.1, lam=0.1, momentum=-0.1), ValueError, "^momentum must be >= 0"),
    (lambda: dy.exponential_lr_schedule(3, lr=1.0, lam=0.5, momentum=0.81), ValueError,
     r"^no real alpha: lr\*lam = 0.5 > \(1 - sqrt\(momentum\)\)\^2 = 0.01$"),
    (lambda: dy.exponential_lr_schedule(600, lr=0.5, lam=1.0), OverflowError, r"^alpha\^-\(2t\+1\) at step 512 "),
    (lambda: dy.exponential_lr_schedule(2000, lr=0.5, lam=1.0), OverflowError, r"^alpha\^-\(2t\+1\) at step 512 "),
    (lambda: dy.momentum_lr_lambda(100, lr=0.1, lam=0.5, momentum=0.9), ValueError,
     r"c_t <= 0 at t = \d+ \(lr\*lam = 0.05 > \(1 - sqrt\(momentum\)\)\^2 = 0.0026\d*\?\)"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3), form="xx"), ValueError, "^form must be 'wn' or 'ws', got 'xx'"),
    (lambda: dy.effective_learning_rate(0.1, torch.ones(2, 3), power=0), ValueError, "^power must be 1 or 2, got 0"),
])
def test_errors_name_the_argument(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_scales_range_check_reports_the_first_step_out_of_range():
    # log c_t = log(1e-300) - t log 2 drops below log(tiny) = -708.4 first at t = 26
    with pytest.raises(OverflowError, match=r"^c_t at step 26 leaves the float64 range"):
        dy.theorem1_scales(100, lr=0.5, lam=1.0, p0=1e-300)
    with pytest.raises(OverflowError, match=r"^c_t at step 26 "):
        dy.momentum_scales(100, lr=0.5, lam=1.0, momentum=0.0, p0=1e-300)
    # a scale in range is returned, its float64 dtype even for a zero-step schedule
    assert dy.theorem1_scales(0, lr=0.5, lam=1.0, p0=1e-300).dtype == np.float64


def test_exponential_schedule_exactly_at_the_edge():
    # mu = 1/4, lr*lam = (1 - 1/2)^2 = 1/4: the discriminant is exactly 0, a double root alpha = 1/2
    s = dy.exponential_lr_schedule(3, lr=0.5, lam=0.5, momentum=0.25)
    assert s.alpha == 0.5 and s.scales.dtype == np.float64
    assert np.allclose(s.scales, [1.0, 2.0, 4.0, 8.0], rtol=16 * EPS64, atol=0)  # exp(t log 2): ~t eps


def test_momentum_lr_lambda_covers_exactly_its_steps():
    f = dy.momentum_lr_lambda(5, lr=0.1, lam=0.01, momentum=0.5)
    d = dy.momentum_multipliers(6, lr=0.1, lam=0.01, momentum=0.5).multipliers
    assert [f(t) for t in range(6)] == d.tolist()  # steps + 1 values: LambdaLR asks once more at the end
    for t in (-1, 6):
        with pytest.raises(IndexError, match=rf"^step {t} is outside the schedule's 6 steps$"):
            f(t)


def test_p0_is_honoured_everywhere():
    f = dy.theorem1_lr_lambda(lr=0.5, lam=1.0, p0=2.0)
    d = dy.theorem1_multipliers(3, lr=0.5, lam=1.0, p0=2.0)
    assert [f(t) for t in range(3)] == pytest.approx(d.tolist(), rel=64 * EPS64)
    assert d.tolist() == pytest.approx([0.5, 2.0, 8.0], rel=64 * EPS64)  # 2^(2t+1) / 4
    assert dy.momentum_scales(2, lr=0.1, lam=0.1, momentum=0.5)[0] == 1.0  # default p0 = 1
    g = dy.momentum_lr_lambda(3, lr=0.1, lam=0.1, momentum=0.5, p0=2.0)
    m = dy.momentum_multipliers(4, lr=0.1, lam=0.1, momentum=0.5, p0=2.0).multipliers
    assert [g(t) for t in range(4)] == m.tolist() and m[0] == pytest.approx(1 / (4 * 0.99), rel=16 * EPS64)
    with pytest.raises(OverflowError, match=r"^Theorem 1 multiplier d_t \(t = 2000\) at step 0 leaves"):
        dy.theorem1_lr_lambda(lr=0.5, lam=1.0)(2000)


def test_theorem1_multipliers_direct_where_exact_log_space_where_the_product_overflows():
    # powers of two: the direct product is exact (the log-space value is off in the last digit)
    assert dy.theorem1_multipliers(2, lr=0.5, lam=1.0, p0=4.0).tolist() == [0.125, 0.5]
    # 2^1099 overflows before the division by p0^2 = 2^200; d = 2^899 is in range (log space, ~|log d| eps)
    d = dy.theorem1_multipliers(550, lr=0.5, lam=1.0, p0=2.0**100)
    assert bool(np.isfinite(d).all()) and d[-1] == pytest.approx(2.0**899, rel=1e-12)
