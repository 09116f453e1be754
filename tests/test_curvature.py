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
