"""normtheory.claims.blog_init_analogue: the decision supports on the claim's setup and FAILS to
support when the orthogonal arm is broken (both arms Gaussian), or when the control shows the same
effect. Test names carry the claim id."""

from __future__ import annotations

import math

import numpy as np

from normtheory.claims import blog_init_analogue as bi

_SMALL = {**bi.INIT_SETUP, "seeds": 4, "steps": 60}


def test_BLOG_init_convergence_one_small_step_lowers_the_loss():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((3, 3)) / 2 for _ in range(3)]
    target = rng.standard_normal((3, 3))
    lr = 1e-7
    base = bi.deep_linear_gd(ws, target, lr=lr, steps=0)
    after = bi.deep_linear_gd(ws, target, lr=lr, steps=1)
    # one tiny step lowers the loss by lr ||grad||^2 to first order
    assert after < base


def test_BLOG_init_convergence_diverged_run_counts_as_worse():
    assert bi._effect(math.inf, 1.0, 10.0) == 10.0
    assert bi._effect(1.0, math.inf, 10.0) == -10.0
    assert bi._effect(1e-3, 1e-5, 10.0) == 2.0


def test_BLOG_init_convergence_supports_on_the_claim_setup():
    assert bi.init_decision(bi.init_runs())["finding"] == "supports"


def test_BLOG_init_convergence_fails_when_both_arms_are_gaussian(monkeypatch):
    # broken: the "orthogonal" arm drawn Gaussian too (an init helper that ignores its kind)
    real = bi._init
    monkeypatch.setattr(bi, "_init", lambda kind, depth, width, seed: real("gaussian", depth, width, seed))
    assert bi.init_decision(bi.init_runs(_SMALL))["finding"] != "supports"


def test_BLOG_init_convergence_needs_the_control_to_differ():
    runs = bi.init_runs(_SMALL)
    runs["control"] = runs["deep"]  # a control showing the same effect cannot support the init's role
    assert bi.init_decision(runs)["finding"] != "supports"
