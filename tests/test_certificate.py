"""The one sigma_1 certificate: never certified when the true sigma_1 lies outside the bracket.

A hypothesis property over scales (1e-300..1e300), ranks, clustered spectra, shapes and real or
complex entries checks every bracket of ``certify_brackets`` (and of its callers) against a float64
SVD (numpy's LAPACK gesdd on the matrix scaled by a power of two, which is exact); broken variants
(the power-of-two scaling dropped, the Cholesky verdict ignored) make the same property fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from normtheory import multilayer as ml
from normtheory import spectral as sp
from normtheory.audit._certify import sigma_bracket
from normtheory.roundoff import EPS64
from normtheory.spectral import certify as cert


def svd_sigma1(W: torch.Tensor) -> float:
    """float64 reference: LAPACK SVD of W * 2^-e (exact scaling), times 2^e. Backward stable:
    its sigma_1 is within about (m + n) eps relative of the exact one (Weyl)."""
    a = W.detach().cpu().numpy().astype(np.complex128 if W.is_complex() else np.float64)
    peak = float(np.abs(a).max())
    if peak == 0:
        return 0.0
    e = math.frexp(peak)[1]
    s = float(np.linalg.svd(np.ldexp(a.real, -e) + (1j * np.ldexp(a.imag, -e) if W.is_complex() else 0),
                            compute_uv=False)[0])
    return math.ldexp(s, e)


def ref_slack(W) -> float:
    """Relative accuracy of the reference: 16 (m + n) eps, the SVD's backward error with room."""
    return 16 * sum(W.shape[-2:]) * EPS64


def build(m, n, rank, kind, scale_exp, is_complex, seed) -> torch.Tensor:
    """U diag(s) V^H with Haar-like U, V and a spectrum of the given kind, times 10^scale_exp."""
    rng = np.random.default_rng(seed)
    k = min(m, n)
    rank = max(1, min(rank, k))

    def basis(rows):
        z = rng.standard_normal((rows, k)) + (1j * rng.standard_normal((rows, k)) if is_complex else 0)
        return np.linalg.qr(z)[0]
    U, V = basis(m), basis(n)
    if kind == "cluster":      # near-degenerate top cluster, as after an Adam step
        top = 1 - np.sort(rng.uniform(0, 10.0 ** rng.uniform(-12, -2), rank))
        s = top
    elif kind == "repeated":
        s = np.ones(rank)
    elif kind == "geometric":
        s = np.logspace(0, -rng.uniform(1, 14), rank)
    else:
        s = np.sort(rng.uniform(0.01, 1, rank))[::-1]
    s = np.concatenate([s, np.zeros(k - rank)])
    a = (U * s) @ V.conj().T * 10.0 ** scale_exp
    return torch.from_numpy(a)


def bracket_holds(lower, upper, certified, W, rtol) -> bool:
    """The property: a certified bracket contains the reference sigma_1 (up to the reference's own
    error) and is as narrow as claimed; an uncertified one is still a valid bracket."""
    ref = svd_sigma1(W)
    slack = ref_slack(W) * ref
    lower, upper = float(lower), float(upper)
    inside = lower <= ref + slack and ref - slack <= upper
    if not inside:
        return False
    if bool(certified):
        return (upper - lower) <= rtol * lower or upper == 0
    return True


cases = st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(0, 20),
                  st.sampled_from(["cluster", "repeated", "geometric", "uniform"]),
                  st.integers(-300, 300), st.booleans(), st.integers(0, 2**31))

EXAMPLES = [
    (12, 7, 7, "cluster", -300, False, 0), (12, 7, 7, "cluster", 300, False, 1),
    (5, 9, 1, "repeated", -305, True, 2), (20, 20, 20, "geometric", 0, False, 3),
    (1, 17, 1, "uniform", 250, False, 4), (16, 3, 2, "cluster", -200, True, 5),
]


@settings(max_examples=60, deadline=None)
@given(cases)
@example(EXAMPLES[0])
@example(EXAMPLES[1])
@example(EXAMPLES[2])
@example(EXAMPLES[3])
def test_certificate_property(case):
    W = build(*case)
    rtol = 1e-6
    br = sp.certify_brackets([W, W.T.contiguous()], rtol=rtol)
    for i, w in enumerate([W, W.T]):
        assert bracket_holds(br.lower[i], br.upper[i], br.certified[i], w, rtol)
    # the real cases are certified (k^2 u << rtol): the certificate does its job, not only holds
    assert bool(br.certified.all())


@settings(max_examples=15, deadline=None)
@given(cases)
def test_callers_share_the_certificate(case):
    W = build(*case)
    b = sp.spectral_norm_bracket(W, rtol=1e-6)
    a = sigma_bracket(W, rtol=1e-6)
    assert torch.equal(a.lower, b.lower) and torch.equal(a.upper, b.upper)
    if not W.is_complex():
        c = ml.certify_spectral_norms([W], rtol=1e-6)
        assert float(c.lower[0]) == float(b.lower) and float(c.upper[0]) == float(b.upper)
    assert bracket_holds(b.lower, b.upper, b.certified, W, 1e-6)


def _fails_somewhere(monkeypatch, patch) -> bool:
    patch(monkeypatch)
    for case in EXAMPLES:
        W = build(*case)
        br = sp.certify_brackets([W], rtol=1e-6, squarings=0)
        if not bracket_holds(br.lower[0], br.upper[0], br.certified[0], W, 1e-6):
            return True
    return False


def test_property_fails_without_power_of_two_scaling(monkeypatch):
    def patch(mp):
        mp.setattr(cert, "ldexp_exact_", lambda x, e: x)   # the scaling dropped ...
        mp.setattr(cert, "ldexp_outward", lambda x, e, up: x)  # ... and so its undoing
    assert _fails_somewhere(monkeypatch, patch)


def test_property_fails_when_cholesky_verdict_is_ignored(monkeypatch):
    real = cert._cholesky_upper

    def trusting(G, c, fro_up, p):
        # broken variant: the margin is taken on faith (the factorisation's failure ignored), so
        # a poor squared vector yields an "upper" bound below sigma_1
        upper, _ = real(G, c, fro_up, p)
        return upper, torch.ones_like(upper, dtype=torch.bool)

    def patch(mp):
        mp.setattr(cert, "_cholesky_upper", trusting)
        mp.setattr(cert, "_squared_vector", lambda G, s: torch.ones(G.shape[:2], dtype=G.dtype))
    assert _fails_somewhere(monkeypatch, patch)


def test_fallback_and_zero_matrix():
    # squarings=0 and a start vector orthogonal-ish to the top: the fast test fails, the
    # eigensolver fallback certifies, and the index is reported
    W = build(12, 7, 7, "cluster", 0, False, 0)
    W = W - W @ torch.ones(7, 7, dtype=torch.float64) / 7   # ones vector in the null space
    br = sp.certify_brackets([W, torch.zeros(3, 4, dtype=torch.float64)], rtol=1e-6, squarings=0)
    assert br.fallback == [0] and bool(br.certified.all())
    assert float(br.lower[1]) == 0.0 and float(br.upper[1]) == 0.0
    assert bracket_holds(br.lower[0], br.upper[0], br.certified[0], W, 1e-6)


def test_scaled_power_iteration_and_reference_at_extreme_scales():
    base = build(9, 6, 6, "uniform", 0, False, 7)
    for e in (-300, -170, 200, 300):
        W = base * 10.0 ** e
        ref = svd_sigma1(W)
        r = sp.power_iteration(W, rtol=1e-10, max_iters=5000, generator=torch.Generator().manual_seed(0))
        assert abs(float(r.sigma) / ref - 1) <= 1e-8
        assert abs(float(sp.spectral_norm_reference(W)) / ref - 1) <= ref_slack(W)


def test_complex_is_handled_with_conjugate_transposes():
    W = build(6, 9, 6, "uniform", 0, True, 11)
    ref = svd_sigma1(W)
    r = sp.power_iteration(W, rtol=1e-12, max_iters=20000, generator=torch.Generator().manual_seed(0))
    assert abs(float(r.sigma) / ref - 1) <= 1e-10
    Wc = sp.rank_one_correction(W, 0.5 * ref)
    s = np.linalg.svd(Wc.numpy(), compute_uv=False)
    true = np.linalg.svd(W.numpy(), compute_uv=False)
    assert abs(s[0] - max(0.5 * ref, true[1])) <= 1e-8 * ref  # {target, sigma_2, ...}
    assert sp.certify_upper_bound(W, ref * (1 - 1e-6)) is None
    assert sp.certify_upper_bound(W, ref * (1 + 1e-6)) >= ref


def test_one_input_check_names_the_argument():
    with pytest.raises(TypeError, match="weight"):
        sp.conv2d_operator_norm(torch.ones(2, 2, 3, 3, dtype=torch.complex128), 5)
    with pytest.raises(ValueError, match=r"mats\[1\]"):
        sp.certify_brackets([torch.ones(2, 2), torch.full((2, 2), float("nan"))])
    with pytest.raises(TypeError, match="W"):
        sp.power_iteration(torch.ones(3, 3, dtype=torch.int64), iters=1)
