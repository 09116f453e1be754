"""Paper Eqs. (2), (5), (7), (23): WN and WS invariances, and their broken variants."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import example, given, strategies as st

from normtheory import reparam
from normtheory.claims import paper_invariance as pi
from normtheory.claims._roundoff import unit_norm_tolerance

finite_scales = st.floats(min_value=-120, max_value=120).map(lambda e: 10.0 ** e)


@given(seed=st.integers(0, 2**32 - 1), out_ch=st.integers(1, 6), in_ch=st.integers(2, 50),
       scale=finite_scales, alpha=finite_scales)
@example(seed=0, out_ch=1, in_ch=2, scale=1e-120, alpha=1e120)
def test_wn_scale_invariance_holds_within_roundoff(seed, out_ch, in_ch, scale, alpha):
    v = torch.from_numpy(np.random.default_rng(seed).standard_normal((out_ch, in_ch)) * scale)
    err = (reparam.weight_norm(alpha * v) - reparam.weight_norm(v)).abs().max().item()
    assert err <= unit_norm_tolerance(in_ch)


def test_wn_scale_invariance_fails_for_broken_variant():
    # Dividing by ||v||^2 instead of ||v|| leaves a 1/alpha dependence.
    found = pi.wn_scale_invariance(lambda v: v / torch.linalg.vector_norm(v, dim=1, keepdim=True) ** 2,
                                   cases=20)
    assert found["worst_err_over_tol"] > 1.0


def test_wn_negative_scale_is_not_an_invariance():
    found = pi.wn_scale_invariance(lambda v: reparam.weight_norm(v), cases=20)
    assert found["negative_alpha_flips_sign"]
    # and the check notices a variant that (wrongly) ignores the sign
    broken = pi.wn_scale_invariance(lambda v: reparam.weight_norm(v.abs()), cases=20)
    assert not broken["negative_alpha_flips_sign"]
