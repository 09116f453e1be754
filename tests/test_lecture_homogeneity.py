"""Lecture 5, "Implicit Learning Rate Decay": Euler, scale-invariant gradients, norm growth, k0.

Each property is checked on the library's exact models, then shown to fail on a broken variant.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory.claims import lecture_homogeneity as homogeneity
from normtheory.models import NORMALIZERS, ReluNet, ScaleInvariantNet

GAMMAS = np.logspace(-3, 3, 4)


@given(depth=st.integers(1, 4), width=st.integers(1, 8), seed=st.integers(0, 10_000),
       scale=st.floats(-3, 3).map(lambda e: 10.0 ** e))
@example(depth=4, width=1, seed=0, scale=1e-3)
def test_L5_euler_identity_relu_nets(depth, width, seed, scale):
    net = ReluNet((width + 1,) + (width,) * depth, seed=seed)
    params = net.init(scale=scale)
    found = homogeneity.euler_gaps(net, net.path_magnitude, params, net.degree, GAMMAS,
                          rounding_depth=sum(p.numel() for p in params) + 2 * depth * (width + 3) + 16)
    assert max(found.values()) <= 1.0, found


def test_L5_euler_identity_fails_with_a_bias():
    net = ReluNet((4, 5, 3), seed=1)
    params = net.init()

    def with_bias(ps):  # a bias breaks homogeneity: f(gamma theta) != gamma^L f(theta)
        h = torch.relu(net.x @ ps[0].T + 0.5)
        return (torch.relu(h @ ps[1].T) @ net.readout).sum()

    found = homogeneity.euler_gaps(with_bias, net.path_magnitude, params, net.degree, GAMMAS, rounding_depth=64)
    assert found["euler_identity_err_over_tol"] > 1.0
    assert found["gradient_scaling_err_over_tol"] > 1.0


def test_L5_euler_identity_fails_with_wrong_degree():
    net = ReluNet((4, 5, 5, 3), seed=2)
    found = homogeneity.euler_gaps(net, net.path_magnitude, net.init(), net.degree - 1, GAMMAS, rounding_depth=64)
    assert min(found.values()) > 1.0


@pytest.mark.parametrize("kind", NORMALIZERS)
@given(seed=st.integers(0, 10_000), scale=st.floats(-20, 20).map(lambda e: 10.0 ** e))
def test_L5_scale_invariant_gradient(kind, seed, scale):
    net = ScaleInvariantNet(kind, seed=seed)
    found = homogeneity.scale_invariance_gaps(net, net.init(scale=scale), GAMMAS)
    assert max(found.values()) <= 1.0, found


class _Unnormalized(ScaleInvariantNet):
    """Broken variant: the 'normalization' forgets to normalize."""

    def normalized(self, v):
        return v


class _SquaredNorm(ScaleInvariantNet):
    """Broken variant: divides by ||v||^2 (degree -1, not 0)."""

    def normalized(self, v):
        return v / v.square().sum(dim=1, keepdim=True)


@pytest.mark.parametrize("broken", [_Unnormalized, _SquaredNorm])
def test_L5_scale_invariant_gradient_fails_when_not_invariant(broken):
    net = broken("wn", seed=3)
    found = homogeneity.scale_invariance_gaps(net, net.init(), GAMMAS)
    assert found["orthogonality_err_over_tol"] > 1.0
    assert found["gradient_scaling_err_over_tol"] > 1.0


class _WsWithoutCentering(ScaleInvariantNet):
    """Broken variant: 'WS' that forgets to subtract the mean (scale invariant, not shift invariant)."""

    def normalized(self, v):
        return v / v.std(dim=1, unbiased=False, keepdim=True)


def test_L5_scale_invariant_gradient_ws_shift_check_fails_without_centering():
    net = _WsWithoutCentering("ws", seed=4)
    found = homogeneity.scale_invariance_gaps(net, net.init(), GAMMAS)
    assert found["orthogonality_err_over_tol"] <= 1.0  # still scale invariant ...
    assert found["shift_orthogonality_err_over_tol"] > 1.0  # ... but its gradient does not sum to zero


@pytest.mark.parametrize("kind", NORMALIZERS)
def test_L5_norm_growth_recursion(kind):
    net = ScaleInvariantNet(kind, seed=5)
    found = homogeneity.sgd_norm_growth(net, net.init(scale=0.5), lr=0.3, steps=50)
    assert found["worst_err_over_tol"] <= 1.0 and found["monotone"]


def test_L5_norm_growth_recursion_fails_without_invariance():
    net = _Unnormalized("wn", seed=5)
    found = homogeneity.sgd_norm_growth(net, net.init(scale=0.5), lr=0.3, steps=20)
    assert found["worst_err_over_tol"] > 1.0


@pytest.mark.parametrize("kind", NORMALIZERS)
@given(scale=st.floats(-2, 2).map(lambda e: 10.0 ** e), lr=st.floats(-2, 1).map(lambda e: 10.0 ** e))
def test_L5_effective_lr_identity(kind, scale, lr):
    net = ScaleInvariantNet(kind, seed=6)
    found = homogeneity.normalized_update_gaps(net, net.init(scale=scale), lr)
    assert found["exact_identity_err_over_tol"] <= 1.0
    assert found["first_order_err_formula_err_over_tol"] <= 1.0


def test_L5_effective_lr_identity_fails_with_alpha_over_norm():
    # The effective LR on grad J(w_hat) is alpha/||w||^2; alpha/||w|| is the one for grad J(w).
    net = ScaleInvariantNet("wn", seed=6)
    found = homogeneity.normalized_update_gaps(net, net.init(scale=3.0), 0.5, norm_power=1)
    assert found["exact_identity_err_over_tol"] > 1.0


@given(norm_sq0=st.floats(0.1, 10.0), lr=st.floats(0.05, 2.0))
def test_L5_sqrt_decay_within_derived_bounds(norm_sq0, lr):
    found = homogeneity.constant_gradient_run(norm_sq0, lr, steps=2000)
    assert found["below_closed_form"] <= 1.0 and found["above_bound"] <= 1.0


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_L5_sqrt_decay_fails_with_wrong_k0(factor):
    k0 = 1.0 / (2 * 0.1**2)
    found = homogeneity.constant_gradient_run(1.0, 0.1, steps=2000, k0=factor * k0)
    assert max(found["below_closed_form"], found["above_bound"]) > 1.0
