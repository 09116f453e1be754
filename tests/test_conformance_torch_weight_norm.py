"""normtheory.claims.conformance_torch_weight_norm: each property holds on torch and FAILS on a broken
variant; the corrected claim replays from its JSON evidence. Test names carry the claim id."""

from __future__ import annotations

import copy
import json

import torch

from normtheory.claims import conformance_torch_weight_norm as weight_norm_conf


# --------------------------------------------------------------- CONF-torch-weight-norm-invariance

def test_CONF_torch_weight_norm_invariance_in_range_and_its_breakdown_outside():
    found = weight_norm_conf.wn_scale_invariance(weight_norm_conf.torch_weight_norm)
    assert found["worst_err_over_tol"]["in_range"] <= 1.0
    assert found["worst_err_over_tol"]["out_of_range"] > 1.0  # torch squares unscaled: under/overflow


def test_CONF_torch_weight_norm_invariance_fails_for_broken_variant():
    broken = lambda g, v: g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True) ** 2  # noqa: E731
    assert weight_norm_conf.wn_scale_invariance(broken, cases=30)["worst_err_over_tol"]["in_range"] > 1.0


def test_CONF_torch_weight_norm_invariance_replay_reproduces_and_detects_tampering():
    record = json.loads(json.dumps(weight_norm_conf.check_torch_weight_norm_invariance().to_json()))
    assert {"model", "shape", "v_scale", "alpha", "data_seed", "dtype", "recipe"} <= record["counterexample"].keys()
    result = record["counterexample"]["result"]
    assert result["nonfinite_output"]  # the as-stated failure: W is 0, Inf or NaN out of range
    assert weight_norm_conf.replay_weight_norm_invariance(record) == result
    tampered = copy.deepcopy(record)
    tampered["counterexample"]["alpha"] = 1.0  # no rescaling: the outputs agree exactly
    again = weight_norm_conf.replay_weight_norm_invariance(tampered)
    assert not again["nonfinite_output"] and again["err_over_tol"] <= 1.0


# ----------------------------------------------------------------- CONF-torch-weight-norm-gradient

def test_CONF_torch_weight_norm_gradient_matches_exact_jacobian():
    assert weight_norm_conf.wn_gradient_gap(weight_norm_conf.torch_weight_norm, cases=20)["worst_err_over_tol"] <= 1.0


def test_CONF_torch_weight_norm_gradient_check_fails_without_projection():
    # Broken: the norm is treated as a constant, so the gradient misses -vhat vhat^T.
    def broken(g, v):
        return g * v / torch.linalg.vector_norm(v, dim=1, keepdim=True).detach()
    assert weight_norm_conf.wn_gradient_gap(broken, cases=20)["worst_err_over_tol"] > 1.0
