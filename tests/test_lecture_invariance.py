"""Lecture 5: batch-norm invariances (slides "Batch Normalization", "Implicit Learning Rate Decay",
"A Wrinkle"); each property, then a plausible broken variant that must fail.

Test names carry the claim id (``pytest -k L5_bn_eps``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, strategies as st

from normtheory import reparam
from normtheory.batch_norm_rescaling import bn_unit_rescaling, cancellation_factor
from normtheory.claims import lecture_invariance as bn_invariance
from normtheory.roundoff import centered_tolerance


def _no_mean(x):  # a "BN" that forgets to subtract the batch mean
    return x / x.square().mean(dim=0).sqrt()


def _whole_batch_norm(x):  # statistics over all channels together instead of per channel
    c = x - x.mean()
    return c / c.square().mean().sqrt()


# --- L5-bn-unit-rescaling --------------------------------------------------------------------------

@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(2, 40), units=st.integers(1, 6),
       log_gamma=st.lists(st.floats(-60, 60), min_size=6, max_size=6))
def test_L5_bn_unit_rescaling_is_exact(seed, batch, units, log_gamma):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((batch, units)))
    gamma = torch.tensor([10.0**e for e in log_gamma[:units]], dtype=torch.float64)
    kappa = cancellation_factor(x, x.abs())
    err = (reparam.batch_norm(x * gamma) - reparam.batch_norm(x)).abs().max().item()
    assert err <= centered_tolerance(1, batch, kappa)


def test_L5_bn_unit_rescaling_property_on_library():
    found = bn_unit_rescaling(reparam.batch_norm, cases=30)
    assert found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]


def test_L5_bn_unit_rescaling_fails_without_variance_division():
    found = bn_unit_rescaling(reparam.batch_center, cases=30)  # centering alone is not scale invariant
    assert found["worst_err_over_tol"] > 1.0


def test_L5_bn_unit_rescaling_fails_with_statistics_over_all_channels():
    assert bn_unit_rescaling(_whole_batch_norm, cases=30)["worst_err_over_tol"] > 1.0


def test_L5_bn_unit_rescaling_fails_for_sign_blind_variant():
    found = bn_unit_rescaling(lambda x: reparam.batch_norm(x).abs(), cases=30)
    assert not found["negative_entry_changes_output"]


# --- L5-bn-eps (the slides' BN, no eps: the network as a whole) ------------------------------------

def test_L5_bn_eps_network_invariant_with_and_without_affine():
    for affine in (False, True):
        found = bn_invariance.network_rescaling(reparam.batch_norm, cases=10, affine=affine)
        assert found["err_over_tol"] <= 1.0
    assert found["min_change_without_bn"] > 1e-3  # the control changes


def test_L5_bn_eps_network_fails_with_per_batch_statistics_over_all_units():
    assert bn_invariance.network_rescaling(_whole_batch_norm, cases=10)["err_over_tol"] > 1.0


def test_L5_bn_eps_network_fails_with_an_eps_in_bn():
    # an eps the slides do not have breaks the invariance once gamma^2 var ~ eps (Gammas reach 1e-20)
    found = bn_invariance.network_rescaling(lambda z: reparam.batch_norm(z, eps=1e-5), cases=10)
    assert found["err_over_tol"] > 1.0


def test_L5_bn_eps_claim_refuted_on_broken_library(monkeypatch):
    monkeypatch.setattr(reparam, "batch_norm", reparam.batch_center)
    assert bn_invariance.check_bn_eps().verdict.value == "refuted"


# --- L5-bn-input-shift-rescale ---------------------------------------------------------------------

def test_L5_bn_input_shift_rescale_shift_and_positive_scale():
    found = bn_invariance.bn_input_transforms(reparam.batch_norm, cases=30)
    assert max(found["worst_err_over_tol"].values()) <= 1.0
    # not invariances (reported): a negative scalar flips every unit, a per-feature D changes the layer
    assert found["cases_changed"]["negative_scalar"] == 30 and found["cases_changed"]["per_feature"] == 30


def test_L5_bn_input_shift_rescale_fails_when_mean_is_forgotten():
    found = bn_invariance.bn_input_transforms(_no_mean, cases=30)
    assert found["worst_err_over_tol"]["shift"] > 1.0


def test_L5_bn_input_shift_rescale_trajectory_gradients():
    assert bn_invariance.shifted_input_gradients(reparam.batch_norm, steps=10)["gradient_err_over_tol"] <= 1.0
    broken = bn_invariance.shifted_input_gradients(_no_mean, steps=10)
    assert broken["gradient_err_over_tol"] > 1.0 and broken["end_trajectory_gap"] > 1e-3
