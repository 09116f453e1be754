"""normtheory.claims.blog_spectral (the rank-one correction and the initialisation): each claim's
property holds for the library and FAILS for a deliberately broken variant; the corrected claim replays
from its JSON evidence (and a tampered counterexample gives other numbers). Test names carry the claim
id (``pytest -k BLOG_rank1_decreases``)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import spectral
from normtheory.claims import blog_spectral as rank_one
from normtheory.random_matrices import with_spectrum
from normtheory.registry import Verdict
from normtheory.roundoff import EPS64
from _evidence import as_json as _json, names_its_recipe as _names_its_recipe, same_numbers as _same_numbers


# ------------------------------------------------------- BLOG-rank1-spectrum / caveat / decreases

def test_BLOG_rank1_spectrum_holds_and_fails_for_sigma_squared():
    ok = rank_one.correction_spectrum(cases=10)
    assert ok["worst_over_scale"]["spectrum"] <= rank_one._SPEC_TOL

    def broken(W, t, *, u, v):  # uses sigma^2 for sigma
        s = float(u @ W @ v)
        return W + (t - s * s) * torch.outer(u, v)

    bad = rank_one.correction_spectrum(broken, cases=10)
    assert bad["worst_over_scale"]["spectrum"] > 1e-3


def test_BLOG_rank1_caveat_norm_is_max_and_fails_for_whole_matrix_rescaling():
    ok = rank_one.correction_spectrum(cases=12)
    assert ok["worst_over_scale"]["spectral_norm_vs_max"] <= rank_one._SPEC_TOL
    assert ok["cases_sigma2_above_target"] > 0

    def rescale(W, t, *, u, v):  # broken: scales the whole matrix (norm always t, no caveat)
        return W * (t / float(u @ W @ v))

    bad = rank_one.correction_spectrum(rescale, cases=12)
    assert bad["worst_over_scale"]["spectral_norm_vs_max"] > 1e-3


def test_BLOG_rank1_decreases_is_corrected_and_fails_for_a_sign_error():
    ok = rank_one.correction_spectrum(cases=12)
    assert ok["increase_example"] is not None
    assert ok["tie_example"]["result"]["new_norm"] == pytest.approx(1.0, rel=1e-14)  # tie: no decrease
    assert rank_one.rank1_decreases_evidence(ok).verdict is Verdict.CORRECTED

    def flipped(W, t, *, u, v):  # broken: (sigma - t) instead of (t - sigma)
        return W + (float(u @ W @ v) - t) * torch.outer(u, v)

    bad = rank_one.correction_spectrum(flipped, cases=12)
    assert rank_one.rank1_decreases_evidence(bad).verdict is Verdict.REFUTED


def test_BLOG_rank1_decreases_replay_reproduces_and_detects_tampering():
    record = _json(rank_one.check_rank1_decreases())
    ce = record["counterexample"]
    _names_its_recipe(ce)
    assert ce["target"] > ce["result"]["sigma_1"]  # the counterexample is an increase
    assert _same_numbers(rank_one.replay_rank1_decreases(record), ce["result"])
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["target"] *= 1.1
    assert not _same_numbers(rank_one.replay_rank1_decreases(tampered), ce["result"])


# ------------------------------------------------------------------------------ BLOG-rank1-error

def test_BLOG_rank1_error_bracket_holds_and_fails_without_residual_term():
    ok = rank_one.correction_error_propagation(steps=(1, 3))
    assert ok["worst_outside_bracket"] == 0.0

    def no_rho(W, t, v):  # broken: forgets the residual term
        b = spectral.correction_bounds(W, t, v)
        b["upper"] = max(t, b["f"])
        return b

    bad = rank_one.correction_error_propagation(steps=(1, 3), bracket=no_rho)
    assert bad["worst_outside_bracket"] > 0.0


@given(st.integers(0, 2**31), st.integers(3, 12), st.integers(3, 12), st.floats(0.1, 3.0),
       st.sampled_from([0.5, 0.99, 0.9999, 1.0]), st.integers(1, 6))
@example(0, 5, 5, 1.0, 1.0, 1)  # exactly repeated top singular value
def test_BLOG_rank1_error_bracket_property(seed, m, n, t, gap, k):
    rng = np.random.default_rng(seed)
    s = np.concatenate([[1.0, gap], gap * np.sort(rng.uniform(0, 1, min(m, n) - 2))[::-1]])
    W, _, _ = with_spectrum(m, n, s, rng)
    v = spectral.power_iteration(W, iters=k, v0=torch.from_numpy(rng.standard_normal(n))).v
    b = spectral.correction_bounds(W, t, v)
    sig = float(torch.linalg.vector_norm(W @ v))
    u = W @ v / sig
    Wc = W + (t - sig) * torch.outer(u, v)
    true = float(torch.linalg.matrix_norm(Wc, ord=2))
    tol = 64 * (m + n) * EPS64 * max(t, 1.0)  # SVD and rank-one update round-off
    assert b["lower"] - tol <= true <= b["upper"] + tol
    assert b["upper"] <= max(t, b["f"]) + b["rho"] + tol
    assert abs(float(torch.linalg.vector_norm(Wc @ v)) - t) <= tol  # W' v = t u exactly


# ------------------------------------------------------------------------------ BLOG-init-norms

def test_BLOG_init_norms_hold_and_fail_for_unscaled_init():
    shapes = [(16, 4, 3, 3), (8, 20), (20, 8)]
    ok = rank_one.init_norms(shapes=shapes)
    assert ok["worst_spec"] <= 64 * 4608 * EPS64 and ok["worst_fro"] <= 64 * 4608 * EPS64

    def unscaled(w, generator=None):
        return torch.nn.init.orthogonal_(w, generator=generator)

    bad = rank_one.init_norms(unscaled, shapes=shapes)
    assert bad["worst_spec"] > 0.1
