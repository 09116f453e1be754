"""normtheory.claims.blog_power_iteration: each claim's property holds for the library and FAILS for a
deliberately broken variant; the corrected claim replays from its JSON evidence (and a tampered
counterexample gives other numbers). Test names carry the claim id (``pytest -k BLOG_power_gram``)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from normtheory import spectral
from normtheory.claims import blog_power_iteration as power_iteration
from normtheory.random_matrices import matrix_from_record
from normtheory.registry import Verdict
from _evidence import as_json as _json, names_its_recipe as _names_its_recipe, same_numbers as _same_numbers


# ------------------------------------------------------------------------------ BLOG-power-gram

def test_BLOG_power_gram_eigenvalue_is_sigma_squared():
    found = power_iteration.gram_eigen_vs_singular(cases=10)
    assert found["max_rel_err_lambda_vs_sigma_sq"] <= power_iteration._GRAM_TOL
    assert found["max_rel_err_lambda_vs_sigma"] > 0.1  # the blog's reading is off
    assert power_iteration.power_gram_evidence(found).verdict is Verdict.CORRECTED


def test_BLOG_power_gram_fails_for_the_smallest_eigenpair():
    # broken: eigh sorts ascending; taking column 0 is the classic off-by-order bug
    def smallest(G):
        lam, vecs = np.linalg.eigh(G)
        return float(lam[0]), vecs[:, 0]

    found = power_iteration.gram_eigen_vs_singular(cases=10, eigenpair=smallest)
    assert found["max_rel_err_lambda_vs_sigma_sq"] > 1e-3
    assert power_iteration.power_gram_evidence(found).verdict is Verdict.REFUTED


def test_BLOG_power_gram_as_stated_branch_passes_for_the_square_root():
    # the verdict follows the measurement: sqrt(lambda_max) is sigma_1, so "as stated" would pass
    def rooted(G):
        lam, vec = power_iteration.top_gram_eigenpair(G)
        return math.sqrt(lam), vec

    found = power_iteration.gram_eigen_vs_singular(cases=10, eigenpair=rooted)
    assert power_iteration.power_gram_evidence(found).verdict is Verdict.CONFIRMED


def test_BLOG_power_gram_replay_reproduces_and_detects_tampering():
    record = _json(power_iteration.check_power_gram())
    _names_its_recipe(record["counterexample"])
    assert _same_numbers(power_iteration.replay_power_gram(record), record["counterexample"]["result"])
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["singular_values"][0] *= 1.5
    assert not _same_numbers(power_iteration.replay_power_gram(tampered), record["counterexample"]["result"])


def test_BLOG_power_gram_record_needs_its_fields():
    with pytest.raises(ValueError, match="bases_seed"):
        matrix_from_record({"rows": 3, "cols": 3, "singular_values": [1.0, 1.0, 1.0]})


# ------------------------------------------------------------------------------ BLOG-power-rate

def test_BLOG_power_rate_bound_holds_and_fails_for_broken_estimator():
    ok = power_iteration.power_rate(gaps=(0.9,), steps=24)
    assert ok["worst_ratio_to_bound"] <= 1.0
    # broken: half as many steps as claimed (a power step on W instead of W^T W halves the exponent)
    broken = power_iteration.power_rate(gaps=(0.9,), steps=24,
                           estimator=lambda W, v, k: spectral.power_iteration(W, iters=k // 2, v0=v).v if k >= 2 else v)
    assert broken["worst_ratio_to_bound"] > 1.0
