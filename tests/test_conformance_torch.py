"""Conformance checks on torch's code: each property holds on torch and fails on a broken variant."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from normtheory.claims import conformance_torch as ct
from normtheory.claims.lecture_invariance import bn_eps_sweep, bn_unit_rescaling


def test_weight_norm_invariance_in_range_and_its_breakdown_outside():
    found = ct.wn_scale_invariance(ct.torch_weight_norm)
    assert found["worst_err_over_tol"]["in_range"] <= 1.0
    assert found["worst_err_over_tol"]["out_of_range"] > 1.0  # torch squares unscaled: under/overflow


def test_weight_norm_invariance_fails_for_broken_variant():
    broken = lambda g, v: g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True) ** 2  # noqa: E731
    assert ct.wn_scale_invariance(broken, cases=30)["worst_err_over_tol"]["in_range"] > 1.0


def test_weight_norm_gradient_matches_exact_jacobian():
    assert ct.wn_gradient_gap(ct.torch_weight_norm, cases=20)["worst_err_over_tol"] <= 1.0


def test_weight_norm_gradient_check_fails_without_projection():
    # Broken: the norm is treated as a constant, so the gradient misses -vhat vhat^T.
    def broken(g, v):
        return g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True).detach()
    assert ct.wn_gradient_gap(broken, cases=20)["worst_err_over_tol"] > 1.0


class _FrobeniusNorm(nn.Module):
    """Broken spectral normalization: divides by the Frobenius norm (>= sigma_1)."""

    def forward(self, w):
        return w / torch.linalg.vector_norm(w)


def _frobenius_apply(layer, k):
    parametrize.register_parametrization(layer, "weight", _FrobeniusNorm())
    return layer


def test_spectral_norm_one_sided_on_torch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 12, generator=g, dtype=torch.float64)
    found = ct.spectral_norm_drift(lambda: nn.Linear(12, 8, dtype=torch.float64), x,
                                   n_power_iterations=1, steps=8)
    assert found["normalized_sigma_min"] >= 1 - 1e-12   # a Rayleigh quotient never overestimates


def test_spectral_drift_decision_fails_for_frobenius_variant():
    evidence = ct.spectral_drift_evidence(ct._sn_runs(apply=_frobenius_apply, steps=3))
    assert not evidence.measured["one_sided"]
    assert evidence.verdict.value == "refuted"


def test_torch_refuses_eps_zero_in_training_mode():
    message = ct.eps_zero_refusal()
    assert message is not None and "eps" in message


def test_batch_norm_rescaling_on_torch_and_broken_variant():
    found = bn_unit_rescaling(lambda x: ct.torch_batch_norm(x, 5e-324), cases=20)
    assert found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    # Broken: centering only (no division by the batch std) is not scale invariant.
    broken = bn_unit_rescaling(lambda x: x - x.mean(dim=0), cases=20)
    assert broken["worst_err_over_tol"] > 1.0


def test_batch_norm_eps_formula_on_torch_and_broken_variant():
    assert bn_eps_sweep(ct.torch_batch_norm)["worst_formula_err_over_tol"] <= 1.0
    # Broken: eps added to the standard deviation instead of the variance.
    def broken(x, eps):
        c = x - x.mean(dim=0)
        return c / (c.square().mean(dim=0).sqrt() + eps)
    assert bn_eps_sweep(broken)["worst_formula_err_over_tol"] > 1.0
    with pytest.raises(ValueError):
        F.batch_norm(torch.randn(4, 2), None, None, training=True, eps=0.0)


def test_timm_stdconv2d():
    timm_layers = pytest.importorskip("timm.layers", reason=ct.TIMM_SKIP_REASON or "timm missing")
    found = ct.stdconv_affine_invariance(lambda: timm_layers.StdConv2d(3, 4, 3))
    assert found["worst_rel_change"] < 1e-3  # pragma: no cover - timm is not installed here
