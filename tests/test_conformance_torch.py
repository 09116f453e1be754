"""Conformance checks on torch's code against torch's documentation: each property holds on torch
and FAILS on a broken variant; the corrected claim replays from its JSON evidence. Test names carry
the claim id (``pytest -k CONF_torch_spectral_norm``)."""

from __future__ import annotations

import copy
import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from normtheory.claims import conformance_torch as ct
from normtheory.claims.lecture_invariance import bn_eps_sweep, bn_unit_rescaling
from normtheory.registry import Verdict


# --------------------------------------------------------------- CONF-torch-weight-norm-invariance

def test_CONF_torch_weight_norm_invariance_in_range_and_its_breakdown_outside():
    found = ct.wn_scale_invariance(ct.torch_weight_norm)
    assert found["worst_err_over_tol"]["in_range"] <= 1.0
    assert found["worst_err_over_tol"]["out_of_range"] > 1.0  # torch squares unscaled: under/overflow


def test_CONF_torch_weight_norm_invariance_fails_for_broken_variant():
    broken = lambda g, v: g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True) ** 2  # noqa: E731
    assert ct.wn_scale_invariance(broken, cases=30)["worst_err_over_tol"]["in_range"] > 1.0


def test_CONF_torch_weight_norm_invariance_replay_reproduces_and_detects_tampering():
    record = json.loads(json.dumps(ct.check_torch_weight_norm_invariance().to_json()))
    assert {"model", "shape", "v_scale", "alpha", "data_seed", "dtype", "recipe"} <= record["counterexample"].keys()
    result = record["counterexample"]["result"]
    assert result["nonfinite_output"]  # the as-stated failure: W is 0, Inf or NaN out of range
    assert ct.replay_weight_norm_invariance(record) == result
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["alpha"] = 1.0  # no rescaling: the outputs agree exactly
    again = ct.replay_weight_norm_invariance(tampered)
    assert not again["nonfinite_output"] and again["err_over_tol"] <= 1.0


# ----------------------------------------------------------------- CONF-torch-weight-norm-gradient

def test_CONF_torch_weight_norm_gradient_matches_exact_jacobian():
    assert ct.wn_gradient_gap(ct.torch_weight_norm, cases=20)["worst_err_over_tol"] <= 1.0


def test_CONF_torch_weight_norm_gradient_check_fails_without_projection():
    # Broken: the norm is treated as a constant, so the gradient misses -vhat vhat^T.
    def broken(g, v):
        return g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True).detach()
    assert ct.wn_gradient_gap(broken, cases=20)["worst_err_over_tol"] > 1.0


# ------------------------------------------------------------------------- CONF-torch-spectral-norm

class _FrobeniusNorm(nn.Module):
    """Broken spectral normalization: divides by the Frobenius norm (>= sigma_1)."""

    def forward(self, w):
        return w / torch.linalg.vector_norm(w)


def _frobenius_apply(layer, k):
    parametrize.register_parametrization(layer, "weight", _FrobeniusNorm())
    return layer


def _cold_start_apply(layer, k):
    """Broken: re-draws the power-method vectors at every access (no warm start)."""
    layer = ct.torch_spectral_norm(layer, k)
    sn = layer.parametrizations.weight[0]
    warm = sn._power_method

    def cold(weight_mat, n):
        sn._v.copy_(F.normalize(torch.randn_like(sn._v), dim=0))
        warm(weight_mat, n)

    sn._power_method = cold
    return layer


def _eval_iterating_apply(layer, k):
    """Broken: also runs a power step in eval mode (the docs' note says only in training mode)."""
    layer = ct.torch_spectral_norm(layer, k)
    sn = layer.parametrizations.weight[0]
    forward = sn.forward

    def always(weight):
        if not sn.training:
            sn._power_method(sn._reshape_weight_to_matrix(weight), 1)
        return forward(weight)

    sn.forward = always
    return layer


def _linear_run(apply=ct.torch_spectral_norm, steps=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 12, generator=g, dtype=torch.float64)
    return ct.spectral_norm_drift(lambda: nn.Linear(12, 8, dtype=torch.float64), x,
                                  n_power_iterations=1, apply=apply, steps=steps)


def test_CONF_torch_spectral_norm_follows_the_documented_procedure():
    found = _linear_run()
    assert found["conformance_max_rel_err"] <= ct._SN_TOL
    assert found["eval_access_max_change"] == 0.0
    assert found["normalized_sigma_min"] >= 1 - ct._SN_TOL   # the estimate never exceeds sigma_1
    assert found["normalized_sigma_max"] > 1 + 1e-6          # and the approximation is visible


def test_CONF_torch_spectral_norm_conformance_fails_for_a_cold_start():
    found = _linear_run(_cold_start_apply)
    assert found["conformance_max_rel_err"] > 1e-6
    assert found["normalized_sigma_min"] >= 1 - ct._SN_TOL  # still a Rayleigh value: only conformance sees it


def test_CONF_torch_spectral_norm_detects_an_eval_mode_step():
    assert _linear_run(_eval_iterating_apply)["eval_access_max_change"] > 0.0


def test_CONF_torch_spectral_norm_decision_fails_for_frobenius_variant():
    evidence = ct.spectral_norm_evidence(ct._sn_runs(apply=_frobenius_apply, steps=3))
    assert not evidence.measured["one_sided"] and not evidence.measured["conforms"]
    assert evidence.verdict is Verdict.REFUTED
    assert evidence.counterexample["optimizer"] == {"name": "Adam", "lr": 0.05}


# ------------------------------------------------------------ CONF-torch-batch-norm-invariance / eps

def test_CONF_torch_batch_norm_eps_zero_is_refused_in_training_mode():
    message = ct.eps_zero_refusal()
    assert message is not None and "eps" in message
    assert ct.eps_zero_refusal(ct.documented_batch_norm) is None  # a formula that accepts eps = 0
    with pytest.raises(ValueError):
        F.batch_norm(torch.randn(4, 2), None, None, training=True, eps=0.0)


def test_CONF_torch_batch_norm_invariance_on_torch_and_broken_variant():
    found = bn_unit_rescaling(lambda x: ct.torch_batch_norm(x, 5e-324), cases=20)
    assert found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    # Broken: centering only (no division by the batch std) is not scale invariant.
    broken = bn_unit_rescaling(lambda x: x - x.mean(dim=0), cases=20)
    assert broken["worst_err_over_tol"] > 1.0


def test_CONF_torch_batch_norm_eps_documented_formula_and_unbiased_variant():
    assert ct.bn_formula_gap(ct.torch_batch_norm, cases=20)["worst_err_over_tol"] <= 1.0

    def unbiased(x, eps):  # broken: the unbiased variance (torch keeps it only for running stats)
        c = x - x.mean(dim=0)
        return c / torch.sqrt(x.var(dim=0, unbiased=True) + eps)

    assert ct.bn_formula_gap(unbiased, cases=20)["worst_err_over_tol"] > 1.0


def test_CONF_torch_batch_norm_eps_rescaling_factor_and_broken_variant():
    assert bn_eps_sweep(ct.torch_batch_norm)["worst_formula_err_over_tol"] <= 1.0

    def broken(x, eps):  # eps added to the standard deviation instead of the variance
        c = x - x.mean(dim=0)
        return c / (c.square().mean(dim=0).sqrt() + eps)
    assert bn_eps_sweep(broken)["worst_formula_err_over_tol"] > 1.0


def test_CONF_timm_stdconv2d():
    timm_layers = pytest.importorskip("timm.layers", reason=ct.TIMM_SKIP_REASON or "timm missing")
    found = ct.stdconv_affine_invariance(lambda: timm_layers.StdConv2d(3, 4, 3))
    assert found["worst_rel_change"] < 1e-3  # pragma: no cover - timm is not installed here
