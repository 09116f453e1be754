"""normtheory.claims.conformance_torch_batch_norm: torch's batch_norm against its documented formula; each
property FAILS on a broken variant. Test names carry the claim id."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from normtheory.batch_norm_rescaling import bn_eps_sweep, bn_unit_rescaling

from normtheory.claims import conformance_torch_batch_norm as batch_norm_conf


# ------------------------------------------------------------ CONF-torch-batch-norm-invariance / eps

def test_CONF_torch_batch_norm_eps_zero_is_refused_in_training_mode():
    message = batch_norm_conf.eps_zero_refusal()
    assert message is not None and "eps" in message
    assert batch_norm_conf.eps_zero_refusal(batch_norm_conf.documented_batch_norm) is None  # a formula that accepts eps = 0
    with pytest.raises(ValueError):
        F.batch_norm(torch.randn(4, 2), None, None, training=True, eps=0.0)


def test_CONF_torch_batch_norm_invariance_on_torch_and_broken_variant():
    found = bn_unit_rescaling(lambda x: batch_norm_conf.torch_batch_norm(x, 5e-324), cases=20)
    assert found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    # Broken: centering only (no division by the batch std) is not scale invariant.
    broken = bn_unit_rescaling(lambda x: x - x.mean(dim=0), cases=20)
    assert broken["worst_err_over_tol"] > 1.0


def test_CONF_torch_batch_norm_eps_documented_formula_and_unbiased_variant():
    assert batch_norm_conf.bn_formula_gap(batch_norm_conf.torch_batch_norm, cases=20)["worst_err_over_tol"] <= 1.0

    def unbiased(x, eps):  # broken: the unbiased variance (torch keeps it only for running stats)
        c = x - x.mean(dim=0)
        return c / torch.sqrt(x.var(dim=0, unbiased=True) + eps)

    assert batch_norm_conf.bn_formula_gap(unbiased, cases=20)["worst_err_over_tol"] > 1.0


def test_CONF_torch_batch_norm_eps_rescaling_factor_and_broken_variant():
    assert bn_eps_sweep(batch_norm_conf.torch_batch_norm)["worst_formula_err_over_tol"] <= 1.0

    def broken(x, eps):  # eps added to the standard deviation instead of the variance
        c = x - x.mean(dim=0)
        return c / (c.square().mean(dim=0).sqrt() + eps)
    assert bn_eps_sweep(broken)["worst_formula_err_over_tol"] > 1.0
