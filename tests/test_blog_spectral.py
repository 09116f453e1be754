"""Blog claims on power iteration, the rank-one correction, init norms, Frobenius penalties and
conv reshaping: each property holds for the library and FAILS for a deliberately broken variant."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import example, given, strategies as st

from normtheory import spectral as sp
from normtheory.claims import blog_conv as bc
from normtheory.claims import blog_frobenius as bf
from normtheory.claims import blog_spectral as bs




EPS = float(np.finfo(np.float64).eps)


def test_gram_eigenvalue_is_sigma_squared():
    found = bs.gram_eigen_vs_singular(cases=10)
    assert found["max_rel_err_lambda_vs_sigma_sq"] <= 64 * 30 * EPS
    assert found["max_rel_err_lambda_vs_sigma"] > 0.1  # the blog's reading is off


def test_power_rate_bound_holds_and_fails_for_broken_estimator():
    ok = bs.power_rate(gaps=(0.9,), steps=24)
    assert ok["worst_ratio_to_bound"] <= 1.0
    # broken: half as many steps as claimed (a power step on W instead of W^T W halves the exponent)
    broken = bs.power_rate(gaps=(0.9,), steps=24,
                           estimator=lambda W, v, k: sp.power_iteration(W, iters=k // 2, v0=v).v if k >= 2 else v)
    assert broken["worst_ratio_to_bound"] > 1.0


def test_correction_spectrum_and_broken_sigma_squared():
    ok = bs.correction_spectrum(cases=10)
    assert ok["worst_over_scale"]["spectrum"] <= bs._SPEC_TOL

    def broken(W, t, *, u, v):  # uses sigma^2 for sigma
        s = float(u @ W @ v)
        return W + (t - s * s) * torch.outer(u, v)

    bad = bs.correction_spectrum(broken, cases=10)
    assert bad["worst_over_scale"]["spectrum"] > 1e-3


def test_error_bracket_holds_and_fails_without_residual_term():
    ok = bs.correction_error_propagation(steps=(1, 3))
    assert ok["worst_outside_bracket"] == 0.0

    def no_rho(W, t, v):  # broken: forgets the residual term
        b = sp.correction_bounds(W, t, v)
        b["upper"] = max(t, b["f"])
        return b

    bad = bs.correction_error_propagation(steps=(1, 3), bracket=no_rho)
    assert bad["worst_outside_bracket"] > 0.0


@given(st.integers(0, 2**31), st.integers(3, 12), st.integers(3, 12), st.floats(0.1, 3.0),
       st.sampled_from([0.5, 0.99, 0.9999, 1.0]), st.integers(1, 6))
@example(0, 5, 5, 1.0, 1.0, 1)  # exactly repeated top singular value
def test_correction_bracket_property(seed, m, n, t, gap, k):
    rng = np.random.default_rng(seed)
    s = np.concatenate([[1.0, gap], gap * np.sort(rng.uniform(0, 1, min(m, n) - 2))[::-1]])
    W, _, _ = bs.with_spectrum(m, n, s, rng)
    v = sp.power_iteration(W, iters=k, v0=torch.from_numpy(rng.standard_normal(n))).v
    b = sp.correction_bounds(W, t, v)
    sig = float(torch.linalg.vector_norm(W @ v))
    u = W @ v / sig
    Wc = W + (t - sig) * torch.outer(u, v)
    true = float(torch.linalg.matrix_norm(Wc, ord=2))
    tol = 64 * (m + n) * EPS * max(t, 1.0)  # SVD and rank-one update round-off
    assert b["lower"] - tol <= true <= b["upper"] + tol
    assert b["upper"] <= max(t, b["f"]) + b["rho"] + tol
    assert abs(float(torch.linalg.vector_norm(Wc @ v)) - t) <= tol  # W' v = t u exactly


def test_init_norms_and_broken_unscaled_init():
    shapes = [(16, 4, 3, 3), (8, 20), (20, 8)]
    ok = bs.init_norms(shapes=shapes)
    assert ok["worst_spec"] <= 64 * 4608 * EPS and ok["worst_fro"] <= 64 * 4608 * EPS

    def unscaled(w, generator=None):
        return torch.nn.init.orthogonal_(w, generator=generator)

    bad = bs.init_norms(unscaled, shapes=shapes)
    assert bad["worst_spec"] > 0.1


def test_frobenius_sentences():
    sums = bf.frobenius_unit_sums(cases=10)
    assert sums["max_abs_sumsq_minus_1"] <= 64 * 20 * EPS < sums["max_abs_sum_minus_1"]
    rows = bf.ridge_vs_deep()["rows"]
    assert [r["single_rank"] for r in rows] == [4, 4, 4]
    assert [r["deep_rank"] for r in rows] == [3, 2, 1]
    # broken reading: if the deep penalty were ridge-like, the product's rank would not drop
    assert any(r["deep_rank"] != r["single_rank"] for r in rows)


def test_conv_reshape_bounds_quick():
    found = bc.conv_vs_reshape(layers=(0,), shrink=32, max_size=5)
    for r in found["rows"]:
        assert r["reshape"] * (1 - 1e-9) <= r["circular"] <= 3 * r["reshape"] * (1 + 1e-9)
        assert r["zero_pad"] <= r["zero_upper"]
    # broken variant: the reshaped norm times sqrt(kh kw) is not a lower bound for the conv norm
    assert any(3 * r["reshape"] > r["circular"] * (1 + 1e-6) for r in found["rows"])
