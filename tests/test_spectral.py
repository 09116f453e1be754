"""spectral.py: power iteration, reference, certified bracket, rank-one correction, conv norms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import spectral as sp



EPS = float(np.finfo(np.float64).eps)


def matrix_with_spectrum(m, n, sigmas, seed):
    """U diag(sigmas) V^T with Haar-random U, V (float64)."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    s = np.zeros(k)
    s[: len(sigmas)] = sigmas[:k]
    return torch.from_numpy(U @ np.diag(s) @ V.T)


spectra = st.tuples(
    st.integers(2, 24), st.integers(2, 24), st.integers(0, 2**31),
    st.sampled_from(["well", "ill", "repeated", "near", "rank1"]),
    st.floats(-100, 100).map(lambda e: 10.0 ** e))


def _sigmas(kind, k, scale, rng):
    if kind == "well":
        s = np.sort(rng.uniform(0.5, 1.0, k))[::-1]
    elif kind == "ill":
        s = np.logspace(0, -12, k)
    elif kind == "repeated":
        s = np.concatenate([[1.0, 1.0], np.sort(rng.uniform(0, 0.9, k))[::-1]])[:k]
    elif kind == "near":
        s = np.concatenate([[1.0, 1.0 - 5e-4], np.sort(rng.uniform(0, 0.9, k))[::-1]])[:k]
    else:
        s = np.zeros(k)
        s[0] = 1.0
    return s * scale


@given(spectra)
@example((5, 3, 0, "repeated", 1e-100))
@example((24, 24, 1, "near", 1e100))
@example((2, 2, 2, "rank1", 1.0))
def test_bracket_contains_sigma1_and_is_tight(case):
    m, n, seed, kind, scale = case
    rng = np.random.default_rng(seed)
    s = _sigmas(kind, min(m, n), scale, rng)
    W = matrix_with_spectrum(m, n, s, seed)
    true = float(np.linalg.svd(W.numpy() / scale, compute_uv=False)[0]) * scale
    b = sp.spectral_norm_bracket(W, rtol=1e-8)
    # the exact sigma_1 is s[0]; the SVD of the constructed W equals it to ~ (m+n) eps (backward
    # stable construction and SVD); the bracket must contain it up to that construction error.
    slack = 8 * (m + n) * EPS * s[0]
    assert float(b.lower) <= s[0] + slack and float(b.upper) >= s[0] - slack
    assert float(b.lower) <= true + slack and float(b.upper) >= true - slack
    assert bool(b.certified)
    assert (float(b.upper) - float(b.lower)) <= 1e-8 * float(b.lower)


def test_bracket_certificate_rejects_too_small_upper():
    W = matrix_with_spectrum(10, 8, [2.0, 1.0, 0.5], 0)
    assert sp.certify_upper_bound(W, 2.0 * (1 - 1e-6)) is None  # below sigma_1: Cholesky must fail
    up = sp.certify_upper_bound(W, 2.0 * (1 + 1e-9))
    assert up is not None and up >= 2.0


def test_broken_certificate_without_margin_would_claim_below_sigma1():
    # A broken "certificate" that trusts the estimate without the Cholesky test accepts a value
    # below sigma_1; the real one refuses it.
    W = matrix_with_spectrum(6, 6, [1.0, 1.0 - 1e-3, 0.2], 3)
    bad_upper = float(sp.power_iteration(W, iters=2, v0=torch.ones(6, dtype=torch.float64)).sigma)
    assert bad_upper < 1.0
    assert sp.certify_upper_bound(W, bad_upper) is None


@given(spectra)
@example((6, 4, 0, "repeated", 1.0))
def test_power_iteration_rtol_converges_to_sigma1_with_honest_flags(case):
    m, n, seed, kind, scale = case
    rng = np.random.default_rng(seed)
    s = _sigmas(kind, min(m, n), scale, rng)
    W = matrix_with_spectrum(m, n, s, seed)
    r = sp.power_iteration(W, rtol=1e-7, max_iters=400, generator=torch.Generator().manual_seed(seed))
    assert float(r.sigma) <= s[0] * (1 + 8 * (m + n) * EPS)  # a Rayleigh value never exceeds sigma_1
    if bool(r.converged):
        assert float(r.residual) <= 1e-7 * float(r.sigma)
        # residual theorem: some singular value within residual/sqrt(2) of sigma; with a random
        # start it is sigma_1 (start orthogonal to v_1 has probability 0)
        gap_ok = abs(float(r.sigma) - s[0]) <= float(r.residual_bound) + 8 * (m + n) * EPS * s[0]
        near = np.min(np.abs(s - float(r.sigma))) <= float(r.residual_bound) + 8 * (m + n) * EPS * s[0]
        assert near
        if kind != "near":
            assert gap_ok


def test_power_iteration_does_not_claim_convergence_it_has_not_reached():
    # gap sigma2/sigma1 = 0.9995: 5 steps from a generic start cannot have converged
    W = matrix_with_spectrum(40, 30, np.linspace(1, 0.9995, 30) ** 50, 1)
    W = matrix_with_spectrum(40, 30, np.concatenate([[1.0, 0.9995], np.linspace(0.9, 0.1, 28)]), 1)
    r = sp.power_iteration(W, iters=5, generator=torch.Generator().manual_seed(0))
    assert not bool(r.converged)
    r = sp.power_iteration(W, rtol=1e-9, max_iters=50, generator=torch.Generator().manual_seed(0))
    assert not bool(r.converged) and r.iterations == 50


def test_power_iteration_restarts_from_null_space_start():
    W = torch.zeros(4, 3, dtype=torch.float64)
    W[0, 0] = 3.0  # rank one; v0 = e2 lies in the null space
    r = sp.power_iteration(W, rtol=1e-10, v0=torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64),
                           generator=torch.Generator().manual_seed(0))
    assert abs(float(r.sigma) - 3.0) <= 4 * EPS * 3 and bool(r.converged)


def test_power_iteration_zero_matrix_is_exact_zero():
    r = sp.power_iteration(torch.zeros(3, 5, 4, dtype=torch.float64), iters=3)
    assert torch.equal(r.sigma, torch.zeros(3, dtype=torch.float64)) and bool(r.converged.all())


def test_batched_matches_single_and_warm_start_helps():
    g = torch.Generator().manual_seed(0)
    Ws = torch.stack([matrix_with_spectrum(20, 12, np.linspace(1, 0.1, 12) * (i + 1), i) for i in range(4)])
    batch = sp.power_iteration(Ws, rtol=1e-10, generator=g)
    for i in range(4):
        assert abs(float(batch.sigma[i]) - (i + 1)) <= 64 * EPS * (i + 1)
    warm = sp.power_iteration(Ws, rtol=1e-10, v0=batch.v)
    assert warm.iterations <= 1


@pytest.mark.slow
def test_reference_matches_svd_large():
    # k = 1100 > 1024 takes the Lanczos (ARPACK) path
    W = matrix_with_spectrum(1200, 1100, np.concatenate([[3.0], np.linspace(2, 0.1, 1099)]), 5)
    assert abs(float(sp.spectral_norm_reference(W)) - 3.0) <= 64 * 2300 * EPS * 3


def test_broken_power_iteration_sigma_squared_is_detected():
    # the blog's wording "eigenvalue of W^T W is the singular value" gives sigma_1^2
    W = matrix_with_spectrum(8, 6, [2.0, 1.0], 0)
    r = sp.power_iteration(W, rtol=1e-12)
    rayleigh_gram = float(r.v @ (W.T @ (W @ r.v)))
    assert abs(rayleigh_gram - 2.0) > 1.0 and abs(float(r.sigma) - 2.0) <= 64 * EPS * 2


@pytest.mark.parametrize("bad", [
    dict(W=torch.zeros(3, 3, dtype=torch.int64), iters=1),
    dict(W=torch.full((3, 3), float("nan"), dtype=torch.float64), iters=1),
    dict(W=torch.tensor([[float("inf"), 0.0]], dtype=torch.float64), iters=1),
    dict(W=torch.ones(3, dtype=torch.float64), iters=1),
    dict(W=torch.ones(2, 3, 3, 3, dtype=torch.float64), iters=1),
    dict(W=torch.ones(3, 3, dtype=torch.float64), iters=0),
    dict(W=torch.ones(3, 3, dtype=torch.float64), rtol=0.0),
    dict(W=torch.ones(3, 3, dtype=torch.float64), rtol=1.0),
    dict(W=torch.ones(3, 3, dtype=torch.float64)),
    dict(W=torch.ones(3, 3, dtype=torch.float64), iters=1, rtol=0.1),
    dict(W=torch.ones(3, 3, dtype=torch.float64), iters=1, v0=torch.zeros(3, dtype=torch.float64)),
    dict(W=torch.ones(3, 3, dtype=torch.float64), iters=1, v0=torch.ones(4, dtype=torch.float64)),
])
def test_power_iteration_bad_input(bad):
    W = bad.pop("W")
    with pytest.raises((TypeError, ValueError)):
        sp.power_iteration(W, **bad)


def test_rank_one_correction_exact_spectrum_and_bad_input():
    W = matrix_with_spectrum(7, 5, [3.0, 2.0, 1.0, 0.5, 0.1], 2)
    Wc = sp.rank_one_correction(W, 1.5)
    s = torch.linalg.svdvals(Wc)
    assert torch.allclose(s, torch.tensor([2.0, 1.5, 1.0, 0.5, 0.1], dtype=torch.float64), atol=1e-9)
    assert torch.equal(W, matrix_with_spectrum(7, 5, [3.0, 2.0, 1.0, 0.5, 0.1], 2))  # not in place
    for t in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            sp.rank_one_correction(W, t)
    with pytest.raises(ValueError):
        sp.rank_one_correction(torch.zeros(3, 3, dtype=torch.float64), 1.0)
    with pytest.raises(ValueError):
        sp.rank_one_correction(torch.ones(2, 2, 3, 3, dtype=torch.float64), 1.0)
    assert sp.as_matrix(torch.ones(4, 2, 3, 3)).shape == (4, 18)
    with pytest.raises(ValueError):
        sp.as_matrix(torch.ones(4))


@given(st.integers(0, 2**31), st.integers(1, 4), st.integers(1, 4), st.sampled_from([1, 3]),
       st.sampled_from([(1, 0), (1, 1), (2, 0), (2, 1)]), st.integers(4, 7))
@example(0, 2, 3, 3, (2, 1), 6)  # stride 2 on an even size: needs output_padding in the adjoint
def test_conv_norm_matches_dense_matrix(seed, out_c, in_c, k, stride_pad, n):
    stride, pad = stride_pad
    if k == 1:
        pad = 0
    w = torch.from_numpy(np.random.default_rng(seed).standard_normal((out_c, in_c, k, k)))
    dense = float(torch.linalg.matrix_norm(sp.conv2d_dense_matrix(w, n, stride=stride, padding=pad), ord=2))
    r = sp.conv2d_operator_norm(w, n, stride=stride, padding=pad, rtol=1e-10,
                                generator=torch.Generator().manual_seed(seed))
    # the estimate is a Rayleigh value (<= norm); converged to residual 1e-10 relative
    assert r.lower <= dense * (1 + 1e-12) and r.upper >= dense * (1 - 1e-12)
    if r.converged:
        assert abs(r.sigma - dense) <= 1e-6 * dense
    # known bound: ||W_mat||_2 / ... <= ||conv||, upper sqrt(ceil(k/s)^2) ||W_mat||
    wm = float(torch.linalg.matrix_norm(w.reshape(out_c, -1), ord=2))
    assert dense <= math.ceil(k / stride) * wm * (1 + 1e-12)


@given(st.integers(0, 2**31), st.integers(1, 4), st.integers(1, 4), st.integers(3, 6))
def test_conv_circular_fft_is_exact(seed, out_c, in_c, n):
    w = torch.from_numpy(np.random.default_rng(seed).standard_normal((out_c, in_c, 3, 3)))
    dense = float(torch.linalg.matrix_norm(
        sp.conv2d_dense_matrix(w, n, padding=1, padding_mode="circular"), ord=2))
    r = sp.conv2d_operator_norm(w, n, padding=1, padding_mode="circular")
    assert abs(r.sigma - dense) <= 1e-12 * dense
    wm = float(torch.linalg.matrix_norm(w.reshape(out_c, -1), ord=2))
    assert wm <= dense * (1 + 1e-12) <= 3 * wm * (1 + 1e-12)  # ||W_mat|| <= ||conv|| <= 3 ||W_mat||


def test_conv_adjoint_without_output_padding_is_broken():
    # broken variant: the adjoint without output_padding returns a 5x5 image for a 6x6 input
    import torch.nn.functional as F
    w = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    y = F.conv2d(torch.randn(1, 3, 6, 6, dtype=torch.float64), w, stride=2, padding=1)
    assert F.conv_transpose2d(y, w, stride=2, padding=1).shape[-1] == 5
    assert F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1).shape[-1] == 6


def test_conv_bad_input():
    w = torch.randn(2, 3, 3, 3, dtype=torch.float64)
    with pytest.raises(TypeError):  # the one input check: convolutions are real maps
        sp.conv2d_operator_norm(w.to(torch.complex128), 6)
    with pytest.raises(ValueError):
        sp.conv2d_operator_norm(w, 2)
    with pytest.raises(ValueError):
        sp.conv2d_operator_norm(w.reshape(2, -1), 6)
    with pytest.raises(ValueError):
        sp.conv2d_operator_norm(w, 6, padding_mode="mirror")
