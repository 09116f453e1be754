"""normtheory.claims.blog_frobenius: each claim's property holds and FAILS for a deliberately broken
variant; corrected claims replay from their JSON evidence (a tampered record gives other numbers).
Test names carry the claim id (``pytest -k BLOG_frobenius_rank_single``)."""

from __future__ import annotations

import copy

import numpy as np

from normtheory.claims import blog_frobenius as frobenius
from normtheory.registry import Verdict
from _evidence import as_json as _json


# ------------------------------------------------------------------------------ BLOG-frobenius-sum

def test_BLOG_frobenius_sum_fixes_squares_not_sum():
    found = frobenius.frobenius_unit_sums(cases=10)
    assert found["max_abs_sumsq_minus_1"] <= frobenius._SUM_TOL < found["max_abs_sum_minus_1"]
    assert frobenius.frobenius_sum_evidence(found).verdict is Verdict.CORRECTED


def test_BLOG_frobenius_sum_detects_a_nuclear_normaliser():
    # broken: a normaliser dividing by the sum of singular values (the nuclear norm) is what the
    # blog describes; the check must then see the as-stated sum hold and the squares fail
    nuclear = lambda W: W / np.linalg.svd(W, compute_uv=False).sum()  # noqa: E731
    found = frobenius.frobenius_unit_sums(cases=10, normalise=nuclear)
    assert found["max_abs_sum_minus_1"] <= frobenius._SUM_TOL < found["max_abs_sumsq_minus_1"]
    assert frobenius.frobenius_sum_evidence(found).verdict is Verdict.CONFIRMED


def test_BLOG_frobenius_sum_replay_reproduces_and_detects_tampering():
    record = _json(frobenius.check_frobenius_sum())
    assert {"model", "rows", "cols", "data_seed", "dtype", "recipe"} <= record["counterexample"].keys()
    result = record["counterexample"]["result"]
    assert frobenius.replay_frobenius_sum(record) == result
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["data_seed"][-1] += 1
    assert frobenius.replay_frobenius_sum(tampered)["sum_of_singular_values"] != result["sum_of_singular_values"]


# ----------------------------------------------------------------------- BLOG-frobenius-rank-single

def test_BLOG_frobenius_rank_single_instances_reach_rank_one_and_controls_keep_full_rank():
    runs = frobenius.single_matrix_rank_runs()
    for found in runs:
        ranks = {r["lam"]: r["rank"] for r in found["rows"]}
        assert ranks == {0.1: 1, 0.0: found["rows"][0]["full_rank"]}, found["instance"]["name"]
    evidence = frobenius.frobenius_rank_single_evidence(runs)
    assert evidence.verdict is Verdict.CONFIRMED
    assert evidence.measured["instance_decides"] == [True, True]


def test_BLOG_frobenius_rank_single_regression_limit_is_the_rank_one_ridge_solution():
    # with one sample the penalised minimiser is y x^T / (||x||^2 + lam), rank one
    rng = np.random.default_rng(frobenius.RANK_INSTANCES[0]["seed"])
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    found = frobenius.rank_instance_run(frobenius.RANK_INSTANCES[0])
    top = found["rows"][0]["singular_values"][0]
    assert abs(top - np.linalg.norm(y) * np.linalg.norm(x) / (x @ x + 0.1)) <= 1e-12 * top


def test_BLOG_frobenius_rank_single_fails_when_the_penalty_is_dropped():
    # broken: the optimiser step forgets the penalty's gradient lam W (a missing weight-decay term)
    runs = frobenius.single_matrix_rank_runs(penalty_grad=lambda W, lam: 0.0 * W)
    assert all(r["rank"] == r["full_rank"] for f in runs for r in f["rows"])
    # an existential claim without an instance is undecided, not refuted
    assert frobenius.frobenius_rank_single_evidence(runs).verdict is Verdict.INCONCLUSIVE


def test_BLOG_frobenius_rank_single_control_catches_a_default_decay():
    # broken: a step that always applies decay 0.1 (an optimizer default), so the control collapses too
    runs = frobenius.single_matrix_rank_runs(penalty_grad=lambda W, lam: max(lam, 0.1) * W)
    assert all(r["rank"] == 1 for f in runs for r in f["rows"])
    assert frobenius.frobenius_rank_single_evidence(runs).verdict is Verdict.INCONCLUSIVE


def test_BLOG_frobenius_rank_single_roundoff_floor_is_far_below_real_singular_values():
    for found in frobenius.single_matrix_rank_runs():
        for r in found["rows"]:
            s = r["singular_values"]
            assert all(x > 1e3 * r["rank_tol"] for x in s[:r["rank"]])      # kept values are real
            assert all(x <= r["rank_tol"] for x in s[r["rank"]:])           # dropped ones are round-off


# ------------------------------------------------------------------------- BLOG-frobenius-rank-deep

def test_BLOG_frobenius_rank_deep_soft_thresholds_the_product():
    found = frobenius.deep_linear_run()
    assert [r["deep_rank"] for r in found["rows"]] == [3, 2, 1]
    assert [r["single_rank"] for r in found["rows"]] == [4, 4, 4]
    assert frobenius.frobenius_rank_deep_evidence(found).verdict is Verdict.CORRECTED


def test_BLOG_frobenius_rank_deep_fails_when_one_factor_is_not_penalised():
    # broken: the penalty's gradient reaches A only (decay applied to one parameter group)
    def one_factor(A, B, Y, lam, lr):
        R = A @ B - Y
        return A - lr * (R @ B.T + lam * A), B - lr * (A.T @ R)

    found = frobenius.deep_linear_run(step=one_factor)
    assert frobenius.frobenius_rank_deep_evidence(found).verdict is Verdict.REFUTED


def test_BLOG_frobenius_rank_deep_replay_reproduces_and_detects_tampering():
    record = _json(frobenius.check_frobenius_rank_deep())
    assert {"model", "dtype", "target", "init", "optimizer", "lams", "loss"} <= record["counterexample"].keys()
    result = record["counterexample"]["result"]
    assert frobenius.replay_frobenius_rank_deep(record) == result
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["lams"] = [0.3, 1.5, 2.5]
    assert frobenius.replay_frobenius_rank_deep(tampered) != result
