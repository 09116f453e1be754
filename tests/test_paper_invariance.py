"""Paper Eqs. (2), (3), (5), (7), (23): WN and WS invariances, each shown to fail on a plausible bug.

Test names carry the claim id (``pytest -k PAPER_ws_eps_invariance``)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import example, given, strategies as st

from normtheory import reparam
from normtheory.claims import paper_invariance as invariance
from normtheory.roundoff import unit_norm_tolerance

finite_scales = st.floats(min_value=-120, max_value=120).map(lambda e: 10.0 ** e)


# --- PAPER-wn-scale-invariance ---------------------------------------------------------------------

@given(seed=st.integers(0, 2**32 - 1), out_ch=st.integers(1, 6), in_ch=st.integers(2, 50),
       scale=finite_scales, alpha=finite_scales)
@example(seed=0, out_ch=1, in_ch=2, scale=1e-120, alpha=1e120)
def test_PAPER_wn_scale_invariance_holds_within_roundoff(seed, out_ch, in_ch, scale, alpha):
    v = torch.from_numpy(np.random.default_rng(seed).standard_normal((out_ch, in_ch)) * scale)
    err = (reparam.weight_norm(alpha * v) - reparam.weight_norm(v)).abs().max().item()
    assert err <= unit_norm_tolerance(in_ch)


def test_PAPER_wn_scale_invariance_fails_for_squared_norm():
    # Dividing by ||v||^2 instead of ||v|| leaves a 1/alpha dependence.
    found = invariance.wn_scale_invariance(lambda v: v / torch.linalg.vector_norm(v, dim=1, keepdim=True) ** 2,
                                   cases=20)
    assert found["worst_err_over_tol"] > 1.0


def test_PAPER_wn_scale_invariance_negative_alpha_flips_sign():
    found = invariance.wn_scale_invariance(lambda v: reparam.weight_norm(v), cases=20)
    assert found["negative_alpha_flips_sign"]
    broken = invariance.wn_scale_invariance(lambda v: reparam.weight_norm(v.abs()), cases=20)  # ignores the sign
    assert not broken["negative_alpha_flips_sign"]


def test_PAPER_wn_scale_invariance_claim_fails_on_broken_library(monkeypatch):
    monkeypatch.setattr(reparam, "weight_norm", lambda v, dim=0: v / torch.linalg.vector_norm(v) ** 2)
    assert invariance.check_wn_scale_invariance().verdict.value == "refuted"


# --- PAPER-ws-affine-invariance --------------------------------------------------------------------

def test_PAPER_ws_affine_invariance_holds_on_library():
    found = invariance.ws_affine_invariance(lambda w: reparam.weight_standardization(w, dim=0), cases=40)
    assert found["worst_err_over_tol"] <= 1.0


def test_PAPER_ws_affine_invariance_fails_without_centering():
    # W / std (no mean subtraction): scale invariant, but the shift beta changes the output
    found = invariance.ws_affine_invariance(lambda w: w / w.std(dim=1, unbiased=False, keepdim=True), cases=40)
    assert found["worst_err_over_tol"] > 1.0


def test_PAPER_ws_affine_invariance_fails_dividing_by_variance():
    def by_variance(w):
        c = w - w.mean(dim=1, keepdim=True)
        return c / c.square().mean(dim=1, keepdim=True)

    assert invariance.ws_affine_invariance(by_variance, cases=40)["worst_err_over_tol"] > 1.0


# --- PAPER-ws-eps-invariance -----------------------------------------------------------------------

def _ws(w, eps):
    return reparam.weight_standardization(w, eps=eps, dim=0)


def test_PAPER_ws_eps_invariance_factor_holds_and_weight_changes():
    found = invariance.ws_eps_weight_factor(_ws, cases=20)
    assert found["factor_err_over_tol"] <= 1.0
    assert found["max_weight_change"] > 0.5  # eps ~ sigma: the standardized weight itself is not invariant


def test_PAPER_ws_eps_invariance_factor_fails_with_eps_inside_the_root():
    # eps added to the variance, sqrt(var + eps): another factor, alpha sqrt(s^2+e)/sqrt(a^2 s^2+e)
    def eps_in_variance(w, eps):
        c = w - w.mean(dim=1, keepdim=True)
        return c / (c.square().mean(dim=1, keepdim=True) + eps).sqrt()

    assert invariance.ws_eps_weight_factor(eps_in_variance, cases=20)["factor_err_over_tol"] > 1.0


def test_PAPER_ws_eps_invariance_network_with_batch_norm():
    found = invariance.ws_eps_network_change(_ws, reparam.batch_norm, cases=20)
    assert found["err_over_tol"] <= 1.0


def test_PAPER_ws_eps_invariance_control_without_normalization_changes():
    assert invariance.ws_eps_network_change(_ws, None, cases=20)["max_relative_change"] > 1e-3


def test_PAPER_ws_eps_invariance_fails_with_normalization_across_channels():
    # a layer norm over the channels of each sample does not remove a per-channel factor r
    def layer_norm(z):
        c = z - z.mean(dim=1, keepdim=True)
        return c / c.square().mean(dim=1, keepdim=True).sqrt()

    assert invariance.ws_eps_network_change(_ws, layer_norm, cases=20)["err_over_tol"] > 1.0


def test_PAPER_ws_eps_invariance_fails_when_ws_forgets_centering():
    # with W/(std + eps) the shift beta changes the direction, which no batch norm can undo
    def no_centering(w, eps):
        return w / (w.std(dim=1, unbiased=False, keepdim=True) + eps)

    assert invariance.ws_eps_network_change(no_centering, reparam.batch_norm, cases=20)["err_over_tol"] > 1.0


def test_PAPER_ws_eps_invariance_claim_is_refuted_on_broken_batch_norm(monkeypatch):
    monkeypatch.setattr(reparam, "batch_norm", reparam.batch_center)  # centering without scaling
    assert invariance.check_ws_eps_invariance().verdict.value == "refuted"
