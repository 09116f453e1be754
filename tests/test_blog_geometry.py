"""normtheory.claims.blog_geometry: each claim's property holds for the library and FAILS for a
deliberately broken variant; the corrected claim replays from its JSON evidence (and a tampered
counterexample gives other numbers). Test names carry the claim id."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from normtheory import lipschitz as lip
from normtheory.claims import blog_geometry as bg
from normtheory.registry import Verdict
from _evidence import as_json as _json


# ------------------------------------------------------------------------ BLOG-spectral-norm-def

def test_BLOG_spectral_norm_def_holds_for_the_largest_singular_value():
    assert bg.norm_definition_evidence(bg.norm_definition_cases(cases=4)).verdict is Verdict.CONFIRMED


def test_BLOG_spectral_norm_def_fails_for_the_gram_eigenvalue():
    # broken: the top eigenvalue of W^T W (sigma_1^2) taken as the norm, the slip BLOG-power-gram names
    found = bg.norm_definition_cases(cases=4, norm=lambda W: bg.spectral_norm_svd(W) ** 2)
    assert bg.norm_definition_evidence(found).verdict is Verdict.REFUTED


# ------------------------------------------------------------------------ BLOG-spectral-relaxed

def test_BLOG_spectral_relaxed_inclusions_and_blog_targets():
    found = bg.ball_inclusions(cases=10)
    assert bg.ball_evidence(found).verdict is Verdict.CONFIRMED
    t = found["blog_targets"]
    # with the blog's own targets a rank-one matrix on the Frobenius sphere has sigma_1 = sqrt(r) c_S > c_S
    assert t["spike_sigma_1"] == pytest.approx(t["frobenius"], rel=1e-12)
    assert t["spike_sigma_1"] > 1.9 * t["spectral"]


def test_BLOG_spectral_relaxed_fails_for_the_max_entry_norm():
    # broken: the largest entry (vector inf-norm) taken for the Frobenius norm
    found = bg.ball_inclusions(cases=10, fro=lambda W: float(W.abs().max()))
    assert bg.ball_evidence(found).verdict is Verdict.REFUTED


# ------------------------------------------------------------------------ BLOG-lipschitz-product

def test_BLOG_lipschitz_product_bound_holds_and_is_attained():
    found = bg.lipschitz_cases(points=50)
    assert bg.lipschitz_evidence(found).verdict is Verdict.CONFIRMED
    assert found["max_ratio"] < 1


def test_BLOG_lipschitz_product_fails_for_the_largest_layer_norm():
    # broken: max_k sigma_1(W_k) in place of the product (a per-layer reading of "controls")
    bound = lambda ws: float(lip.layer_spectral_norms(ws).max())  # noqa: E731
    found = bg.lipschitz_cases(points=50, bound=bound)
    assert bg.lipschitz_evidence(found).verdict is Verdict.REFUTED


def test_BLOG_lipschitz_jacobians_match_autograd():
    g = torch.Generator().manual_seed(3)
    ws = [torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(3, 5, generator=g, dtype=torch.float64)]
    x = torch.randn(2, 4, generator=g, dtype=torch.float64)
    for act in lip.ACTIVATIONS:
        J = lip.mlp_jacobians(ws, x, activation=act)
        for i in range(2):
            ref = torch.autograd.functional.jacobian(lambda z: lip.mlp_forward(ws, z[None], activation=act)[0], x[i])
            assert torch.allclose(J[i], ref, rtol=0, atol=1e-13)


def test_BLOG_lipschitz_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="weights"):
        lip.mlp_forward([torch.ones(2, 3), torch.ones(2, 4)], torch.ones(1, 3))
    with pytest.raises(ValueError, match="activation"):
        lip.mlp_forward([torch.ones(2, 3)], torch.ones(1, 3), activation="gelu")


# ------------------------------------------------------------------------ BLOG-init-lipschitz-targets

def test_BLOG_init_lipschitz_targets_confirmed_and_bottleneck_differs():
    ev = bg.init_targets_evidence(bg.init_product_case(bg.BLOG_MLP_WIDTHS), bg.init_product_case((32, 8, 32, 8)))
    assert ev.verdict is Verdict.CONFIRMED
    assert ev.measured["bottleneck_control"]["max_rel_dev_partial_products"] > 0.5


def test_BLOG_init_lipschitz_targets_fails_without_the_scale():
    # broken: plain orthogonal init, the sqrt(d_k/d_{k-1}) factor forgotten
    init = lambda w, generator=None: torch.nn.init.orthogonal_(w, generator=generator)  # noqa: E731
    found = bg.init_product_case(bg.BLOG_MLP_WIDTHS, init=init)
    assert bg.init_targets_evidence(found, found).verdict is Verdict.REFUTED


def test_BLOG_init_lipschitz_targets_fails_for_a_bottleneck():
    found = bg.init_product_case((32, 8, 32, 8))
    assert bg.init_targets_evidence(found, found).verdict is Verdict.REFUTED


def test_BLOG_init_lipschitz_telescoped_target():
    t = lip.telescoped_target([96, 64, 4])
    assert t[-1] == pytest.approx(math.sqrt(4 / 96), rel=1e-15)
    with pytest.raises(ValueError, match="widths"):
        lip.telescoped_target([5])


# ------------------------------------------------------------------------ BLOG-conv-init-readings

def test_BLOG_conv_init_readings_confirmed_under_every_consistent_reading():
    rows = bg.conv_reading_cases()
    ev = bg.conv_readings_evidence(rows)
    assert ev.verdict is Verdict.CONFIRMED
    assert set(rows[0]["readings"]) >= {"feature_map", "reshaped"}
    # no reading's target is the conv's operator norm (reported): zero-padded 3x3 kernels exceed it
    assert max(ev.measured["operator_over_target"]) > 1.2


def test_BLOG_conv_init_readings_fails_for_a_broken_non_orthogonal_init():
    # broken: a Kaiming-style Gaussian init instead of the orthogonal one: the singular values
    # spread, so the multiplier no longer sets sigma_1 to the target
    def gaussian_init(w, generator=None):
        return torch.nn.init.normal_(w, std=1 / math.sqrt(w[0].numel()), generator=generator)

    ev = bg.conv_readings_evidence(bg.conv_reading_cases(init=gaussian_init))
    assert ev.verdict is Verdict.REFUTED


def test_BLOG_conv_init_readings_replay_reproduces_and_detects_tampering():
    ev = _json(bg.conv_readings_evidence(bg.conv_reading_cases()))
    again = bg.replay_conv_init_readings(ev)
    assert again["operator_over_target"] == pytest.approx(ev["measured"]["operator_over_target"], rel=1e-12)
    bad = copy.deepcopy(ev)
    for case in bad["measured"]["record"]["cases"]:
        case["stride"] = 2
    assert bad["measured"]["record"]["cases"] != ev["measured"]["record"]["cases"]
    assert bg.replay_conv_init_readings(bad)["operator_over_target"] != pytest.approx(
        ev["measured"]["operator_over_target"], rel=1e-6)
