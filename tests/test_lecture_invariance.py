"""Lecture 5: batch-norm invariances (slides "Implicit Learning Rate Decay", "A Wrinkle")."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, strategies as st

from normtheory import reparam
from normtheory.claims import lecture_invariance as li
from normtheory.claims._roundoff import centered_tolerance


@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(2, 40), units=st.integers(1, 6),
       log_gamma=st.lists(st.floats(-60, 60), min_size=6, max_size=6))
def test_bn_positive_unit_rescaling_is_exact(seed, batch, units, log_gamma):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((batch, units)))
    gamma = torch.tensor([10.0**e for e in log_gamma[:units]], dtype=torch.float64)
    kappa = li._kappa(x, x.abs())
    err = (reparam.batch_norm(x * gamma) - reparam.batch_norm(x)).abs().max().item()
    assert err <= centered_tolerance(1, batch, kappa)


def test_bn_unit_rescaling_property_on_library():
    found = li.bn_unit_rescaling(reparam.batch_norm, cases=30)
    assert found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]


def test_bn_unit_rescaling_fails_without_variance_division():
    found = li.bn_unit_rescaling(reparam.batch_center, cases=30)  # centering alone is not scale invariant
    assert found["worst_err_over_tol"] > 1.0


def test_bn_unit_rescaling_fails_for_sign_blind_variant():
    found = li.bn_unit_rescaling(lambda x: reparam.batch_norm(x).abs(), cases=30)
    assert not found["negative_entry_changes_output"]


def test_bn_eps_factor_formula_matches():
    found = li.bn_eps_sweep(lambda x, eps: reparam.batch_norm(x, eps=eps))
    assert found["worst_formula_err_over_tol"] <= 1.0
    assert found["max_change"] > 0.1  # eps really breaks the invariance at eps ~ var


def test_bn_eps_factor_formula_fails_with_eps_inside_wrong_place():
    # A BN that adds eps to the std instead of the variance follows another law.
    found = li.bn_eps_sweep(lambda x, eps: reparam.batch_center(x) / (x.std(dim=0, unbiased=False) + eps))
    assert found["worst_formula_err_over_tol"] > 1.0


def test_bn_input_shift_and_positive_scale():
    found = li.bn_input_transforms(reparam.batch_norm, cases=30)
    assert max(found["worst_err_over_tol"].values()) <= 1.0
    assert found["cases_changed"]["negative_scalar"] == 30 and found["cases_changed"]["per_feature"] == 30


def test_bn_input_shift_fails_when_mean_is_forgotten():
    def no_mean(x):
        return x / x.square().mean(dim=0).sqrt()

    found = li.bn_input_transforms(no_mean, cases=30)
    assert found["worst_err_over_tol"]["shift"] > 1.0
