"""normtheory.claims.lecture_ics: each property on the library code (normtheory.curvature), then on a
deliberately broken variant. Test names carry the claim id."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from hypothesis import example, given, strategies as st

from normtheory import curvature
from normtheory import reparam
from normtheory.claims import lecture_ics as ics


def test_L5_ics_outlier_replay_and_tamper():
    record = json.loads(json.dumps(ics.check_ics_outlier().to_json()))
    assert ics.replay_ics_outlier(record) == record["counterexample"]["reproduces"]
    record["counterexample"]["seed"] = 3
    assert ics.replay_ics_outlier(record) != record["counterexample"]["reproduces"]


def test_L5_ics_outlier_bracket_fails_for_the_slides_value_as_upper_bound(monkeypatch):
    # a prediction whose upper end is nu lambda_i itself (||Sigma|| dropped) excludes the true outliers
    real = curvature.ics_outlier_prediction

    def no_sigma(mean, sigma, s):
        pred = real(mean, sigma, s)
        return dataclasses.replace(pred, upper=pred.nu)

    monkeypatch.setattr(curvature, "ics_outlier_prediction", no_sigma)
    assert not ics.ics_outlier_cases(seed=1, mean_norms=(10.0,), n=60)[0]["in_bounds"]


@given(seed=st.integers(0, 1000), mean_norm=st.floats(5.0, 300.0))
@example(seed=0, mean_norm=5.0)
def test_L5_ics_outlier_within_exact_bracket(seed, mean_norm):
    rows = ics.ics_outlier_cases(seed=seed, mean_norms=(mean_norm,), n=60)
    r = rows[0]
    assert r["in_bounds"] and r["sin_angle_to_(m,1)"] <= r["angle_bound"] and r["centered_err_over_tol"] <= 1


def test_L5_ics_outlier_literal_forms_are_only_approximate():
    # the slide's eigenvector m (x) v (no bias entry) is farther from the true one than (m, 1) (x) v
    rows = ics.ics_outlier_cases(seed=1, mean_norms=(10.0, 30.0))
    assert all(r["sin_angle_to_(m,0)"] > r["sin_angle_to_(m,1)"] for r in rows)
    # and the as-stated equality nu lambda_i fails beyond round-off (it is an approximation)
    assert all(r["as_stated_err_over_tol"] > 1 for r in rows)


def test_L5_ics_gd_rate_bracket_and_broken_rate():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((64, 3)) + 3)
    y = x.sum(1)
    r = ics.gd_least_squares(x, y, target=1e-3)
    assert r["steps_lower"] - 1 <= r["steps"] <= r["steps_upper"]
    # a broken prediction that uses the centered Hessian's rate for the uncentered problem fails
    rc = ics.gd_least_squares(reparam.batch_center(x), y, target=1e-3)
    assert r["steps"] > rc["steps_upper"]
