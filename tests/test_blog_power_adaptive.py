"""normtheory.claims.blog_power_adaptive: each claim's property holds for the library and FAILS for a
deliberately broken variant; the corrected claim replays from its JSON evidence (and a tampered
counterexample gives other numbers). Test names carry the claim id."""

from __future__ import annotations

import copy

import pytest
import torch

from normtheory.claims import blog_power_adaptive as bp
from normtheory.registry import Verdict
from normtheory.spectral import power_iteration
from _evidence import as_json as _json


# ------------------------------------------------------------------------ BLOG-u1-formula

def test_BLOG_u1_formula_confirmed():
    found = bp.u1_cases(cases=6)
    assert bp.u1_evidence(found).verdict is Verdict.CONFIRMED
    assert found["with_sigma_squared_norm_times_sigma_1"] < 1e-12  # ||W v_1 / sigma_1^2|| = 1/sigma_1


def test_BLOG_u1_formula_fails_with_sigma_squared():
    # broken: dividing by the eigenvalue of W^T W (sigma_1^2), as the text's wording would have it
    found = bp.u1_cases(cases=6, u_of=lambda W, v, s: W @ v / s ** 2)
    assert bp.u1_evidence(found).verdict is Verdict.REFUTED


# ------------------------------------------------------------------------ BLOG-update-eigenvalue-reading

def _cases(update=bp.eigenvalue_reading_update, n=6):
    return [(r, bp.eigenvalue_reading_case(r, update)) for r in bp._seeded_records(n, 0)]


def test_BLOG_update_eigenvalue_reading_corrected():
    ev = bp.eigenvalue_reading_evidence(_cases())
    assert ev.verdict is Verdict.CORRECTED
    assert ev.measured["max_err_as_stated"] > 0.1


def test_BLOG_update_eigenvalue_reading_as_stated_branch_passes_with_the_square_root():
    # the verdict follows the measurement: with sigma_1 = sqrt(lambda) the update does hit the target
    def rooted(W, target):
        lam, vecs = torch.linalg.eigh(W.T @ W)
        s1, v1 = float(lam[-1]) ** 0.5, vecs[:, -1]
        return W + torch.outer(W @ v1 / s1, v1) * (target - s1), s1

    assert bp.eigenvalue_reading_evidence(_cases(rooted)).verdict is Verdict.CONFIRMED


def test_BLOG_update_eigenvalue_reading_fails_for_an_unnormalised_u():
    # broken: u_1 = W v_1 (the division forgotten): neither reading holds
    def unnormalised(W, target):
        lam, vecs = torch.linalg.eigh(W.T @ W)
        v1 = vecs[:, -1]
        return W + torch.outer(W @ v1, v1) * (target - float(lam[-1])), float(lam[-1])

    assert bp.eigenvalue_reading_evidence(_cases(unnormalised)).verdict is Verdict.REFUTED


def test_BLOG_update_eigenvalue_reading_replay_reproduces_and_detects_tampering():
    ev = _json(bp.eigenvalue_reading_evidence(_cases()))
    again = bp.replay_update_eigenvalue_reading(ev)
    assert again == pytest.approx(ev["counterexample"]["result"], rel=1e-9, abs=1e-15)
    bad = copy.deepcopy(ev)
    bad["counterexample"]["target"] *= 2
    assert bp.replay_update_eigenvalue_reading(bad)["err_as_stated"] != pytest.approx(
        ev["counterexample"]["result"]["err_as_stated"], rel=1e-6)


# ------------------------------------------------------------------------ BLOG-adaptive-power

_SMALL = {**bp.ADAPTIVE_SETUP, "rows": 12, "cols": 8, "steps": 2, "gaps": [0.5, 0.9], "fixed_iters": 100}


def test_BLOG_adaptive_power_confirmed_on_a_small_setup():
    found = bp.adaptive_power_study(setup=_SMALL)
    ev = bp.adaptive_evidence(found)
    assert ev.verdict is Verdict.CONFIRMED
    assert all(r["mean_iterations"] < 100 for r in found["rows"])


def test_BLOG_adaptive_power_fails_for_a_single_warm_step():
    # broken: "adaptive" that always stops after one step from the warm start, whatever the residual
    g = torch.Generator().manual_seed(0)
    one = lambda W, v0: power_iteration(W, iters=1, v0=v0, generator=g)  # noqa: E731
    ev = bp.adaptive_evidence(bp.adaptive_power_study(setup=_SMALL, estimator=one))
    assert ev.verdict is Verdict.REFUTED
    assert ev.counterexample["setup"] == _SMALL
