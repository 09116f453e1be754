"""normtheory.curvature: Kronecker eigenpairs, vec, square roots, reparameterization, K-FAC; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import curvature as cv
from normtheory.claims._roundoff import EPS64


def _sym(seed, n, spread=1.0):
    g = np.random.default_rng(seed)
    q, _ = np.linalg.qr(g.standard_normal((n, n)))
    return torch.from_numpy((q * g.uniform(-spread, spread, n)) @ q.T)


@given(p=st.integers(1, 6), q=st.integers(1, 6), seed=st.integers(0, 10_000),
       scale=st.floats(-8, 8).map(lambda e: 10.0 ** e))
@example(p=1, q=1, seed=0, scale=1.0)
def test_kron_eigh_matches_dense(p, q, seed, scale):
    a, b = scale * _sym(seed, p), _sym(seed + 1, q)
    dec = cv.kron_eigh(a, b)
    k = torch.kron(a, b)
    tol = 8 * (p * q + p + q) * EPS64 * float(torch.linalg.matrix_norm(a, 2) * torch.linalg.matrix_norm(b, 2))
    assert float((k @ dec.vectors - dec.vectors * dec.values).abs().max()) <= tol
    assert float((dec.values.sort().values - torch.linalg.eigvalsh(k)).abs().max()) <= tol


def test_vec_is_column_major_and_unvec_inverts():
    w = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    assert cv.vec(w).tolist() == [0, 3, 1, 4, 2, 5]
    assert torch.equal(cv.unvec(cv.vec(w), 2), w)
    # vec(W S) = (S^T (x) I) vec W
    s = torch.randn(3, 3, dtype=torch.float64)
    assert torch.allclose(cv.vec(w @ s), torch.kron(s.mT.contiguous(), torch.eye(2, dtype=w.dtype)) @ cv.vec(w))


def test_psd_sqrt_and_inverse():
    g = np.random.default_rng(0)
    a = g.standard_normal((4, 4))
    sigma = torch.from_numpy(a @ a.T + 0.1 * np.eye(4))
    root = cv.psd_sqrt(sigma)
    assert torch.allclose(root @ root, sigma, atol=1e-12)
    assert torch.allclose(root, root.mT)
    assert torch.allclose(cv.psd_sqrt(sigma, inverse=True) @ root, torch.eye(4, dtype=sigma.dtype), atol=1e-10)


def test_affine_reparameterize_preserves_function_and_inputs():
    g = np.random.default_rng(1)
    x = torch.from_numpy(g.standard_normal((20, 3)) + 5)
    w, b = torch.from_numpy(g.standard_normal((2, 3))), torch.from_numpy(g.standard_normal(2))
    w0, b0 = w.clone(), b.clone()
    mean, sigma = cv.input_statistics(x)
    wt, bt = cv.affine_reparameterize(w, b, mean, sigma)
    xt = cv.standardize_inputs(x, mean, sigma)
    assert torch.allclose(xt @ wt.T + bt, x @ w.T + b, atol=1e-11)
    assert torch.equal(w, w0) and torch.equal(b, b0)
    assert torch.allclose(xt.mean(0), torch.zeros(3, dtype=x.dtype), atol=1e-12)
    assert torch.allclose(xt.T @ xt / 20, torch.eye(3, dtype=x.dtype), atol=1e-10)


def test_gd_contraction_rate():
    h = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))
    c = cv.gd_contraction(h)
    assert c.condition == pytest.approx(100.0)
    assert c.rate == pytest.approx(0.99)
    assert cv.gd_contraction(h, lr=2 / 101).rate == pytest.approx(99 / 101)


def test_kfac_step_does_not_modify_inputs():
    w = torch.ones(2, 3, dtype=torch.float64)
    g = torch.full((2, 3), 0.5, dtype=torch.float64)
    a, s = torch.eye(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64)
    out = cv.kfac_step(w, g, a, s, lr=0.1)
    assert torch.allclose(out, w - 0.05)
    assert torch.equal(w, torch.ones(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("call, err, match", [
    (lambda: cv.kron_eigh(torch.ones(2, 3, dtype=torch.float64), torch.eye(2, dtype=torch.float64)), ValueError, "a must be square"),
    (lambda: cv.kron_eigh(torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64), torch.eye(2, dtype=torch.float64)), ValueError, "a must be symmetric"),
    (lambda: cv.kron_eigh(torch.eye(2, dtype=torch.int64), torch.eye(2, dtype=torch.float64)), TypeError, "a must have a floating"),
    (lambda: cv.kron_eigh(torch.eye(2, dtype=torch.float64), torch.full((2, 2), float("nan"), dtype=torch.float64)), ValueError, "b contains NaN"),
    (lambda: cv.psd_sqrt(-torch.eye(2, dtype=torch.float64)), ValueError, "positive definite"),
    (lambda: cv.unvec(torch.ones(5, dtype=torch.float64), 2), ValueError, "rows=2"),
    (lambda: cv.reparam_inverse_jacobian(torch.ones(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), 0), ValueError, "out_dim"),
    (lambda: cv.gd_contraction(torch.diag(torch.tensor([0.0, 1.0], dtype=torch.float64))), ValueError, "positive definite"),
    (lambda: cv.gd_contraction(torch.eye(2, dtype=torch.float64), lr=-1.0), ValueError, "lr must be > 0"),
    (lambda: cv.kfac_step(torch.ones(2, 3, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64),
                          torch.eye(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64), lr=0.1), ValueError, "shapes"),
    (lambda: cv.affine_reparameterize(torch.ones(2, 3, dtype=torch.float64), torch.ones(2, dtype=torch.float64),
                                      torch.ones(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64)), ValueError, "shapes"),
    (lambda: cv.ics_outlier_prediction(torch.ones(3, dtype=torch.float64), torch.eye(2, dtype=torch.float64),
                                       torch.eye(2, dtype=torch.float64)), ValueError, "sigma must have shape"),
])
def test_bad_input_raises(call, err, match):
    with pytest.raises(err, match=match):
        call()


def _stats(seed=3, n=30, d=3):
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((n, d)) * np.array([1.0, 2.0, 0.5])[:d] + np.arange(1, d + 1))
    return x, *cv.input_statistics(x)


def test_homogeneous_second_moment_block_form():
    x, m, sigma = _stats()
    a_bar = cv.homogeneous_second_moment(x)
    assert a_bar.shape == (4, 4)
    assert torch.allclose(a_bar[:3, :3], sigma + torch.outer(m, m), rtol=0, atol=1e-12)
    assert torch.allclose(a_bar[:3, 3], m, rtol=0, atol=1e-13) and torch.allclose(a_bar[3, :3], m, rtol=0, atol=1e-13)
    assert float(a_bar[3, 3]) == 1.0
    bar = torch.cat([x, torch.ones(30, 1, dtype=x.dtype)], dim=1)
    assert torch.allclose(a_bar, sum(torch.outer(r, r) for r in bar) / 30, rtol=0, atol=1e-12)


def test_input_statistics_are_the_biased_moments():
    x, m, sigma = _stats()
    assert torch.allclose(m, x.mean(0), rtol=0, atol=1e-14)
    assert torch.allclose(sigma, torch.from_numpy(np.cov(x.numpy().T, bias=True)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("out_dim", [1, 2])
def test_quasi_diagonal_block_is_the_gauss_newton_and_the_inverse_preconditioner(out_dim):
    x, m, sigma = _stats()
    block = cv.quasi_diagonal_block(m, sigma, out_dim)
    eye = torch.eye(out_dim, dtype=x.dtype)
    assert torch.allclose(block, torch.kron(cv.homogeneous_second_moment(x), eye), rtol=0, atol=1e-12)
    r_inv = cv.reparam_inverse_jacobian(m, sigma, out_dim)  # [R R^T]^{-1} = R^{-T} R^{-1}
    assert torch.allclose(block, r_inv.mT @ r_inv, rtol=0, atol=1e-11)


def test_reparam_inverse_jacobian_maps_old_to_new_parameters():
    x, m, sigma = _stats()
    g = np.random.default_rng(5)
    w, b = torch.from_numpy(g.standard_normal((2, 3))), torch.from_numpy(g.standard_normal(2))
    wt, bt = cv.affine_reparameterize(w, b, m, sigma)
    r_inv = cv.reparam_inverse_jacobian(m, sigma, 2)
    theta = torch.cat([cv.vec(w), b])
    assert torch.allclose(r_inv @ theta, torch.cat([cv.vec(wt), bt]), rtol=0, atol=1e-12)


def test_ics_outlier_prediction_values():
    m = torch.tensor([3.0, 4.0], dtype=torch.float64)
    sigma = torch.diag(torch.tensor([2.0, 0.5], dtype=torch.float64))
    s = torch.diag(torch.tensor([1.0, 3.0], dtype=torch.float64))
    p = cv.ics_outlier_prediction(m, sigma, s)
    assert p.nu == 26.0
    assert p.rayleigh == pytest.approx(26.0 + (9 * 2.0 + 16 * 0.5) / 26.0, rel=1e-15)
    assert p.upper == 28.0
    assert p.predicted.tolist() == [78.0, 26.0]  # descending
    assert torch.allclose(p.direction, torch.tensor([3.0, 4.0, 1.0], dtype=torch.float64) / 26**0.5, rtol=1e-15)
    assert p.angle_bound == pytest.approx(4.0 / 26.0, rel=1e-15)
    # the bounds hold for the true top eigenvalue of A_bar
    a_bar = torch.zeros(3, 3, dtype=torch.float64)
    a_bar[:2, :2] = sigma + torch.outer(m, m)
    a_bar[:2, 2] = a_bar[2, :2] = m
    a_bar[2, 2] = 1.0
    top = float(torch.linalg.eigvalsh(a_bar)[-1])
    assert p.rayleigh <= top <= p.upper
    tiny = cv.ics_outlier_prediction(torch.zeros(2, dtype=torch.float64), 10 * torch.eye(2, dtype=torch.float64), s)
    assert tiny.angle_bound == 1.0  # capped: a sine is at most 1


def test_kfac_step_general_factors_match_the_kronecker_solve():
    a_bar = _sym(7, 3, 1.0) @ _sym(7, 3, 1.0) + torch.eye(3, dtype=torch.float64)
    s = _sym(8, 2, 1.0) @ _sym(8, 2, 1.0) + 0.5 * torch.eye(2, dtype=torch.float64)
    w = torch.from_numpy(np.random.default_rng(9).standard_normal((2, 3)))
    grad = torch.from_numpy(np.random.default_rng(10).standard_normal((2, 3)))
    out = cv.kfac_step(w, grad, a_bar, s, lr=0.3)
    expected = cv.vec(w) - 0.3 * torch.linalg.solve(torch.kron(a_bar, s), cv.vec(grad))
    assert torch.allclose(cv.vec(out), expected, rtol=0, atol=1e-12)


def test_gd_contraction_fields():
    h = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64))
    c = cv.gd_contraction(h)
    assert c.steps_per_decade == pytest.approx(np.log(10) / -np.log(0.99), rel=1e-12)
    assert c.eigenvalues.tolist() == [1.0, 10.0, 100.0]
    assert cv.gd_contraction(h, lr=0.02).steps_per_decade == float("inf")  # rate |1 - 2| = 1: no progress
    assert cv.gd_contraction(h, lr=0.02).rate == pytest.approx(1.0)


def test_psd_sqrt_refuses_an_indefinite_matrix_and_accepts_spd():
    with pytest.raises(ValueError, match="smallest eigenvalue -1"):
        cv.psd_sqrt(torch.diag(torch.tensor([1.0, -1.0], dtype=torch.float64)))
    assert cv.psd_sqrt(torch.diag(torch.tensor([4.0, 9.0], dtype=torch.float64))).diagonal().tolist() == [2.0, 3.0]
    assert cv.psd_sqrt(torch.diag(torch.tensor([4.0, 16.0], dtype=torch.float64)), inverse=True).diagonal().tolist() == [0.5, 0.25]


_F = torch.float64


def _spd(n):
    return torch.eye(n, dtype=_F) * 2.0


# every tensor argument of every public function: (call with that argument replaced by `bad`, name)
_ARGS = [
    (lambda bad: cv.unvec(bad, 2), "theta", 1),
    (lambda bad: cv.vec(bad), "w", 2),
    (lambda bad: cv.homogeneous_second_moment(bad), "a", 2),
    (lambda bad: cv.input_statistics(bad), "a", 2),
    (lambda bad: cv.standardize_inputs(bad, torch.zeros(2, dtype=_F), _spd(2)), "a", 2),
    (lambda bad: cv.standardize_inputs(torch.ones(4, 2, dtype=_F), bad, _spd(2)), "mean", 1),
    (lambda bad: cv.standardize_inputs(torch.ones(4, 2, dtype=_F), torch.zeros(2, dtype=_F), bad), "sigma", 2),
    (lambda bad: cv.reparam_inverse_jacobian(bad, _spd(2), 2), "mean", 1),
    (lambda bad: cv.reparam_inverse_jacobian(torch.zeros(2, dtype=_F), bad, 2), "sigma", 2),
    (lambda bad: cv.quasi_diagonal_block(bad, _spd(2), 2), "mean", 1),
    (lambda bad: cv.quasi_diagonal_block(torch.zeros(2, dtype=_F), bad, 2), "sigma", 2),
    (lambda bad: cv.affine_reparameterize(bad, torch.zeros(2, dtype=_F), torch.zeros(2, dtype=_F), _spd(2)), "w", 2),
    (lambda bad: cv.affine_reparameterize(torch.ones(2, 2, dtype=_F), bad, torch.zeros(2, dtype=_F), _spd(2)), "b", 1),
    (lambda bad: cv.affine_reparameterize(torch.ones(2, 2, dtype=_F), torch.zeros(2, dtype=_F), bad, _spd(2)), "mean", 1),
    (lambda bad: cv.affine_reparameterize(torch.ones(2, 2, dtype=_F), torch.zeros(2, dtype=_F), torch.zeros(2, dtype=_F),
                                          bad), "sigma", 2),
    (lambda bad: cv.ics_outlier_prediction(bad, _spd(2), _spd(2)), "mean", 1),
    (lambda bad: cv.ics_outlier_prediction(torch.zeros(2, dtype=_F), bad, _spd(2)), "sigma", 2),
    (lambda bad: cv.ics_outlier_prediction(torch.zeros(2, dtype=_F), _spd(2), bad), "s", 2),
    (lambda bad: cv.kfac_step(bad, torch.ones(2, 2, dtype=_F), _spd(2), _spd(2), lr=0.1), "w_bar", 2),
    (lambda bad: cv.kfac_step(torch.ones(2, 2, dtype=_F), bad, _spd(2), _spd(2), lr=0.1), "grad", 2),
    (lambda bad: cv.kfac_step(torch.ones(2, 2, dtype=_F), torch.ones(2, 2, dtype=_F), bad, _spd(2), lr=0.1), "a_bar", 2),
    (lambda bad: cv.kfac_step(torch.ones(2, 2, dtype=_F), torch.ones(2, 2, dtype=_F), _spd(2), bad, lr=0.1), "s", 2),
    (lambda bad: cv.kron_eigh(bad, _spd(2)), "a", 2),
    (lambda bad: cv.kron_eigh(_spd(2), bad), "b", 2),
    (lambda bad: cv.psd_sqrt(bad), "sigma", 2),
    (lambda bad: cv.gd_contraction(bad), "hessian", 2),
]


@pytest.mark.parametrize("call, name, ndim", _ARGS, ids=[f"{i}-{a[1]}" for i, a in enumerate(_ARGS)])
def test_every_tensor_argument_is_checked_by_name(call, name, ndim):
    good_shape = (2,) * ndim
    with pytest.raises(TypeError, match=rf"^{name} is complex \(torch.complex128\)"):
        call(torch.ones(good_shape, dtype=torch.complex128))
    wrong = (2,) * (ndim + 1)
    with pytest.raises(ValueError, match=rf"^{name} must have ndim in \({ndim},\), got shape"):
        call(torch.ones(wrong, dtype=_F))


@pytest.mark.parametrize("call, match", [
    (lambda: cv.standardize_inputs(torch.ones(4, 3, dtype=_F), torch.zeros(1, dtype=_F), _spd(3)),
     r"^mean must have shape \(3,\) to match a's columns, got \(1,\)$"),
    (lambda: cv.standardize_inputs(torch.ones(4, 3, dtype=_F), torch.zeros(3, dtype=_F), _spd(2)),
     r"^sigma must have shape \(3, 3\) to match a's columns, got \(2, 2\)$"),
    (lambda: cv.reparam_inverse_jacobian(torch.zeros(3, dtype=_F), _spd(2), 1),
     r"^sigma must have shape \(3, 3\) to match mean, got \(2, 2\)$"),
    (lambda: cv.quasi_diagonal_block(torch.zeros(3, dtype=_F), _spd(2), 1),
     r"^sigma must have shape \(3, 3\) to match mean, got \(2, 2\)$"),
    (lambda: cv.affine_reparameterize(torch.ones(2, 3, dtype=_F), torch.zeros(2, dtype=_F), torch.zeros(3, dtype=_F),
                                      _spd(2)), r"^sigma must have shape \(3, 3\) to match w's input size, got \(2, 2\)$"),
    (lambda: cv.ics_outlier_prediction(torch.zeros(3, dtype=_F), _spd(2), _spd(2)),
     r"^sigma must have shape \(3, 3\) to match mean, got \(2, 2\)$"),
    (lambda: cv.quasi_diagonal_block(torch.zeros(2, dtype=_F), torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=_F), 1),
     "^sigma must be symmetric$"),
    (lambda: cv.unvec(torch.ones(4, dtype=_F), 0), "^rows must be >= 1, got 0$"),
    (lambda: cv.unvec(torch.ones(5, dtype=_F), 2), r"^rows=2 does not divide len\(theta\)=5$"),
    (lambda: cv.reparam_inverse_jacobian(torch.zeros(2, dtype=_F), _spd(2), 0), "^out_dim must be >= 1, got 0$"),
    (lambda: cv.quasi_diagonal_block(torch.zeros(2, dtype=_F), _spd(2), 0), "^out_dim must be >= 1, got 0$"),
])
def test_shape_and_count_messages(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unvec_with_one_row_and_outputs_in_the_mean_dtype():
    assert cv.unvec(torch.arange(3, dtype=_F), 1).tolist() == [[0.0, 1.0, 2.0]]
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # an identity built in the default dtype would show here
    try:
        mean, sigma = torch.zeros(2, dtype=torch.float32), torch.eye(2, dtype=torch.float32)
        assert cv.quasi_diagonal_block(mean, sigma, 2).dtype == torch.float32
        assert cv.reparam_inverse_jacobian(mean, sigma, 2).dtype == torch.float32
    finally:
        torch.set_default_dtype(before)


def test_gd_contraction_condition_and_message():
    h = torch.diag(torch.tensor([2.0, 8.0], dtype=_F))
    c = cv.gd_contraction(h)
    assert c.condition == 4.0 and c.rate == pytest.approx(0.75) and c.eigenvalues.tolist() == [2.0, 8.0]
    with pytest.raises(ValueError, match=r"^hessian must be positive definite \(smallest eigenvalue -1\)$"):
        cv.gd_contraction(torch.diag(torch.tensor([-1.0, 1.0], dtype=_F)))


def test_psd_allowance_is_relative_to_the_largest_eigenvalue():
    eps = float(torch.finfo(_F).eps)
    # allowance n eps max|lambda| = 2 eps 100: -1e-14 is round-off, -1e-12 is not
    cv.ics_outlier_prediction(torch.zeros(2, dtype=_F), torch.diag(torch.tensor([100.0, -1e-14], dtype=_F)), _spd(2))
    with pytest.raises(ValueError, match=r"^sigma must be positive semidefinite \(smallest eigenvalue -1e-12, "):
        cv.ics_outlier_prediction(torch.zeros(2, dtype=_F), torch.diag(torch.tensor([100.0, -1e-12], dtype=_F)), _spd(2))
    # exactly at the allowance is accepted (the comparison is strict)
    cv.ics_outlier_prediction(torch.zeros(2, dtype=_F), torch.diag(torch.tensor([1.0, -2 * eps], dtype=_F)), _spd(2))


def test_psd_sqrt_refuses_a_singular_matrix():
    with pytest.raises(ValueError, match=r"^sigma must be positive definite \(smallest eigenvalue 0\)$"):
        cv.psd_sqrt(torch.diag(torch.tensor([1.0, 0.0], dtype=_F)), inverse=True)


def test_kfac_step_argument_messages():
    w, g = torch.ones(2, 3, dtype=_F), torch.ones(2, 3, dtype=_F)
    with pytest.raises(ValueError, match="^lr must be > 0, got 0"):
        cv.kfac_step(w, g, _spd(3), _spd(2), lr=0.0)
    with pytest.raises(ValueError, match=r"^shapes do not match: .*a_bar \(2, 2\)"):  # only a_bar is wrong
        cv.kfac_step(w, g, _spd(2), _spd(2), lr=0.1)
    with pytest.raises(ValueError, match=r"^shapes do not match: .*s \(3, 3\)"):  # only s is wrong
        cv.kfac_step(w, g, _spd(3), _spd(3), lr=0.1)


def test_symmetry_allowance_is_round_off_not_1e_8():
    # asymmetry 1e-10: far above the round-off allowance 1e3 eps max|x| = 2.2e-13, far below allclose's defaults
    x = torch.tensor([[1.0, 1e-10], [0.0, 1.0]], dtype=_F)
    with pytest.raises(ValueError, match="^a must be symmetric$"):
        cv.kron_eigh(x, _spd(2))
    cv.kron_eigh(torch.tensor([[1.0, 1e-14], [0.0, 1.0]], dtype=_F), _spd(2))  # round-off: accepted
