"""normtheory.claims.conformance_torch_spectral_norm: torch follows its documented power method and each
property FAILS on a broken variant. Test names carry the claim id (``pytest -k CONF_torch_spectral_norm``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from normtheory.claims import conformance_torch_spectral_norm as spectral_norm_conf
from normtheory.registry import Verdict


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
    layer = spectral_norm_conf.torch_spectral_norm(layer, k)
    sn = layer.parametrizations.weight[0]
    warm = sn._power_method

    def cold(weight_mat, n):
        sn._v.copy_(F.normalize(torch.randn_like(sn._v), dim=0))
        warm(weight_mat, n)

    sn._power_method = cold
    return layer


def _eval_iterating_apply(layer, k):
    """Broken: also runs a power step in eval mode (the docs' note says only in training mode)."""
    layer = spectral_norm_conf.torch_spectral_norm(layer, k)
    sn = layer.parametrizations.weight[0]
    forward = sn.forward

    def always(weight):
        if not sn.training:
            sn._power_method(sn._reshape_weight_to_matrix(weight), 1)
        return forward(weight)

    sn.forward = always
    return layer


def _linear_run(apply=spectral_norm_conf.torch_spectral_norm, steps=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 12, generator=g, dtype=torch.float64)
    return spectral_norm_conf.spectral_norm_drift(lambda: nn.Linear(12, 8, dtype=torch.float64), x,
                                  n_power_iterations=1, apply=apply, steps=steps)


def test_CONF_torch_spectral_norm_follows_the_documented_procedure():
    found = _linear_run()
    assert found["conformance_max_rel_err"] <= spectral_norm_conf._SN_TOL
    assert found["eval_access_max_change"] == 0.0
    assert found["normalized_sigma_min"] >= 1 - spectral_norm_conf._SN_TOL   # the estimate never exceeds sigma_1
    assert found["normalized_sigma_max"] > 1 + 1e-6          # and the approximation is visible


def test_CONF_torch_spectral_norm_conformance_fails_for_a_cold_start():
    found = _linear_run(_cold_start_apply)
    assert found["conformance_max_rel_err"] > 1e-6
    assert found["normalized_sigma_min"] >= 1 - spectral_norm_conf._SN_TOL  # still a Rayleigh value: only conformance sees it


def test_CONF_torch_spectral_norm_detects_an_eval_mode_step():
    assert _linear_run(_eval_iterating_apply)["eval_access_max_change"] > 0.0


def test_CONF_torch_spectral_norm_decision_fails_for_frobenius_variant():
    evidence = spectral_norm_conf.spectral_norm_evidence(spectral_norm_conf.spectral_norm_runs(apply=_frobenius_apply, steps=3))
    assert not evidence.measured["one_sided"] and not evidence.measured["conforms"]
    assert evidence.verdict is Verdict.REFUTED
    assert evidence.counterexample["optimizer"] == {"name": "Adam", "lr": 0.05}
