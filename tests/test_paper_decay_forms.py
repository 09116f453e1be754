"""Sec. 2, Eqs. (1)-(3), (5)-(7), (13), (27), Sec. 6.7 (normtheory.claims.paper_decay_forms): each property
and a plausible broken variant that must fail; corrected claims replay from their JSON record.
Test names carry the claim id."""

from __future__ import annotations

import copy
import functools
import json

import numpy as np
import pytest
import torch

from normtheory import regularizers as rg
from normtheory import reparam
from normtheory.claims import paper_decay_forms as pd
from normtheory.claims._roundoff import EPS64
from normtheory.registry import Verdict


class _LiteralDecay(torch.optim.Optimizer):
    """Sec. 2 read literally: every step multiplies the weights by lambda."""

    def __init__(self, params, lr, lam):
        super().__init__(params, {"lr": lr, "lam": lam})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.mul_(group["lam"]).sub_(group["lr"] * p.grad)


def test_PAPER_wd_definition_factor_is_one_minus_lr_lambda_not_lambda():
    w0 = torch.randn(3, 4, dtype=torch.float64)
    assert pd.one_step_factor(w0, lr=0.1, lam=1e-4) == pytest.approx(1 - 1e-5, abs=4 * EPS64)
    literal = pd.one_step_factor(w0, lr=0.1, lam=1e-4, make_optimizer=lambda p, lr, lam: _LiteralDecay(p, lr, lam))
    assert literal == pytest.approx(1e-4, rel=4 * EPS64)  # the reading the check must tell apart


def test_PAPER_wd_definition_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(pd.check_wd_definition().to_json()))
    assert pd.replay_wd_definition(ev) == ev["counterexample"]["reproduces"]
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lam"] = 1e-3
    assert pd.replay_wd_definition(bad)["factor_per_step"] != ev["counterexample"]["reproduces"]["factor_per_step"]


def test_PAPER_wd_l2_sgd_adam_penalty_without_one_half_fails():
    ok = pd.decay_paths(optimizer="sgd", steps=3)
    assert ok["penalty_vs_weight_decay"] <= pd._path_tol(ok)
    broken = pd.decay_paths(optimizer="sgd", steps=3, penalty=lambda w: 0.05 * w.square().sum())  # lam ||W||^2
    assert broken["penalty_vs_weight_decay"] > pd._path_tol(broken)
    adam = pd.decay_paths(optimizer="adam", steps=3)
    assert adam["multiplicative_vs_weight_decay"] > pd._path_tol(adam)


def test_PAPER_l2_term_constant_unnormalized_variants_fail():
    wn = pd.l2_of_normalized(lambda w: reparam.weight_norm(w, dim=0), cases=5)
    assert wn["grad_over_tol"] <= 1 and max(abs(v - 1) for v in wn["norm_sq"]) < 1e-13
    squared = pd.l2_of_normalized(lambda w: w / w.square().sum(dim=1, keepdim=True), cases=5)  # forgot the root
    assert squared["grad_over_tol"] > 1
    uncentered = pd.l2_of_normalized(lambda w: w / rg.slice_stats(w)["std"], cases=5)  # WS without centering
    assert uncentered["grad_over_tol"] > 1


def test_PAPER_ws_decomposition_needs_zero_mean_B_and_has_no_min_in_v():
    assert pd.ws_decomposition(cases=10)["round_trip_over_tol"] <= 1
    assert pd.ws_decomposition(cases=10, centered_b=False)["round_trip_over_tol"] > 1
    b = reparam.weight_standardization(torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    s = pd.ws_radial_slope(b, 0.3, 0.01, 0.1)
    assert s["slope"] > 0 and abs(s["slope"] - s["lam_n_v"]) <= 8 * (30 + 10) * EPS64 * s["size"]


def test_PAPER_ws_decomposition_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(pd.check_ws_decomposition().to_json()))
    assert pd.replay_ws_decomposition(ev) == ev["counterexample"]["reproduces"]
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lam"] = 0.2
    assert pd.replay_ws_decomposition(bad) != ev["counterexample"]["reproduces"]


def test_PAPER_ws_cwn_unbiased_std_fails():
    assert pd.ws_vs_cwn(cases=5) <= 1
    unbiased = lambda w: (w - w.mean(dim=1, keepdim=True)) / w.std(dim=1, keepdim=True)  # noqa: E731 torch's default
    assert pd.ws_vs_cwn(unbiased, cases=5) > 1


def test_PAPER_dynamic_decay_factor_and_broken_gradients():
    k = np.array([0.5, 1.0, 2.0, 20.0]) * 1e-3
    f = pd.dynamic_factor(k, lam=0.1, eps=1e-3)
    assert f[0] < 0 and abs(f[1]) < 1e-12 and f[3] == pytest.approx(0.95, abs=1e-12)
    plain = pd.dynamic_factor(k, lam=0.1, eps=1e-3, grad=lambda w: rg.l2_penalty_grad(w, lam=0.1))
    assert np.allclose(plain, 1.0)  # plain decay would pass the as-written test: the check can tell
    squared = pd.dynamic_factor(k, lam=0.1, eps=1e-3, grad=lambda w: 0.1 * (1 - 1e-3 / w.square().sum()) * w)
    assert np.abs(squared - (1 - 1e-3 / k)).max() > 1e-6


def test_PAPER_dynamic_decay_replays_and_tampered_record_differs():
    ev = json.loads(json.dumps(pd.check_dynamic_decay().to_json()))
    assert ev["counterexample"]["reproduces"] == pd.replay_dynamic_decay(ev)
    bad = copy.deepcopy(ev)
    bad["counterexample"]["eps"] = 2e-3
    assert pd.replay_dynamic_decay(bad) != ev["counterexample"]["reproduces"]


def test_PAPER_tiny_groups_whole_tensor_normalization_keeps_freedom():
    assert pd.normalized_dof(lambda x: reparam.weight_norm(x, dim=0), 1)["rank"] == 0
    assert pd.normalized_dof(lambda x: reparam.weight_standardization(x, dim=0), 9)["rank"] == 7
    # normalizing four one-entry groups together (dim=None: one norm for the tensor) keeps 3 of 4
    w = torch.randn(4, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.autograd.functional.jacobian(lambda x: reparam.weight_norm(x, dim=None).reshape(-1), w).reshape(4, 4)
    assert int((torch.linalg.svdvals(jac) > 1e-12).sum()) == 3
    assert pd.check_tiny_groups().verdict is Verdict.CONFIRMED


@pytest.mark.parametrize("broken", [
    # WN with eps added to the norm: no longer scale invariant, so it keeps all n degrees of freedom and
    # a one-entry group is no longer +-1
    ("weight_norm", lambda v, g=None, *, dim=0: v / (torch.linalg.vector_norm(v, dim=1, keepdim=True) + 1e-8)),
    # WS with Eq. (23)'s eps instead of Eq. (7): shift invariant only, n - 1 degrees of freedom
    ("weight_standardization", functools.partial(reparam.weight_standardization, eps=1e-5)),
], ids=["wn_plus_eps", "ws_with_eps"])
def test_PAPER_tiny_groups_check_fails_for_a_broken_normalizer(monkeypatch, broken):
    name, fn = broken
    monkeypatch.setattr(reparam, name, fn)
    assert pd.check_tiny_groups().verdict is Verdict.REFUTED
