"""normtheory.claims.blog_conv: the conv-reshape relation and Norm Scaling in training hold for the
library and FAIL for deliberately broken variants. Test names carry the claim id
(``pytest -k BLOG_spectral_scaling``)."""

from __future__ import annotations

import torch

from normtheory import spectral
from normtheory.claims import blog_conv as conv
from normtheory.registry import Verdict
from normtheory.roundoff import EPS64
from normtheory.scaling import NormScaling

QUICK = {"layers": (0,), "shrink": 32, "max_size": 5}


# ------------------------------------------------------------------------------ BLOG-conv-reshape

def test_BLOG_conv_reshape_differs_but_within_the_derived_bounds():
    found = conv.conv_vs_reshape(**QUICK)
    for r in found["rows"]:
        assert r["reshape"] * (1 - 1e-9) <= r["circular"] <= 3 * r["reshape"] * (1 + 1e-9)
    evidence = conv.conv_reshape_evidence(found)
    assert evidence.verdict is Verdict.CONFIRMED
    assert evidence.measured["rows_differing"] > 0


def test_BLOG_conv_reshape_refuted_when_the_layer_norm_is_the_reshaped_norm():
    # broken: an "operator norm" that is really the reshaped kernel's norm (the blog's computation)
    def reshaped(w, n, **_):
        return float(spectral.spectral_norm_reference(spectral.as_matrix(w)))

    found = conv.conv_vs_reshape(**QUICK, operator_norm=reshaped)
    assert conv.conv_reshape_evidence(found).verdict is Verdict.REFUTED


def test_BLOG_conv_reshape_bounds_fail_for_a_squared_norm():
    # broken: the top eigenvalue of the operator's Gram matrix (sigma^2) reported as its norm
    def squared(w, n, **kw):
        return conv.conv_norm(w, n, **kw) ** 2

    found = conv.conv_vs_reshape(**QUICK, operator_norm=squared)
    evidence = conv.conv_reshape_evidence(found)
    assert not (evidence.measured["circular_in_1_to_3"] and evidence.measured["zero_pad_below_ceil_bound"])
    assert evidence.verdict is Verdict.REFUTED


# -------------------------------------------------------------------------- BLOG-frobenius-scaling

def test_BLOG_frobenius_scaling_holds_and_fails_when_scaling_before_the_step():
    ok = conv.frobenius_scaling_run(steps=3)
    assert ok["worst_rel_dev_from_target"] <= 64 * 1024 * EPS64
    bad = conv.frobenius_scaling_run(steps=3, scale_before_step=True)  # order bug
    assert bad["worst_rel_dev_from_target"] > 1e-3


# --------------------------------------------------------------------------- BLOG-spectral-scaling

class _SigmaSquaredScaling(NormScaling):
    """Broken: takes power iteration's eigenvalue of W^T W (sigma^2) for sigma (the BLOG-power-gram
    misreading) in the update W + (t - sigma) u v^T."""

    @torch.no_grad()
    def step(self) -> None:
        for i, (w, t) in enumerate(zip(self.weights, self.targets)):
            res = spectral.power_iteration(w.detach(), rtol=1e-4, max_iters=100)
            w.add_((t - res.sigma ** 2) * torch.outer(res.u, res.v))
            self.last_residuals[i] = res.residual


def test_BLOG_spectral_scaling_norm_is_max_of_target_and_sigma2():
    found = conv.spectral_scaling_run(steps=3)
    assert found["worst_excess_over_target"] <= 0.0
    assert found["weight_steps_sigma2_above_target"] > 0  # the blog's caveat occurs
    assert conv.spectral_scaling_evidence(found).verdict is Verdict.CONFIRMED


def test_BLOG_spectral_scaling_fails_for_the_sigma_squared_update():
    found = conv.spectral_scaling_run(steps=3, make_scaler=lambda m: _SigmaSquaredScaling(m, mode="spectral"))
    assert found["worst_excess_over_target"] > 1e-3
    assert conv.spectral_scaling_evidence(found).verdict is Verdict.REFUTED
