"""normtheory.batch_norm_rescaling: the measurements hold on the library's batch norm and FAIL on a
plausible broken one (the claims L5-bn-unit-rescaling, CONF-torch-batch-norm-* run them too)."""

from __future__ import annotations

import torch

from normtheory import reparam
from normtheory.batch_norm_rescaling import bn_eps_factor, bn_eps_sweep, cancellation_factor, pre_activations


def test_CONF_torch_batch_norm_eps_factor_formula_and_eps_on_the_std_fails():
    found = bn_eps_sweep(lambda x, eps: reparam.batch_norm(x, eps=eps))
    assert found["worst_formula_err_over_tol"] <= 1.0 and found["max_change"] > 0.1
    wrong = bn_eps_sweep(lambda x, eps: reparam.batch_center(x) / (x.std(dim=0, unbiased=False) + eps))
    assert wrong["worst_formula_err_over_tol"] > 1.0


def test_bn_eps_factor_limits():
    assert bn_eps_factor(7.0, 2.0, 0.0) == 1.0          # no eps: invariant
    assert abs(bn_eps_factor(1e6, 1.0, 1.0) - 2**0.5) < 1e-9  # gamma -> inf: sqrt(1 + eps/v)
    assert bn_eps_factor(1.0, 3.0, 0.5) == 1.0          # gamma = 1: unchanged


def test_cancellation_factor_grows_with_the_mean_and_pre_activations_are_a_w_transposed():
    centred = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    assert cancellation_factor(centred, centred.abs()) == 1.0
    shifted = centred + 100.0
    assert cancellation_factor(shifted, shifted.abs()) == 101.0
    a, w = torch.eye(2, dtype=torch.float64), torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    x, kappa = pre_activations(a, w)
    assert torch.equal(x, a @ w.T) and kappa == cancellation_factor(x, a.abs() @ w.abs().T)
